"""Writes tfds_builders/audioset/dummy_data as real downloads look.

* class_labels_indices.csv: `index,mid,display_name`, quoted names with commas.
* balanced_train_segments.csv: the official form (three `#` lines, `, `-separated
  rows, quoted label lists); its audio is PANNs' `audios/balanced_train_segments/
  Y<id>.wav`, reached through the symlink `audio/balanced_train_segments`.
* eval_segments.csv: a re-shared copy (header without `#`, CRLF); its audio
  carries yt-dlp names (`Title [id].ext`): Opus, ffmpeg-converted FLAC, one
  full-video download to be cut to its segment, an `.m4a` only (unreadable,
  counted), a `.webm` next to its FLAC conversion, and one old `Y<id>_<start>_<end>`.
* unbalanced_train_segments.csv: rows without any audio (reported, no split).
Every CSV lists one segment that was never downloaded.
"""

import os

import numpy as np

from mobile_ssl_tfds.fake_data import sounds

_CLASSES = (("/m/09x0r", "Speech"), ("/m/0ytgt", "Child speech, kid speaking"),
            ("/m/04rlf", "Music"), ("/m/0jbk", "Animal"))
_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_OFFICIAL_HEADER = ["# Segments csv created Sun Mar  5 10:54:31 2017",
                    "# num_ytids={n}, num_segs={n}, num_unique_labels=4, num_positive_labels={n}",
                    "# YTID, start_seconds, end_seconds, positive_labels"]


def _ytid(rng) -> str:
  return "".join(rng.choice(list(_ID_CHARS), size=11))


def _row(ytid, start, rng) -> str:
  mids = rng.choice([mid for mid, _ in _CLASSES], size=int(rng.integers(1, 3)), replace=False)
  return f'{ytid}, {start:.3f}, {start + 10:.3f}, "{",".join(mids)}"'


def main():
  rng = np.random.default_rng(4)
  root = sounds.dummy_dir("audioset")
  sounds.write_text(os.path.join(root, "class_labels_indices.csv"),
                    ["index,mid,display_name"] +
                    [f'{i},{mid},"{name}"' for i, (mid, name) in enumerate(_CLASSES)])

  panns = os.path.join(root, "panns_dataset_root", "audios", "balanced_train_segments")
  rows = []
  for _ in range(4):
    ytid, start = _ytid(rng), float(rng.integers(0, 30))
    rows.append(_row(ytid, start, rng))
    sounds.write(os.path.join(panns, f"Y{ytid}.wav"), rng, rate=32000)
  sounds.link(os.path.join(root, "audio", "balanced_train_segments"), panns)
  rows.append(_row("zzzzzzzzzzz", 0.0, rng))  # never downloaded
  sounds.write_text(os.path.join(root, "balanced_train_segments.csv"),
                    [line.format(n=len(rows)) for line in _OFFICIAL_HEADER] + rows)

  eval_dir = os.path.join(root, "audio", "eval")
  rows = ["YTID, start_seconds, end_seconds, positive_labels"]
  for title, ext in (("Dog barking at night", "opus"), ("Street music (live)", "flac"),
                     ("Full video [HD]", "opus"), ("Some talk", "m4a"), ("Cat", "webm+flac"),
                     ("", "wav")):
    ytid = _ytid(rng)
    full_video = title.startswith("Full video")
    start = 2.0 if full_video else 30.0
    rows.append(_row(ytid, start, rng))
    for one_ext in ext.split("+"):
      name = f"{title} [{ytid}].{one_ext}" if title else f"Y{ytid}_30.000_40.000.{one_ext}"
      path = os.path.join(eval_dir, name)
      if one_ext in ("m4a", "webm"):
        sounds.write_unreadable(path)
      else:
        sounds.write(path, rng, seconds=14.0 if full_video else 0.3,
                     rate=16000 if one_ext == "opus" else 44100,
                     channels=1 if full_video else 2)
  rows.append(_row("yyyyyyyyyyy", 0.0, rng))  # never downloaded
  sounds.write_text(os.path.join(root, "eval_segments.csv"), rows, newline="\r\n")

  rows = [_row(_ytid(rng), 10.0, rng) for _ in range(2)]
  sounds.write_text(os.path.join(root, "unbalanced_train_segments.csv"),
                    [line.format(n=len(rows)) for line in _OFFICIAL_HEADER] + rows)


if __name__ == "__main__":
  main()
