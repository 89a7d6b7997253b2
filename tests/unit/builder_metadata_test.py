"""Tests of the TFDS builders' metadata readers on their dummy_data files (no dataset is built).

The builds themselves (dummy_data through download_and_prepare, missing downloads)
are in tests/builders/.
"""

import os

import numpy as np
import pytest

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds.audioset import audioset_dataset_builder as audioset
from mobile_ssl_tfds.bird_audio_detection import bird_audio_detection_dataset_builder as bad
from mobile_ssl_tfds.tut_urban_scenes_2018 import tut_urban_scenes_2018_dataset_builder as tut

AUDIOSET_DUMMY = os.path.join(os.path.dirname(audioset.__file__), "dummy_data")
BIRD_DUMMY = os.path.join(os.path.dirname(bad.__file__), "dummy_data")
FF_CSV, _ = bad.SOURCES["freefield1010"]
WB_CSV, _ = bad.SOURCES["warblr"]
TUT_DUMMY = os.path.join(os.path.dirname(tut.__file__), "dummy_data", tut.FOLDER)


def test_audioset_both_csv_header_variants_parse():
  official = audioset.read_segments(os.path.join(AUDIOSET_DUMMY, "balanced_train_segments.csv"))
  reshared = audioset.read_segments(os.path.join(AUDIOSET_DUMMY, "eval_segments.csv"))
  assert len(official) == 5 and len(reshared) == 7
  ytid, start, end, labels = reshared[0]
  assert len(ytid) == 11 and end - start == 10.0 and all(m.startswith("/m/") for m in labels)


def test_audioset_class_names_with_commas_keep_their_mids():
  mids = audioset.read_mids(os.path.join(AUDIOSET_DUMMY, "class_labels_indices.csv"))
  assert mids == ["/m/09x0r", "/m/0ytgt", "/m/04rlf", "/m/0jbk"]


def test_audioset_a_bad_row_names_the_file_and_line(tmp_path):
  path = tmp_path / "eval_segments.csv"
  path.write_text("YTID, start_seconds, end_seconds, positive_labels\nabc, x, 10, \"/m/0\"\n")
  with pytest.raises(ValueError, match=r"eval_segments.csv:2: expected 'YTID, start_seconds"):
    audioset.read_segments(path)


def test_audioset_ytdlp_panns_and_old_names_are_recognised():
  ytids = {"--PJHxphWEs"}
  for name in ("Some title [--PJHxphWEs].m4a", "Y--PJHxphWEs.wav",
               "--PJHxphWEs_30.000_40.000.flac", "Live [HD] [--PJHxphWEs].opus"):
    assert audioset.match_files("/a", [name], ytids) == {"--PJHxphWEs": f"/a/{name}"}
  found = audioset.match_files("/a", ["x [--PJHxphWEs].webm", "x [--PJHxphWEs].flac"], ytids)
  assert found["--PJHxphWEs"].endswith(".flac")


def test_audioset_full_video_is_cut_to_its_segment_and_a_segment_kept():
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


def test_bird_audio_detection_crlf_metadata_reads_as_shipped():
  with open(os.path.join(BIRD_DUMMY, FF_CSV), "rb") as f:
    assert f.readline() == b"itemid,datasetid,hasbird\r\n"
  rows = bad.read_metadata(os.path.join(BIRD_DUMMY, WB_CSV))
  assert len(rows) == 6 and all(label in (0, 1) and "\r" not in i for i, label in rows)


def test_tut_documented_fold_and_meta_formats_read():
  meta = tut.read_meta(os.path.join(TUT_DUMMY, "meta.csv"))
  assert len(meta) == 8 and meta["audio/bus-helsinki-0-48-a.wav"] == "bus"
  train = tut.read_fold(os.path.join(TUT_DUMMY, "evaluation_setup", "fold1_train.txt"), meta)
  assert train[0] == ("audio/airport-barcelona-0-324-a.wav", "airport") and len(train) == 5
  # fold1_test.txt lists names only: the scene comes from meta.csv.
  test = tut.read_fold(os.path.join(TUT_DUMMY, "evaluation_setup", "fold1_test.txt"), meta)
  assert test == tut.read_fold(os.path.join(TUT_DUMMY, "evaluation_setup", "fold1_evaluate.txt"), {})


def test_tut_an_unknown_scene_names_the_file_and_line(tmp_path):
  (tmp_path / "fold1_train.txt").write_text("audio/a.wav\tairport\naudio/b.wav\tbeach\n")
  with pytest.raises(ValueError,
                     match=r"fold1_train.txt:2: expected 'audio/<name>.wav<TAB><scene>'"):
    tut.read_fold(tmp_path / "fold1_train.txt", {})
