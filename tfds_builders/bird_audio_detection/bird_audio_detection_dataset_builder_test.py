"""Tests of the bird_audio_detection builder over dummy_data and without its files."""

import pytest
import tensorflow_datasets as tfds

from tfds_builders import file_decoding
from tfds_builders.bird_audio_detection import bird_audio_detection_dataset_builder as bad


class BirdAudioDetectionTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = bad.Builder
  SPLITS = {"train": 9, "test": 1, "freefield1010": 5, "warblr": 5}
  OVERLAPPING_SPLITS = ["freefield1010", "warblr"]
  SKIP_CHECKSUMS = True


def test_missing_download_says_what_to_get(tmp_path):
  builder = bad.Builder(data_dir=str(tmp_path / "data"))
  config = tfds.download.DownloadConfig(manual_dir=str(tmp_path))
  with pytest.raises(file_decoding.MissingDataError, match=r"ff1010bird_metadata_2018.csv not found"):
    builder.download_and_prepare(download_config=config)


if __name__ == "__main__":
  tfds.testing.test_main()
