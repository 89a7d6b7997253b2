"""Tests of the audio_folder builder: dummy_data, FSDD, CSV labels, bad files."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from mobile_ssl.core import audio
from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds.audio_folder import audio_folder_dataset_builder as audio_folder

FSDD_DIR = os.environ.get("FSDD_DIR", os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "fsdd", "recordings"))


class AudioFolderTest(tfds.testing.DatasetBuilderTestCase):
  """Sub-folder labels over WAV/FLAC/OGG/MP3 at 8-48 kHz, mono and stereo."""
  DATASET_CLASS = audio_folder.Builder
  SPLITS = {"train": 17, "test": 1}
  SKIP_CHECKSUMS = True


def _build(config, data_dir):
  builder = audio_folder.Builder(config=config, data_dir=data_dir)
  builder.download_and_prepare()
  return builder


def test_fsdd_folder_has_3000_clips_10_digits_6_speakers(tmp_path):
  if not os.path.isdir(FSDD_DIR):
    message = f"FSDD not found at {FSDD_DIR}; set FSDD_DIR to its recordings folder"
    if os.environ.get("CI"):  # CI lays ../shared beside its clone: missing there is a breakage
      pytest.fail(message)
    pytest.skip(message + " (a checkout without ../shared; never in CI, where this fails)")
  builder = _build(audio_folder.config_for_folder(FSDD_DIR), str(tmp_path))
  splits = {name: info.num_examples for name, info in builder.info.splits.items()}
  assert splits == {"train": 2700, "test": 300}
  assert builder.info.features["digit"].names == [str(d) for d in range(10)]
  assert len(builder.info.features["speaker"].names) == 6
  test = list(tfds.as_numpy(builder.as_dataset(split="test")))
  assert len({int(e["digit"]) for e in test}) == 10
  assert len({int(e["speaker"]) for e in test}) == 6
  # Takes 0-4 are the official test split; labels parse from the file name.
  for example in test:
    digit, speaker, take = example["filename"].decode()[:-4].split("_")
    assert int(take) < 5
    assert builder.info.features["digit"].int2str(example["digit"]) == digit
    assert builder.info.features["speaker"].int2str(example["speaker"]) == speaker
  # 8 kHz input is resampled: a 0.5 s file holds about 8000 samples at 16 kHz.
  assert all(e["audio"].dtype == np.int16 for e in test)


def _write_tone(path, seconds=0.5, rate=16000):
  t = np.arange(int(seconds * rate)) / rate
  audio.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate)


def test_csv_labels_and_splits(tmp_path):
  root = tmp_path / "clips"
  root.mkdir()
  rows = ["filename,animal,split"]
  for i in range(6):
    _write_tone(str(root / f"c{i}.wav"))
    rows.append(f"c{i}.wav,{'cat' if i % 2 else 'dog'},{'test' if i < 2 else 'train'}")
  (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
  config = audio_folder.config_for_folder(str(root), labels_csv=str(tmp_path / "labels.csv"))
  builder = _build(config, str(tmp_path / "data"))
  assert {k: v.num_examples for k, v in builder.info.splits.items()} == {"train": 4, "test": 2}
  assert builder.info.features["animal"].names == ["cat", "dog"]


def _folder_with_bad_files(root):
  for i in range(3):
    _write_tone(os.path.join(root, "good", f"g{i}.wav"))
  bad = os.path.join(root, "bad")
  os.makedirs(bad)
  open(os.path.join(bad, "empty.wav"), "wb").close()
  with open(os.path.join(bad, "corrupt.flac"), "wb") as f:
    f.write(b"not audio" * 50)
  _write_tone(os.path.join(bad, "whole.wav"), seconds=1.0)
  data = open(os.path.join(bad, "whole.wav"), "rb").read()
  with open(os.path.join(bad, "truncated.wav"), "wb") as f:
    f.write(data[: len(data) // 2])
  os.remove(os.path.join(bad, "whole.wav"))


def test_bad_files_are_skipped_counted_and_named(tmp_path, capsys):
  root = tmp_path / "mixed"
  (root / "good").mkdir(parents=True)
  _folder_with_bad_files(str(root))
  config = audio_folder.config_for_folder(str(root), split_ratios=(1.0, 0.0, 0.0))
  builder = _build(config, str(tmp_path / "data"))
  assert builder.info.splits["train"].num_examples == 3
  err = capsys.readouterr().err
  assert "skipped 3 unreadable file(s)" in err
  for name in ("empty.wav", "corrupt.flac", "truncated.wav"):
    assert name in err


def test_bad_files_stop_the_build_when_asked(tmp_path):
  root = tmp_path / "mixed"
  (root / "good").mkdir(parents=True)
  _folder_with_bad_files(str(root))
  config = audio_folder.config_for_folder(str(root), on_bad_file="raise",
                                          split_ratios=(1.0, 0.0, 0.0))
  with pytest.raises(file_decoding.BadFileError, match=r"bad/(corrupt\.flac|empty\.wav|truncated\.wav)"):
    _build(config, str(tmp_path / "data"))


def test_a_split_of_only_bad_files_is_one_clear_error(tmp_path):
  root = tmp_path / "all_bad"
  root.mkdir()
  (root / "empty.wav").write_bytes(b"")
  (root / "corrupt.wav").write_bytes(b"RIFFjunk")
  config = audio_folder.config_for_folder(str(root), split_ratios=(1.0, 0.0, 0.0))
  with pytest.raises(file_decoding.BadFileError,
                     match=r"none of the 2 file\(s\) of split 'train' is readable audio, e\.g\. "
                           r".*(empty|corrupt)\.wav"):
    _build(config, str(tmp_path / "data"))


def test_missing_or_empty_folder_is_one_clear_error(tmp_path):
  with pytest.raises(ValueError, match="audio folder not found"):
    audio_folder.config_for_folder(str(tmp_path / "nope"))
  with pytest.raises(ValueError, match="no audio files"):
    audio_folder.config_for_folder(str(tmp_path))


def test_symlinked_class_folders_are_followed_and_loops_end(tmp_path):
  (tmp_path / "elsewhere" / "owl").mkdir(parents=True)
  for i in range(2):
    _write_tone(str(tmp_path / "elsewhere" / "owl" / f"o{i}.wav"))
  root = tmp_path / "clips"
  (root / "frog").mkdir(parents=True)
  _write_tone(str(root / "frog" / "f0.wav"))
  os.symlink(tmp_path / "elsewhere" / "owl", root / "owl")
  os.symlink(root, root / "frog" / "loop")  # a link back to the root must not loop
  config = audio_folder.config_for_folder(str(root), split_ratios=(1.0, 0.0, 0.0))
  builder = _build(config, str(tmp_path / "data"))
  assert builder.info.features["label"].names == ["frog", "owl"]
  assert builder.info.splits["train"].num_examples == 3


def test_m4a_is_left_out_with_the_ffmpeg_line(tmp_path, capsys):
  _write_tone(str(tmp_path / "a.wav"))
  (tmp_path / "Title [--PJHxphWEs].m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A ")
  audio_folder.config_for_folder(str(tmp_path))
  assert "1 file(s) left out, .m4a (first: Title [--PJHxphWEs].m4a)" in capsys.readouterr().err
  (tmp_path / "a.wav").unlink()
  with pytest.raises(ValueError, match=r"no audio files .*1 file\(s\) are \.m4a.*ffmpeg -i"):
    audio_folder.config_for_folder(str(tmp_path))


def test_csv_rows_without_a_file_are_counted_bom_and_crlf_too(tmp_path, capsys):
  root = tmp_path / "clips"
  root.mkdir()
  for i in range(3):
    _write_tone(str(root / f"c{i}.wav"))
  rows = ["filename,animal"] + [f"c{i}.wav,{'cat' if i % 2 else 'dog'}" for i in range(4)]
  (tmp_path / "labels.csv").write_bytes(("\ufeff" + "\r\n".join(rows) + "\r\n").encode())
  config = audio_folder.config_for_folder(str(root), labels_csv=str(tmp_path / "labels.csv"),
                                          split_ratios=(1.0, 0.0, 0.0))
  builder = _build(config, str(tmp_path / "data"))
  assert builder.info.splits["train"].num_examples == 3
  assert "1 of 4 rows of labels.csv have no audio file under" in capsys.readouterr().err
  (tmp_path / "none.csv").write_text("filename,animal\nx.wav,cat\n")
  config = audio_folder.config_for_folder(str(root), labels_csv=str(tmp_path / "none.csv"))
  with pytest.raises(file_decoding.MissingDataError, match=r"none of the 1 rows of none.csv"):
    _build(config, str(tmp_path / "data2"))


def test_changed_folder_gets_a_new_config_name(tmp_path):
  _write_tone(str(tmp_path / "a.wav"))
  first = audio_folder.config_for_folder(str(tmp_path)).name
  _write_tone(str(tmp_path / "b.wav"))
  assert audio_folder.config_for_folder(str(tmp_path)).name != first


if __name__ == "__main__":
  tfds.testing.test_main()
