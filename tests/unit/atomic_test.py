"""Tests of mobile_ssl.core.atomic: a file is its old self or complete, never half-written."""

import os

import pytest

from mobile_ssl.core import atomic


def test_write_creates_then_replaces_and_leaves_no_temporary(tmp_path):
  path = str(tmp_path / "out.txt")
  atomic.write_text(path, "first")
  atomic.write_text(path, "second, longer")
  assert open(path, encoding="utf-8").read() == "second, longer"
  atomic.write_bytes(path, b"\x00\x01")
  assert open(path, "rb").read() == b"\x00\x01"
  assert os.listdir(tmp_path) == ["out.txt"]


def test_an_error_while_writing_keeps_the_old_file(tmp_path):
  path = tmp_path / "model.tflite"
  path.write_bytes(b"old")
  with pytest.raises(RuntimeError, match="writer died"):
    with atomic.replacing(str(path)) as tmp:
      with open(tmp, "wb") as f:
        f.write(b"half")
      raise RuntimeError("writer died")
  assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.tflite"]


def test_the_temporary_is_a_hidden_sibling_with_the_suffix(tmp_path):
  path = str(tmp_path / "encoder.keras")
  with atomic.replacing(path, suffix=".keras") as tmp:
    assert os.path.dirname(tmp) == str(tmp_path)  # same file system: os.replace is atomic
    assert os.path.basename(tmp).startswith(".encoder.keras.") and tmp.endswith(".tmp.keras")
    assert not os.path.exists(tmp)  # writers that refuse existing files can write it
    open(tmp, "w").close()
  assert os.path.isfile(path)


def test_a_writer_that_writes_nothing_is_an_error_and_nothing_is_left(tmp_path):
  with pytest.raises(FileNotFoundError):
    with atomic.replacing(str(tmp_path / "x.bin")):
      pass
  assert os.listdir(tmp_path) == []


def test_missing_or_read_only_folder_is_one_clear_error(tmp_path, monkeypatch):
  with pytest.raises(ValueError, match=f"{tmp_path / 'nowhere'}: output folder does not exist"):
    atomic.write_text(str(tmp_path / "nowhere" / "x.txt"), "x")
  # Root may write anywhere, so the check itself is exercised through os.access.
  monkeypatch.setattr(atomic.os, "access", lambda path, mode: False)
  with pytest.raises(ValueError, match=f"{tmp_path}: output folder is not writable"):
    atomic.write_text(str(tmp_path / "x.txt"), "x")
  assert os.listdir(tmp_path) == []
