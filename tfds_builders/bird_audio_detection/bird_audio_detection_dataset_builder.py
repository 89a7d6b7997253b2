"""bird_audio_detection: DCASE 2018 Bird Audio Detection, task code BSD.

The DCASE 2018 task 3 development data: freefield1010 and warblr, 10 s clips
labelled `hasbird` (0/1). Build from a local copy (manual_dir) laid out as
  <manual_dir>/ff1010bird_metadata_2018.csv
  <manual_dir>/ff1010bird_wav/wav/*.wav          (unzip ff1010bird_wav.zip -d ff1010bird_wav/)
  <manual_dir>/warblrb10k_public_metadata_2018.csv
  <manual_dir>/warblrb10k_public_wav/wav/*.wav   (unzip warblrb10k_public_wav.zip -d ...)
from https://dcase.community/challenge2018/task-bird-audio-detection. The
metadata files are shipped with CRLF line ends and the header
`itemid,datasetid,hasbird`. Both zips hold the same top-level `wav/`, hence
`-d`; a plain unzip of both into the manual_dir merges them into one `wav/`,
which is read too (the item ids of the two sources do not collide).
Symlinked folders are followed. CSV rows without a wav are counted and printed;
a source none of whose rows has a wav (e.g. an empty ff1010bird_wav/) stops the
build with one line instead of building without it.

Splits: the challenge's own evaluation sets have no public labels, so
`freefield1010` and `warblr` are offered whole (the challenge's cross-dataset
protocol: train on one, test on the other), and `train`/`test` split their union
80/20 by a hash of the item id (the paper's setting of one pooled task).
"""

import hashlib
import os

import tensorflow as tf
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds import manual_data

SOURCES = {"freefield1010": ("ff1010bird_metadata_2018.csv", "ff1010bird_wav"),
           "warblr": ("warblrb10k_public_metadata_2018.csv", "warblrb10k_public_wav")}
MERGED_FOLDER = "wav"  # where a plain `unzip` of either zip puts its files
HEADER = ("itemid", "datasetid", "hasbird")
_UNZIP = ("unzip ff1010bird_wav.zip -d ff1010bird_wav/ and unzip warblrb10k_public_wav.zip "
          "-d warblrb10k_public_wav/ (both zips hold a top-level wav/).")
_INSTRUCTIONS = ("Download ff1010bird_wav.zip, warblrb10k_public_wav.zip and their "
                 "*_metadata_2018.csv files from "
                 "https://dcase.community/challenge2018/task-bird-audio-detection into the "
                 f"manual_dir, then {_UNZIP}")


def _split(itemid: str) -> str:
  return "test" if int(hashlib.sha1(itemid.encode()).hexdigest()[:8], 16) % 5 == 0 else "train"


def read_metadata(path) -> list:
  """(itemid, hasbird) rows of a `itemid,datasetid,hasbird` CSV (CRLF or LF)."""
  rows = manual_data.read_rows(path)
  header = [name.lower() for name in rows[0][1]] if rows else []
  if "itemid" not in header or "hasbird" not in header:
    raise ValueError(f"{os.fspath(path)}: expected the header '{','.join(HEADER)}', "
                     f"got {','.join(header)!r}")
  item, label = header.index("itemid"), header.index("hasbird")
  items = []
  for line, row in rows[1:]:
    if len(row) <= max(item, label) or row[label] not in ("0", "1"):
      raise ValueError(f"{os.fspath(path)}:{line}: expected itemid,datasetid,hasbird (0/1), "
                       f"got {','.join(row)!r}")
    items.append((row[item], int(row[label])))
  return items


def _audio_folder(root, folder: str):
  """`folder` as `unzip -d` makes it, else the merged wav/ of a plain unzip."""
  for candidate in (root / folder, root / MERGED_FOLDER):
    if tf.io.gfile.isdir(os.fspath(candidate)):
      return candidate
  file_decoding.require(root / folder, "bird_audio_detection", _INSTRUCTIONS)


class Builder(tfds.core.GeneratorBasedBuilder):
  """Bird audio detection: does a 10 s clip contain a bird?"""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Audio is found through symlinked folders and in the merged wav/ of a plain "
               "unzip; a source matching no file stops the build instead of being left out.",
  }
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
      audio_dir = _audio_folder(root, folder)
      files = manual_data.index_files(audio_dir)
      coverage = manual_data.Coverage(f"{self.name}/{source}", csv_name, audio_dir)
      for itemid, hasbird in read_metadata(root / csv_name):
        path = coverage.match(itemid, files.get(itemid))
        if path:
          item = (f"{source}/{itemid}", path,
                  {"label": hasbird, "source": source, "itemid": itemid})
          rows[source].append(item)
          rows[_split(f"{source}/{itemid}")].append(item)
      coverage.report()
      coverage.check(self.name, f"Extract the audio with {_UNZIP}")
    return {split: self._generate_examples(split, items) for split, items in rows.items() if items}

  def _generate_examples(self, split, items):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(items)
