"""tut_urban_scenes_2018: TUT Urban Acoustic Scenes 2018, development set (TUT).

10 scene classes, 10 s binaural 48 kHz clips (downmixed, resampled to 16 kHz).
Build from a local copy (manual_dir): download the development set
(https://zenodo.org/records/1228142: `...development.audio.*.zip` and
`...development.meta.zip`) and extract them into the manual_dir, so that
`<manual_dir>/TUT-urban-acoustic-scenes-2018-development/{audio,evaluation_setup}`
exist. Splits are the official fold 1: `fold1_train` -> train,
`fold1_evaluate` -> test.
"""

import csv
import os

import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_builders import file_decoding

CLASSES = ("airport", "bus", "metro", "metro_station", "park", "public_square",
           "shopping_mall", "street_pedestrian", "street_traffic", "tram")
FOLDER = "TUT-urban-acoustic-scenes-2018-development"
_INSTRUCTIONS = (f"Download the development set from https://zenodo.org/records/1228142 "
                 f"(audio.*.zip and meta.zip) and extract it into the manual_dir so that "
                 f"<manual_dir>/{FOLDER}/audio exists.")


def _read_fold(path) -> list:
  """(relative audio path, scene) rows of a tab-separated fold file."""
  with tf.io.gfile.GFile(path) as f:
    rows = [r for r in csv.reader(f, delimiter="\t") if r and r[0] != "filename"]
  return [(r[0].strip(), r[1].strip()) for r in rows]


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
    folds = {"train": "fold1_train", "test": "fold1_evaluate"}
    return {split: self._generate_examples(split, root, _read_fold(self._fold_file(setup, name)))
            for split, name in folds.items()}

  def _generate_examples(self, split, root, rows):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(
        (relpath, os.fspath(root / relpath), {"label": scene, "filename": relpath})
        for relpath, scene in rows)
