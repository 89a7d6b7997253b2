"""Finding a manual download's audio files and matching its metadata rows to them.

Real downloads are messier than their documentation, so every builder that
reads a manual_dir goes through this module:

* `find_files` follows symlinked folders (PANNs fetches AudioSet into
  `audios/` and users link it; `os.walk` skips links by default), visiting each
  real folder once, so a link back to an ancestor cannot loop.
* It also lists the formats soundfile cannot decode (yt-dlp's `.m4a` and
  `.webm`), so a metadata row whose only file is one of them is counted and
  named with the ffmpeg line that converts it, not silently missing.
* `Coverage` counts one source's metadata rows without a readable file and
  prints one line per kind; a source that matches no file at all stops the
  build with one line (an empty or misplaced unzip otherwise builds
  "successfully" with a whole source gone).
* `read_rows` reads CSV/TSV metadata as shipped: a UTF-8 BOM, CRLF line ends
  and quoted fields holding the delimiter are all fine.
"""

import csv
import io
import os
import sys
import typing

import tensorflow as tf

from mobile_ssl.core import audio
from mobile_ssl_tfds import file_decoding

# libsndfile >= 1.0.29 reads Ogg Opus (yt-dlp's `-x` output), whatever the extension.
READABLE = tuple(audio.EXTENSIONS) + (".opus",)
# Containers soundfile cannot open: yt-dlp's native m4a (AAC) and webm (Opus) downloads.
UNREADABLE = (".m4a", ".webm", ".mp4", ".aac", ".mka", ".mkv", ".wma")
CONVERT_HINT = ('convert them with ffmpeg first, e.g. for f in *.m4a *.webm; do ffmpeg -i "$f" '
                '"${f%.*}.flac"; done (or download with yt-dlp -x --audio-format flac)')
_SHOW_FIRST = 3


def is_readable(path) -> bool:
  """True when soundfile can decode the file's format (judged by its extension)."""
  return os.fspath(path).lower().endswith(READABLE)


def find_files(root, extensions: typing.Sequence[str] = READABLE + UNREADABLE) -> typing.List[str]:
  """Sorted '/'-separated paths, relative to `root`, of the audio files under it.

  Symlinked folders are followed; a real folder reached twice (two links to
  it, or a link to an ancestor) is searched only the first time.

  Args:
    root: the folder to search.
    extensions: lower-case file endings to keep; hidden files are skipped.
  """
  root = os.fspath(root)
  if not os.path.isdir(root):
    raise ValueError(f"{root}: not a directory")
  seen, found = set(), []
  for folder, dirs, files in os.walk(root, followlinks=True):
    stat = os.stat(folder)
    if (stat.st_dev, stat.st_ino) in seen:
      dirs[:] = []
      continue
    seen.add((stat.st_dev, stat.st_ino))
    dirs.sort()
    for name in files:
      if name.lower().endswith(tuple(extensions)) and not name.startswith("."):
        found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
  return sorted(found)


def index_files(root) -> typing.Dict[str, str]:
  """Maps file stem -> path for the audio under `root`, readable formats first."""
  root = os.fspath(root)
  index = {}
  for rel in find_files(root):
    stem = os.path.splitext(os.path.basename(rel))[0]
    path = os.path.join(root, rel)
    if stem not in index or (is_readable(path) and not is_readable(index[stem])):
      index[stem] = path
  return index


def unreadable_note(paths: typing.Sequence[str]) -> str:
  """'.m4a (first: x.m4a), which soundfile cannot read; convert them ...'."""
  kinds = sorted({os.path.splitext(p)[1].lower() for p in paths})
  return (f"{'/'.join(kinds)} (first: {os.path.basename(paths[0])}), which soundfile cannot "
          f"read; {CONVERT_HINT}")


def read_rows(path, delimiter: str = ",", skip_initial_space: bool = False) -> typing.List[list]:
  """(line number, fields) of every non-empty row of a CSV or TSV file.

  Args:
    path: the metadata file (any tf.io.gfile path).
    delimiter: "," or "\\t".
    skip_initial_space: True for ", "-separated files with quoted fields (AudioSet).
  """
  with tf.io.gfile.GFile(os.fspath(path), "rb") as f:
    text = f.read().decode("utf-8-sig")
  reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                      skipinitialspace=skip_initial_space)
  rows = []
  for fields in reader:
    if any(field.strip() for field in fields):
      rows.append((reader.line_num, [field.strip() for field in fields]))
  return rows


class Coverage:
  """Counts one source's metadata rows against the files found for them.

  Attributes:
    source: what the rows are, e.g. 'audioset/eval'.
    metadata: the metadata file's name, for messages.
    folder: where the audio was searched, for messages.
  """

  def __init__(self, source: str, metadata: str, folder):
    self.source = source
    self.metadata = metadata
    self.folder = os.fspath(folder)
    self.total = 0
    self.matched = 0
    self.missing = []
    self.unreadable = []

  def match(self, key: str, path) -> typing.Optional[str]:
    """Counts one row; returns its readable file, or None (missing or unreadable)."""
    self.total += 1
    if path is None:
      self.missing.append(key)
      return None
    if not is_readable(path):
      self.unreadable.append(os.fspath(path))
      return None
    self.matched += 1
    return os.fspath(path)

  def report(self, out=None) -> str:
    """Prints and returns one line per kind of unmatched row ('' when none)."""
    lines = []
    if self.missing:
      first = ", ".join(self.missing[:_SHOW_FIRST])
      lines.append(f"{self.source}: {len(self.missing)} of {self.total} rows of {self.metadata} "
                   f"have no audio file under {self.folder} (first: {first})")
    if self.unreadable:
      lines.append(f"{self.source}: {len(self.unreadable)} of {self.total} rows of "
                   f"{self.metadata} only have {unreadable_note(self.unreadable)}")
    text = "\n".join(lines)
    if text:
      print(text, file=out or sys.stderr, flush=True)
    return text

  def check(self, dataset: str, hint: str) -> None:
    """Raises one clear `MissingDataError` when no row has a readable file.

    Args:
      dataset: the builder's name, for the `tfds build` line.
      hint: how to lay the download out (one sentence).
    """
    if self.matched:
      return
    found = (f"; {len(self.unreadable)} only have {unreadable_note(self.unreadable)}"
             if self.unreadable else "")
    raise file_decoding.MissingDataError(
        f"{self.source}: none of the {self.total} rows of {self.metadata} has a readable "
        f"audio file under {self.folder}{found}. {hint} "
        f"Then run: tfds build {dataset} --imports mobile_ssl_tfds --manual_dir=DIR")
