"""Tests of the tut_urban_scenes_2018 builder over dummy_data (documented layout) and without."""

import os
import shutil

import numpy as np
import pytest
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds.tut_urban_scenes_2018 import tut_urban_scenes_2018_dataset_builder as tut


DUMMY = os.path.join(os.path.dirname(tut.__file__), "dummy_data", tut.FOLDER)


class TutUrbanScenesTest(tfds.testing.DatasetBuilderTestCase):
  """48 kHz stereo input, tab-separated header-less folds, one fold row without its wav."""
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


def test_fold_rows_without_wav_are_counted(tmp_path, capsys):
  builder = tut.Builder(data_dir=str(tmp_path / "data"))
  builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
      manual_dir=str(TutUrbanScenesTest.dummy_data)))
  assert ("tut_urban_scenes_2018/train: 1 of 5 rows of fold1_train.txt have no audio file "
          "under") in capsys.readouterr().err


def test_a_fold_matching_no_wav_is_one_clear_error(tmp_path):
  root = tmp_path / tut.FOLDER
  shutil.copytree(os.path.join(DUMMY, "evaluation_setup"), root / "evaluation_setup")
  (root / "audio").mkdir()
  builder = tut.Builder(data_dir=str(tmp_path / "data"))
  with pytest.raises(file_decoding.MissingDataError,
                     match=r"tut_urban_scenes_2018/train: none of the 5 rows of fold1_train.txt"):
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path)))


def test_missing_download_says_what_to_get(tmp_path):
  builder = tut.Builder(data_dir=str(tmp_path / "data"))
  config = tfds.download.DownloadConfig(manual_dir=str(tmp_path))
  with pytest.raises(file_decoding.MissingDataError, match=r"zenodo.org/records/1228142"):
    builder.download_and_prepare(download_config=config)


if __name__ == "__main__":
  tfds.testing.test_main()
