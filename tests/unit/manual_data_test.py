"""Tests of manual_data: symlinked folders, unreadable formats, metadata as shipped, coverage."""

import os

import pytest

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds import manual_data


def _touch(path):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as f:
    f.write(b"x")


def test_symlinked_folders_are_followed_once_and_loops_end(tmp_path):
  _touch(tmp_path / "elsewhere" / "audios" / "Ya.wav")
  _touch(tmp_path / "root" / "own" / "b.flac")
  os.symlink(tmp_path / "elsewhere" / "audios", tmp_path / "root" / "linked")
  os.symlink(tmp_path / "elsewhere" / "audios", tmp_path / "root" / "linked_again")
  os.symlink(tmp_path / "root", tmp_path / "root" / "own" / "loop")  # link to an ancestor
  assert manual_data.find_files(tmp_path / "root") == ["linked/Ya.wav", "own/b.flac"]


def test_unreadable_formats_are_listed_and_readable_ones_win(tmp_path):
  for name in ("a.m4a", "a.flac", "b.webm", "c.opus", "notes.txt", ".hidden.wav"):
    _touch(tmp_path / name)
  assert manual_data.find_files(tmp_path) == ["a.flac", "a.m4a", "b.webm", "c.opus"]
  index = manual_data.index_files(tmp_path)
  assert {stem: os.path.basename(p) for stem, p in index.items()} == {
      "a": "a.flac", "b": "b.webm", "c": "c.opus"}
  assert manual_data.is_readable(index["c"]) and not manual_data.is_readable(index["b"])


def test_rows_read_as_shipped_bom_crlf_quotes_tabs(tmp_path):
  path = tmp_path / "meta.csv"
  path.write_bytes(b'\xef\xbb\xbfindex,mid,display_name\r\n0,/m/0ytgt,"Child speech, kid"\r\n\r\n')
  assert manual_data.read_rows(path) == [
      (1, ["index", "mid", "display_name"]), (2, ["0", "/m/0ytgt", "Child speech, kid"])]
  path.write_text("audio/a-b-0-0-a.wav\tairport\n")
  assert manual_data.read_rows(path, delimiter="\t") == [(1, ["audio/a-b-0-0-a.wav", "airport"])]


def test_coverage_counts_missing_and_unreadable_rows(tmp_path, capsys):
  coverage = manual_data.Coverage("bird/warblr", "warblr.csv", tmp_path)
  assert coverage.match("1", str(tmp_path / "1.wav")) == str(tmp_path / "1.wav")
  assert coverage.match("2", None) is None
  assert coverage.match("3", str(tmp_path / "3.m4a")) is None
  coverage.report()
  err = capsys.readouterr().err
  assert "bird/warblr: 1 of 3 rows of warblr.csv have no audio file under" in err
  assert "bird/warblr: 1 of 3 rows of warblr.csv only have .m4a (first: 3.m4a)" in err
  coverage.check("bird", "hint")  # one row matched: no error


def test_a_source_matching_no_file_is_one_clear_error(tmp_path):
  coverage = manual_data.Coverage("bird/freefield1010", "ff.csv", tmp_path / "ff1010bird_wav")
  coverage.match("1", None)
  coverage.match("2", "x/2.webm")
  with pytest.raises(file_decoding.MissingDataError) as error:
    coverage.check("bird", "Unzip it with -d.")
  message = str(error.value)
  assert "\n" not in message
  assert message.startswith("bird/freefield1010: none of the 2 rows of ff.csv has a readable")
  assert "1 only have .webm" in message and "Unzip it with -d." in message
