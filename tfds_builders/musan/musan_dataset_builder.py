"""musan: MUSAN speech / music / noise (Snyder et al. 2015), task code MUS.

Built from a local copy (manual_dir): download `musan.tar.gz` from
https://www.openslr.org/17/ and extract it into the manual_dir so that
`<manual_dir>/musan/{music,speech,noise}/` exist. MUSAN has no official
train/test split; files go to `train` (80 %) or `test` (20 %) by a seeded hash
of their path, stable across machines and versions.
"""

import hashlib
import os

import tensorflow_datasets as tfds

from mobile_ssl import audio
from tfds_builders import file_decoding

CLASSES = ("speech", "music", "noise")
_INSTRUCTIONS = ("Download musan.tar.gz from https://www.openslr.org/17/ and extract it "
                 "into the manual_dir so that <manual_dir>/musan/music exists.")


def _split(relpath: str) -> str:
  return "test" if int(hashlib.sha1(relpath.encode()).hexdigest()[:8], 16) % 5 == 0 else "train"


class Builder(tfds.core.GeneratorBasedBuilder):
  """MUSAN: 3-way speech / music / noise classification."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [file_decoding.FileConfig(name="default")]
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description="MUSAN corpus of music, speech and noise (task MUS).",
        features=tfds.features.FeaturesDict({
            "audio": file_decoding.audio_feature(),
            "label": tfds.features.ClassLabel(names=CLASSES),
            "filename": tfds.features.Text(),
        }),
        supervised_keys=("audio", "label"),
        homepage="https://www.openslr.org/17/",
        citation="@misc{musan2015, author={Snyder, David and Chen, Guoguo and Povey, "
                 "Daniel}, title={{MUSAN}: A Music, Speech, and Noise Corpus}, "
                 "year={2015}, eprint={1510.08484}}",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = dl_manager.manual_dir / "musan"
    for name in CLASSES:
      file_decoding.require(root / name, self.name, _INSTRUCTIONS)
    items = {"train": [], "test": []}
    for label in CLASSES:
      for rel in audio.find_files(os.fspath(root / label)):
        relpath = f"{label}/{rel}"
        items[_split(relpath)].append((relpath, os.fspath(root / relpath), label))
    return {split: self._generate_examples(split, rows) for split, rows in items.items() if rows}

  def _generate_examples(self, split, rows):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(
        (relpath, path, {"label": label, "filename": relpath}) for relpath, path, label in rows)
