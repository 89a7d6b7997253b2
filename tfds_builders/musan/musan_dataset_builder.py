"""musan: MUSAN speech / music / noise (Snyder et al. 2015), task code MUS.

Built from a local copy (manual_dir): download `musan.tar.gz` from
https://www.openslr.org/17/ and extract it into the manual_dir. It unpacks as
  <manual_dir>/musan/README
  <manual_dir>/musan/{music,speech,noise}/<subset>/*.wav
  <manual_dir>/musan/{music,speech,noise}/<subset>/{ANNOTATIONS,LICENSE}
(subsets such as music/fma, speech/librivox, noise/free-sound; speech/us-gov
has no ANNOTATIONS). Symlinked folders are followed. The label is the top
folder; ANNOTATIONS rows (`<file id> <fields...>`, space-separated) whose wav
is missing are counted and printed, and a class folder without any audio stops
the build with one line. MUSAN has no official train/test split; files go to
`train` (80 %) or `test` (20 %) by a seeded hash of their path, stable across
machines and versions.
"""

import hashlib
import os

import tensorflow as tf
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds import manual_data

CLASSES = ("speech", "music", "noise")
_INSTRUCTIONS = ("Download musan.tar.gz from https://www.openslr.org/17/ and extract it "
                 "into the manual_dir (tar xzf musan.tar.gz -C DIR) so that "
                 "<manual_dir>/musan/music/<subset>/*.wav exist.")


def _split(relpath: str) -> str:
  return "test" if int(hashlib.sha1(relpath.encode()).hexdigest()[:8], 16) % 5 == 0 else "train"


def _report_annotations(class_dir, found: dict, label: str) -> None:
  """Counts and prints the ANNOTATIONS rows of each subset that have no wav.

  Args:
    class_dir: e.g. <manual_dir>/musan/music.
    found: '<subset>/<file id>' -> path of the audio found under `class_dir`.
    label: the class, for messages.
  """
  for subset in sorted(tf.io.gfile.listdir(os.fspath(class_dir))):
    subset = subset.rstrip("/")
    annotations = class_dir / subset / "ANNOTATIONS"
    if not tf.io.gfile.exists(os.fspath(annotations)):
      continue  # speech/us-gov ships without one.
    coverage = manual_data.Coverage(f"musan/{label}/{subset}", "ANNOTATIONS", class_dir / subset)
    with tf.io.gfile.GFile(os.fspath(annotations)) as f:
      for line in f:
        if line.split():
          file_id = line.split()[0]
          coverage.match(file_id, found.get(f"{subset}/{file_id}"))
    coverage.report()


class Builder(tfds.core.GeneratorBasedBuilder):
  """MUSAN: 3-way speech / music / noise classification."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Symlinked sub-folders are followed; a class folder without audio stops the "
               "build; ANNOTATIONS rows without a wav are counted.",
  }
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
    items = {"train": [], "test": []}
    for label in CLASSES:
      file_decoding.require(root / label, self.name, _INSTRUCTIONS)
      relpaths = manual_data.find_files(root / label, manual_data.READABLE)
      if not relpaths:
        raise file_decoding.MissingDataError(
            f"{self.name}: no audio file under {root / label}. {_INSTRUCTIONS}")
      for rel in relpaths:
        relpath = f"{label}/{rel}"
        items[_split(relpath)].append((relpath, os.fspath(root / relpath), label))
      _report_annotations(root / label, {os.path.splitext(rel)[0]: os.fspath(root / label / rel)
                                         for rel in relpaths}, label)
    return {split: self._generate_examples(split, rows) for split, rows in items.items() if rows}

  def _generate_examples(self, split, rows):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(
        (relpath, path, {"label": label, "filename": relpath}) for relpath, path, label in rows)
