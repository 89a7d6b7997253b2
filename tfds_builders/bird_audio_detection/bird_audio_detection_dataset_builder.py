"""bird_audio_detection: DCASE 2018 Bird Audio Detection, task code BSD.

The DCASE 2018 task 3 development data: freefield1010 and warblr, 10 s clips
labelled `hasbird` (0/1). Build from a local copy (manual_dir) laid out as
  <manual_dir>/ff1010bird_metadata_2018.csv
  <manual_dir>/ff1010bird_wav/            (the extracted ff1010bird_wav.zip)
  <manual_dir>/warblrb10k_public_metadata_2018.csv
  <manual_dir>/warblrb10k_public_wav/     (the extracted warblrb10k_public_wav.zip)
from https://dcase.community/challenge2018/task-bird-audio-detection.

Splits: the challenge's own evaluation sets have no public labels, so
`freefield1010` and `warblr` are offered whole (the challenge's cross-dataset
protocol: train on one, test on the other), and `train`/`test` split their union
80/20 by a hash of the item id (the paper's setting of one pooled task).
"""

import csv
import hashlib

import tensorflow as tf
import tensorflow_datasets as tfds

from tfds_builders import file_decoding

SOURCES = {"freefield1010": ("ff1010bird_metadata_2018.csv", "ff1010bird_wav"),
           "warblr": ("warblrb10k_public_metadata_2018.csv", "warblrb10k_public_wav")}
_INSTRUCTIONS = ("Download ff1010bird_wav.zip, warblrb10k_public_wav.zip and their "
                 "*_metadata_2018.csv files from "
                 "https://dcase.community/challenge2018/task-bird-audio-detection, put the "
                 "CSVs in the manual_dir and extract each zip into a folder named like it "
                 "(ff1010bird_wav/, warblrb10k_public_wav/).")


def _split(itemid: str) -> str:
  return "test" if int(hashlib.sha1(itemid.encode()).hexdigest()[:8], 16) % 5 == 0 else "train"


class Builder(tfds.core.GeneratorBasedBuilder):
  """Bird audio detection: does a 10 s clip contain a bird?"""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [file_decoding.FileConfig(name="default")]
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description="DCASE 2018 bird audio detection development data (task BSD).",
        features=tfds.features.FeaturesDict({
            "audio": file_decoding.audio_feature(),
            "label": tfds.features.ClassLabel(names=("no_bird", "bird")),
            "source": tfds.features.ClassLabel(names=tuple(SOURCES)),
            "itemid": tfds.features.Text(),
        }),
        supervised_keys=("audio", "label"),
        homepage="https://dcase.community/challenge2018/task-bird-audio-detection",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = dl_manager.manual_dir
    rows = {name: [] for name in ("train", "test", *SOURCES)}
    for source, (csv_name, folder) in SOURCES.items():
      file_decoding.require(root / csv_name, self.name, _INSTRUCTIONS)
      file_decoding.require(root / folder, self.name, _INSTRUCTIONS)
      files = file_decoding.index_files(root / folder)
      with tf.io.gfile.GFile(root / csv_name) as f:
        for row in csv.DictReader(f):
          itemid = row["itemid"].strip()
          if itemid not in files:
            continue
          item = (f"{source}/{itemid}", files[itemid],
                  {"label": int(row["hasbird"]), "source": source, "itemid": itemid})
          rows[source].append(item)
          rows[_split(f"{source}/{itemid}")].append(item)
    return {split: self._generate_examples(split, items) for split, items in rows.items() if items}

  def _generate_examples(self, split, items):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(items)
