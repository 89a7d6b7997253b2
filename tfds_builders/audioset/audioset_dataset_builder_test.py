"""Tests of the audioset builder over dummy_data and without its files."""

import pytest
import tensorflow_datasets as tfds

from tfds_builders import file_decoding
from tfds_builders.audioset import audioset_dataset_builder


class AudiosetTest(tfds.testing.DatasetBuilderTestCase):
  """Y-prefixed and plain file names, FLAC and WAV, CSV rows without audio."""
  DATASET_CLASS = audioset_dataset_builder.Builder
  SPLITS = {"balanced_train": 4, "eval": 2}
  SKIP_CHECKSUMS = True


def test_missing_download_says_what_to_get(tmp_path):
  builder = audioset_dataset_builder.Builder(data_dir=str(tmp_path / "data"))
  config = tfds.download.DownloadConfig(manual_dir=str(tmp_path))
  with pytest.raises(file_decoding.MissingDataError, match=r"class_labels_indices.csv not found"):
    builder.download_and_prepare(download_config=config)


if __name__ == "__main__":
  tfds.testing.test_main()
