"""tut_urban_scenes_2018: TUT Urban Acoustic Scenes 2018, development set (TUT).

10 scene classes, 10 s binaural 48 kHz clips (downmixed, resampled to 16 kHz).
Build from a local copy (manual_dir): download the development set
(https://zenodo.org/records/1228142: every `...development.audio.N.zip` and
`...development.meta.zip`) and unzip them all in the manual_dir, so that
  <manual_dir>/TUT-urban-acoustic-scenes-2018-development/
    audio/airport-barcelona-0-0-a.wav ...
    meta.csv                       filename<TAB>scene_label<TAB>identifier<TAB>source_label
    evaluation_setup/fold1_train.txt, fold1_evaluate.txt   audio/...wav<TAB>scene
Splits are the official fold 1: `fold1_train` -> train, `fold1_evaluate` ->
test. Fold files are read as documented (tab-separated, no header; a
`filename` header line or the `.csv` name of later TAU releases is accepted
too); a fold row without a label takes it from meta.csv. Fold rows whose wav
is missing (an audio zip not extracted) are counted and printed; a fold that
matches no wav stops the build with one line.
"""

import os

import tensorflow as tf
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds import manual_data

CLASSES = ("airport", "bus", "metro", "metro_station", "park", "public_square",
           "shopping_mall", "street_pedestrian", "street_traffic", "tram")
FOLDER = "TUT-urban-acoustic-scenes-2018-development"
FOLDS = {"train": "fold1_train", "test": "fold1_evaluate"}
META_HEADER = ("filename", "scene_label", "identifier", "source_label")
_INSTRUCTIONS = (f"Download the development set from https://zenodo.org/records/1228142 "
                 f"(all audio.*.zip and meta.zip) and unzip them in the manual_dir so that "
                 f"<manual_dir>/{FOLDER}/audio exists.")


def read_meta(path) -> dict:
  """filename -> scene of meta.csv (tab-separated, header `filename<TAB>scene_label...`)."""
  if not tf.io.gfile.exists(os.fspath(path)):
    return {}
  return {row[0]: row[1] for _, row in manual_data.read_rows(path, delimiter="\t")
          if len(row) >= 2 and row[0] != "filename"}


def read_fold(path, meta: dict) -> list:
  """(relative audio path, scene) rows of a tab-separated fold file.

  Args:
    path: e.g. evaluation_setup/fold1_train.txt.
    meta: filename -> scene from meta.csv, for rows without a label.
  """
  rows = []
  for line, row in manual_data.read_rows(path, delimiter="\t"):
    if row[0] == "filename":
      continue
    scene = row[1] if len(row) > 1 else meta.get(row[0], "")
    if scene not in CLASSES:
      raise ValueError(f"{os.fspath(path)}:{line}: expected 'audio/<name>.wav<TAB><scene>' "
                       f"with a scene of {', '.join(CLASSES)}, got {chr(9).join(row)!r}")
    rows.append((row[0], scene))
  return rows


class Builder(tfds.core.GeneratorBasedBuilder):
  """TUT Urban Acoustic Scenes 2018 (development), official fold 1."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [file_decoding.FileConfig(name="default")]
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description="TUT Urban Acoustic Scenes 2018 development set (task TUT).",
        features=tfds.features.FeaturesDict({
            "audio": file_decoding.audio_feature(),
            "label": tfds.features.ClassLabel(names=CLASSES),
            "filename": tfds.features.Text(),
        }),
        supervised_keys=("audio", "label"),
        homepage="https://zenodo.org/records/1228142",
    )

  def _fold_file(self, setup, name: str):
    for ext in (".txt", ".csv"):
      if tf.io.gfile.exists(os.fspath(setup / (name + ext))):
        return setup / (name + ext)
    file_decoding.require(setup / (name + ".txt"), self.name, _INSTRUCTIONS)

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = dl_manager.manual_dir / FOLDER
    file_decoding.require(root / "audio", self.name, _INSTRUCTIONS)
    setup = root / "evaluation_setup"
    file_decoding.require(setup, self.name, _INSTRUCTIONS)
    meta = read_meta(root / "meta.csv")
    splits = {}
    for split, name in FOLDS.items():
      fold = self._fold_file(setup, name)
      coverage = manual_data.Coverage(f"{self.name}/{split}", fold.name, root)
      rows = []
      for relpath, scene in read_fold(fold, meta):
        on_disk = os.fspath(root / relpath)
        path = coverage.match(relpath, on_disk if tf.io.gfile.exists(on_disk) else None)
        if path:
          rows.append((relpath, path, {"label": scene, "filename": relpath}))
      coverage.report()
      coverage.check(self.name, _INSTRUCTIONS)
      splits[split] = self._generate_examples(split, rows)
    return splits

  def _generate_examples(self, split, rows):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(rows)
