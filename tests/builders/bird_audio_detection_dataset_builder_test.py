"""Tests of the bird_audio_detection builder over dummy_data (real unzip layout) and without."""

import os
import shutil

import pytest
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds.bird_audio_detection import bird_audio_detection_dataset_builder as bad

DUMMY = os.path.join(os.path.dirname(bad.__file__), "dummy_data")
FF_CSV, FF_DIR = bad.SOURCES["freefield1010"]
WB_CSV, WB_DIR = bad.SOURCES["warblr"]


class BirdAudioDetectionTest(tfds.testing.DatasetBuilderTestCase):
  """CRLF metadata with the real header; each zip unpacked with -d; one missing wav each."""
  DATASET_CLASS = bad.Builder
  SPLITS = {"train": 9, "test": 1, "freefield1010": 5, "warblr": 5}
  OVERLAPPING_SPLITS = ["freefield1010", "warblr"]
  SKIP_CHECKSUMS = True


def _build(manual_dir, data_dir):
  builder = bad.Builder(data_dir=str(data_dir))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
  return builder


def _copy_csvs(manual_dir):
  for name in (FF_CSV, WB_CSV):
    shutil.copy(os.path.join(DUMMY, name), manual_dir / name)


def test_rows_without_wav_are_counted(tmp_path, capsys):
  _build(DUMMY, tmp_path / "data")
  err = capsys.readouterr().err
  assert "bird_audio_detection/freefield1010: 1 of 6 rows of ff1010bird_metadata_2018.csv" in err
  assert "bird_audio_detection/warblr: 1 of 6 rows of warblrb10k_public_metadata_2018.csv" in err


def test_an_empty_source_folder_is_one_clear_error(tmp_path):
  _copy_csvs(tmp_path)
  (tmp_path / FF_DIR).mkdir()
  os.symlink(os.path.join(DUMMY, WB_DIR), tmp_path / WB_DIR)
  with pytest.raises(file_decoding.MissingDataError,
                     match=r"freefield1010: none of the 6 rows of ff1010bird_metadata_2018.csv.*"
                           r"unzip ff1010bird_wav.zip -d ff1010bird_wav/"):
    _build(tmp_path, tmp_path / "data")


def test_symlinked_folders_and_a_plain_merged_unzip_build(tmp_path):
  _copy_csvs(tmp_path)
  # `unzip` of both zips without -d: one wav/ holding both sources, here via symlinks.
  merged = tmp_path / "wav"
  merged.mkdir()
  os.symlink(os.path.join(DUMMY, FF_DIR, "wav"), merged / "from_ff1010bird")
  os.symlink(os.path.join(DUMMY, WB_DIR, "wav"), merged / "from_warblr")
  builder = _build(tmp_path, tmp_path / "data")
  assert builder.info.splits["freefield1010"].num_examples == 5
  assert builder.info.splits["warblr"].num_examples == 5


def test_missing_download_says_what_to_get(tmp_path):
  with pytest.raises(file_decoding.MissingDataError,
                     match=r"ff1010bird_metadata_2018.csv not found"):
    _build(tmp_path, tmp_path / "data")


if __name__ == "__main__":
  tfds.testing.test_main()
