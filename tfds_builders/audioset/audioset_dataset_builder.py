"""audioset: AudioSet segments from locally downloaded audio (pretraining data).

AudioSet is distributed as YouTube ids, so the audio must be fetched by the
user (e.g. with yt-dlp) beforehand. Build from a manual_dir holding the
official CSVs from https://research.google.com/audioset/download.html
  <manual_dir>/class_labels_indices.csv
  <manual_dir>/balanced_train_segments.csv, eval_segments.csv,
  <manual_dir>/unbalanced_train_segments.csv (optional)
and the audio under `<manual_dir>/audio/` (any sub-folders, any of WAV/FLAC/
OGG/MP3), one file per segment whose name starts with the 11-character
YouTube id, optionally prefixed by `Y` (`Y--PJHxphWEs_30.000_40.000.wav` and
`--PJHxphWEs_30.wav` both work). Splits follow the CSVs: balanced_train,
unbalanced_train, eval. Labels are kept (`labels`, multi-label) but pretext
tasks ignore them. Segments without a file are counted and reported.
"""

import csv
import io
import sys

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_builders import file_decoding

SPLIT_CSVS = {"balanced_train": "balanced_train_segments.csv",
              "unbalanced_train": "unbalanced_train_segments.csv",
              "eval": "eval_segments.csv"}
_INSTRUCTIONS = ("Put class_labels_indices.csv and the *_segments.csv files from "
                 "https://research.google.com/audioset/download.html in the manual_dir, and "
                 "the downloaded segment audio under <manual_dir>/audio/, one file per "
                 "segment named after its YouTube id.")
_YTID_LENGTH = 11


def _segments(path):
  """(ytid, start_seconds, [mid, ...]) rows of an AudioSet segment CSV."""
  with tf.io.gfile.GFile(path) as f:
    lines = [line for line in f if line.strip() and not line.startswith("#")]
  rows = csv.reader(io.StringIO("".join(lines)), skipinitialspace=True)
  return [(r[0], float(r[1]), [m.strip() for m in r[3].split(",")]) for r in rows if len(r) >= 4]


def _match(files: dict, ytids: set) -> dict:
  """Maps ytid -> path for files whose stem starts with the id (or Y + id)."""
  found = {}
  for stem, path in files.items():
    for candidate in (stem[:_YTID_LENGTH], stem[1:_YTID_LENGTH + 1] if stem[:1] == "Y" else None):
      if candidate in ytids:
        found.setdefault(candidate, path)
        break
  return found


class Builder(tfds.core.GeneratorBasedBuilder):
  """AudioSet segments from local audio files and the official CSVs."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
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
    with tf.io.gfile.GFile(root / "class_labels_indices.csv") as f:
      mids = [row["mid"] for row in csv.DictReader(f)]
    self.info.features["labels"].feature.names = mids
    files = file_decoding.index_files(root / "audio")
    splits = {}
    for split, name in SPLIT_CSVS.items():
      if tf.io.gfile.exists(root / name):
        segments = _segments(root / name)
        found = _match(files, {s[0] for s in segments})
        missing = len(segments) - len(found)
        if missing:
          print(f"audioset/{split}: {missing} of {len(segments)} segments have no audio "
                f"file under {root / 'audio'}", file=sys.stderr)
        rows = [(ytid, found[ytid], {"labels": [m for m in labels if m in mids],
                                     "ytid": ytid, "start_seconds": start})
                for ytid, start, labels in segments if ytid in found]
        if rows:
          splits[split] = self._generate_examples(split, rows)
    if not splits:
      raise file_decoding.MissingDataError(
          f"{self.name}: no segment of the *_segments.csv files has an audio file under "
          f"{root / 'audio'}. {_INSTRUCTIONS}")
    return splits

  def _generate_examples(self, split, rows):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(rows)
