"""audioset: AudioSet segments from locally downloaded audio (pretraining data).

AudioSet is distributed as YouTube ids, so the audio must be fetched by the
user (e.g. with yt-dlp) beforehand. Build from a manual_dir holding the
official CSVs from https://research.google.com/audioset/download.html
  <manual_dir>/class_labels_indices.csv   (`index,mid,display_name`)
  <manual_dir>/balanced_train_segments.csv, eval_segments.csv,
  <manual_dir>/unbalanced_train_segments.csv (optional)
and the audio under `<manual_dir>/audio/` (any sub-folders, symlinks followed,
so `ln -s /path/to/panns/audios audio` works). A file belongs to a segment when
its name holds the 11-character YouTube id: yt-dlp's default `Title [YTID].ext`,
or a name starting with the id, optionally after `Y` (PANNs' `Y--PJHxphWEs.wav`,
`--PJHxphWEs_30.000_40.000.flac`). WAV/FLAC/OGG/MP3/Opus decode; yt-dlp's
native `.m4a`/`.webm` do not (soundfile), so segments with only those are
counted and named with the ffmpeg line that converts them.

The segment CSVs are parsed as shipped (three `#` comment lines, then
`YTID, start_seconds, end_seconds, "mid,mid"`) and as commonly re-shared (the
header line without `#`). A file clearly longer than its segment that reaches
end_seconds is a full-video download and is cut to [start_seconds,
end_seconds]; a file of about the segment's length is kept as it is.

Splits follow the CSVs: balanced_train, unbalanced_train, eval. Labels are kept
(`labels`, multi-label) but pretext tasks ignore them. Rows without audio are
counted and printed; a balanced_train or eval CSV that matches no file stops
the build (remove that CSV to build without the split), an unbalanced one that
matches none is only reported, as few download its 2M segments.
"""

import os
import re

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds import manual_data

SPLIT_CSVS = {"balanced_train": "balanced_train_segments.csv",
              "unbalanced_train": "unbalanced_train_segments.csv",
              "eval": "eval_segments.csv"}
OPTIONAL_SPLITS = ("unbalanced_train",)
_INSTRUCTIONS = ("Put class_labels_indices.csv and the *_segments.csv files from "
                 "https://research.google.com/audioset/download.html in the manual_dir, and "
                 "the downloaded segment audio under <manual_dir>/audio/ (symlinks are "
                 "followed), each file named after its YouTube id (yt-dlp's 'Title [YTID].ext' "
                 "works).")
_HEADER = ("YTID", "start_seconds", "end_seconds", "positive_labels")
_YTID_LENGTH = 11
_BRACKETED_YTID = re.compile(r"\[([A-Za-z0-9_-]{11})\]")
# A download this much longer than its segment is a whole video, not a cut segment.
_FULL_VIDEO_MARGIN_SECONDS = 1.0


def read_segments(path) -> list:
  """(ytid, start_seconds, end_seconds, [mid, ...]) rows of a segment CSV.

  Accepts the official `# YTID, ...` header and the re-shared `YTID, ...` one.
  """
  segments = []
  for line, row in manual_data.read_rows(path, skip_initial_space=True):
    if row[0].startswith("#") or row[0].upper() == "YTID":
      continue
    try:
      if len(row) < 4:
        raise ValueError
      segments.append((row[0], float(row[1]), float(row[2]),
                       [mid.strip() for mid in row[3].split(",") if mid.strip()]))
    except ValueError:
      raise ValueError(f"{os.fspath(path)}:{line}: expected '{', '.join(_HEADER)}' with a "
                       f"quoted label list, got {', '.join(row)!r}") from None
  return segments


def read_mids(path) -> list:
  """The class MIDs of class_labels_indices.csv (`index,mid,display_name`), by index."""
  rows = [row for _, row in manual_data.read_rows(path) if row[0].lower() != "index"]
  try:
    return [mid for _, mid in sorted((int(row[0]), row[1]) for row in rows)]
  except (ValueError, IndexError):
    raise ValueError(f"{os.fspath(path)}: expected 'index,mid,display_name' rows") from None


