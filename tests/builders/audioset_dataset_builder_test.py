"""Tests of the audioset builder over dummy_data (laid out as real downloads) and without it."""

import os
import shutil

import numpy as np
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


def test_both_csv_header_variants_parse():
  official = audioset.read_segments(os.path.join(DUMMY, "balanced_train_segments.csv"))
  reshared = audioset.read_segments(os.path.join(DUMMY, "eval_segments.csv"))
  assert len(official) == 5 and len(reshared) == 7
  ytid, start, end, labels = reshared[0]
  assert len(ytid) == 11 and end - start == 10.0 and all(m.startswith("/m/") for m in labels)


def test_class_names_with_commas_keep_their_mids():
  mids = audioset.read_mids(os.path.join(DUMMY, "class_labels_indices.csv"))
  assert mids == ["/m/09x0r", "/m/0ytgt", "/m/04rlf", "/m/0jbk"]


def test_a_bad_row_names_the_file_and_line(tmp_path):
  path = tmp_path / "eval_segments.csv"
  path.write_text("YTID, start_seconds, end_seconds, positive_labels\nabc, x, 10, \"/m/0\"\n")
  with pytest.raises(ValueError, match=r"eval_segments.csv:2: expected 'YTID, start_seconds"):
    audioset.read_segments(path)


def test_ytdlp_panns_and_old_names_are_recognised():
  ytids = {"--PJHxphWEs"}
  for name in ("Some title [--PJHxphWEs].m4a", "Y--PJHxphWEs.wav",
               "--PJHxphWEs_30.000_40.000.flac", "Live [HD] [--PJHxphWEs].opus"):
    assert audioset.match_files("/a", [name], ytids) == {"--PJHxphWEs": f"/a/{name}"}
  found = audioset.match_files("/a", ["x [--PJHxphWEs].webm", "x [--PJHxphWEs].flac"], ytids)
  assert found["--PJHxphWEs"].endswith(".flac")


def test_full_video_is_cut_to_its_segment_and_a_segment_kept():
  rate = file_decoding.SAMPLE_RATE_HZ
  video = np.zeros(60 * rate, np.int16)
  video[30 * rate:40 * rate] = 1
  segment = audioset.cut_segment(video, 30.0, 40.0)
  assert len(segment) == 10 * rate and segment.min() == 1
  already_cut = np.ones(10 * rate + 300, np.int16)
  assert audioset.cut_segment(already_cut, 30.0, 40.0) is already_cut
  # A segment download with slack at the keyframes (12 s, ends before 40 s) is kept.
  slack = np.ones(12 * rate, np.int16)
  assert audioset.cut_segment(slack, 30.0, 40.0) is slack


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
