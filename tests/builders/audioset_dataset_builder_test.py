"""Tests of the audioset builder over dummy_data (laid out as real downloads) and without it."""

import os
import shutil

import pytest
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds.audioset import audioset_dataset_builder as audioset

DUMMY = os.path.join(os.path.dirname(audioset.__file__), "dummy_data")


class AudiosetTest(tfds.testing.DatasetBuilderTestCase):
  """Official and '#'-less CSV headers, a symlinked PANNs folder, yt-dlp names."""
  DATASET_CLASS = audioset.Builder
  SPLITS = {"balanced_train": 4, "eval": 5}
  SKIP_CHECKSUMS = True


def _build(manual_dir, data_dir):
  builder = audioset.Builder(data_dir=str(data_dir))
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir)))
  return builder


def test_dummy_data_builds_with_counts_and_cut_video(tmp_path, capsys):
  builder = _build(DUMMY, tmp_path / "data")
  err = capsys.readouterr().err
  assert "audioset/balanced_train: 1 of 5 rows of balanced_train_segments.csv have no audio" in err
  assert "audioset/eval: 1 of 7 rows of eval_segments.csv have no audio" in err
  assert ("audioset/eval: 1 of 7 rows of eval_segments.csv only have .m4a (first: Some talk "
          "[K60-DkMfMtz].m4a), which soundfile cannot read") in err and "ffmpeg -i" in err
  assert "audioset/unbalanced_train: 2 of 2 rows" in err
  lengths = {e["ytid"].decode(): len(e["audio"])
             for e in tfds.as_numpy(builder.as_dataset(split="eval"))}
  assert lengths.pop("2RN0tY5Cmco") == 10 * file_decoding.SAMPLE_RATE_HZ
  assert set(lengths.values()) == {int(0.3 * file_decoding.SAMPLE_RATE_HZ)}


def test_a_split_csv_matching_no_file_is_one_clear_error(tmp_path):
  for name in ("class_labels_indices.csv", "eval_segments.csv"):
    shutil.copy(os.path.join(DUMMY, name), tmp_path / name)
  (tmp_path / "audio").mkdir()
  with pytest.raises(file_decoding.MissingDataError,
                     match=r"audioset/eval: none of the 7 rows of eval_segments.csv has a "
                           r"readable audio file.*remove eval_segments.csv"):
    _build(tmp_path, tmp_path / "data")


def test_missing_download_says_what_to_get(tmp_path):
  with pytest.raises(file_decoding.MissingDataError, match=r"class_labels_indices.csv not found"):
    _build(tmp_path, tmp_path / "data")


if __name__ == "__main__":
  tfds.testing.test_main()
