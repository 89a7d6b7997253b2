"""Tests of the musan builder over dummy_data and without its files."""

import pytest
import tensorflow_datasets as tfds

from tfds_builders import file_decoding
from tfds_builders.musan import musan_dataset_builder


class MusanTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = musan_dataset_builder.Builder
  SPLITS = {"train": 8, "test": 4}
  SKIP_CHECKSUMS = True


def test_missing_download_says_what_to_get(tmp_path):
  builder = musan_dataset_builder.Builder(data_dir=str(tmp_path / "data"))
  config = tfds.download.DownloadConfig(manual_dir=str(tmp_path))
  with pytest.raises(file_decoding.MissingDataError, match=r"openslr.org/17.*tfds build musan"):
    builder.download_and_prepare(download_config=config)


if __name__ == "__main__":
  tfds.testing.test_main()
