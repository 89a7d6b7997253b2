"""Tests of the tut_urban_scenes_2018 builder over dummy_data and without its files."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from tfds_builders import file_decoding
from tfds_builders.tut_urban_scenes_2018 import tut_urban_scenes_2018_dataset_builder as tut


class TutUrbanScenesTest(tfds.testing.DatasetBuilderTestCase):
  """48 kHz stereo input: downmixed and resampled to 16 kHz int16."""
  DATASET_CLASS = tut.Builder
  SPLITS = {"train": 4, "test": 4}
  SKIP_CHECKSUMS = True


def test_stereo_48k_becomes_mono_16k(tmp_path):
  builder = tut.Builder(data_dir=str(tmp_path / "data"))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(TutUrbanScenesTest.dummy_data)))
  example = next(iter(tfds.as_numpy(builder.as_dataset(split="train"))))
  assert example["audio"].dtype == np.int16 and example["audio"].ndim == 1
  assert example["audio"].shape[0] == int(0.3 * 16000)


def test_missing_download_says_what_to_get(tmp_path):
  builder = tut.Builder(data_dir=str(tmp_path / "data"))
  config = tfds.download.DownloadConfig(manual_dir=str(tmp_path))
  with pytest.raises(file_decoding.MissingDataError, match=r"zenodo.org/records/1228142"):
    builder.download_and_prepare(download_config=config)


if __name__ == "__main__":
  tfds.testing.test_main()
