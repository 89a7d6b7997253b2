"""Tests of the musan builder over dummy_data (the tarball's layout) and without its files."""

import os
import shutil

import pytest
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds.musan import musan_dataset_builder

DUMMY = os.path.join(os.path.dirname(musan_dataset_builder.__file__), "dummy_data")


class MusanTest(tfds.testing.DatasetBuilderTestCase):
  """README/LICENSE/ANNOTATIONS beside the wavs, a symlinked subset."""
  DATASET_CLASS = musan_dataset_builder.Builder
  SPLITS = {"train": 8, "test": 4}
  SKIP_CHECKSUMS = True


def _build(manual_dir, data_dir):
  builder = musan_dataset_builder.Builder(data_dir=str(data_dir))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
  return builder


def test_symlinked_subset_is_read_and_annotations_without_wav_counted(tmp_path, capsys):
  builder = _build(DUMMY, tmp_path / "data")
  assert "musan/music/fma: 1 of 3 rows of ANNOTATIONS have no audio file" in capsys.readouterr().err
  names = {e["filename"].decode() for split in ("train", "test")
           for e in tfds.as_numpy(builder.as_dataset(split=split))}
  assert "noise/sound-bible/noise-sound-bible-0000.wav" in names
  assert not any(n.endswith(("ANNOTATIONS", "LICENSE", "README")) for n in names)


def test_a_class_folder_without_audio_is_one_clear_error(tmp_path):
  shutil.copytree(os.path.join(DUMMY, "musan"), tmp_path / "musan", symlinks=False)
  shutil.rmtree(tmp_path / "musan" / "noise")
  (tmp_path / "musan" / "noise").mkdir()
  with pytest.raises(file_decoding.MissingDataError, match=r"musan: no audio file under .*noise"):
    _build(tmp_path, tmp_path / "data")


def test_missing_download_says_what_to_get(tmp_path):
  with pytest.raises(file_decoding.MissingDataError, match=r"openslr.org/17.*tfds build musan"):
    _build(tmp_path, tmp_path / "data")


if __name__ == "__main__":
  tfds.testing.test_main()