def ytid_candidates(stem: str) -> list:
  """The YouTube ids a file stem may name, most specific first."""
  candidates = _BRACKETED_YTID.findall(stem)[-1:]  # yt-dlp: 'Title [YTID]'
  if stem.startswith("Y"):
    candidates.append(stem[1:_YTID_LENGTH + 1])  # 'Y' + id, as in PANNs and the paper
  candidates.append(stem[:_YTID_LENGTH])
  return candidates


def match_files(root, relpaths, ytids: set) -> dict:
  """Maps ytid -> path, preferring a format soundfile reads over one it cannot."""
  found = {}
  for rel in relpaths:
    stem = os.path.splitext(os.path.basename(rel))[0]
    for ytid in ytid_candidates(stem):
      if ytid in ytids:
        path = os.path.join(os.fspath(root), rel)
        if ytid not in found or (manual_data.is_readable(path)
                                 and not manual_data.is_readable(found[ytid])):
          found[ytid] = path
        break
  return found


def cut_segment(waveform: np.ndarray, start_seconds: float, end_seconds: float,
                sample_rate_hz: int = file_decoding.SAMPLE_RATE_HZ) -> np.ndarray:
  """[start_seconds, end_seconds] of a full-video download; a segment file as it is."""
  duration = len(waveform) / sample_rate_hz
  segment = end_seconds - start_seconds
  if (duration <= segment + _FULL_VIDEO_MARGIN_SECONDS
      or duration < end_seconds - _FULL_VIDEO_MARGIN_SECONDS):
    return waveform  # Already the segment (or a cut with slack at the keyframes).
  return waveform[int(round(start_seconds * sample_rate_hz)):
                  int(round(end_seconds * sample_rate_hz))]


class Builder(tfds.core.GeneratorBasedBuilder):
  """AudioSet segments from local audio files and the official CSVs."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Full-video downloads are cut to [start_seconds, end_seconds]; audio is "
               "found in symlinked folders, in yt-dlp names ('Title [YTID].ext') and "
               "as .opus.",
  }
  BUILDER_CONFIGS = [file_decoding.FileConfig(name="default")]
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description="AudioSet 10 s segments (pretraining; labels unused by pretext tasks).",
        features=tfds.features.FeaturesDict({
            "audio": file_decoding.audio_feature(),
            # Names (the 527 MIDs) come from class_labels_indices.csv at build time.
            "labels": tfds.features.Sequence(tfds.features.ClassLabel()),
            "ytid": tfds.features.Text(),
            "start_seconds": np.float32,
        }),
        homepage="https://research.google.com/audioset/",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = dl_manager.manual_dir
    file_decoding.require(root / "class_labels_indices.csv", self.name, _INSTRUCTIONS)
    file_decoding.require(root / "audio", self.name, _INSTRUCTIONS)
    mids = read_mids(root / "class_labels_indices.csv")
    self.info.features["labels"].feature.names = mids
    known = set(mids)
    relpaths = manual_data.find_files(root / "audio")
    splits = {}
    for split, name in SPLIT_CSVS.items():
      if not tf.io.gfile.exists(os.fspath(root / name)):
        continue
      segments = read_segments(root / name)
      found = match_files(root / "audio", relpaths, {s[0] for s in segments})
      coverage = manual_data.Coverage(f"{self.name}/{split}", name, root / "audio")
      rows, bounds = [], {}
      for ytid, start, end, labels in segments:
        path = coverage.match(ytid, found.get(ytid))
        if path:
          bounds[ytid] = (start, end)
          rows.append((ytid, path, {"labels": [m for m in labels if m in known],
                                    "ytid": ytid, "start_seconds": start}))
      coverage.report()
      if split not in OPTIONAL_SPLITS:
        coverage.check(self.name, f"{_INSTRUCTIONS} To build without split '{split}', "
                                  f"remove {name} from the manual_dir.")
      if rows:
        splits[split] = self._generate_examples(split, rows, bounds)
    if not splits:
      raise file_decoding.MissingDataError(
          f"{self.name}: no *_segments.csv file in the manual_dir {root}. {_INSTRUCTIONS}")
    return splits

  def _generate_examples(self, split, rows, bounds):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(rows, crop=lambda ytid, w: cut_segment(w, *bounds[ytid]))
