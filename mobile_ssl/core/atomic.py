"""Atomic file writes: a file is either its old self or complete, never half-written.

Everything is written to a temporary file in the destination's folder and
moved into place with `os.replace` (atomic on POSIX), so a crash or `kill -9`
leaves no partial checkpoint, encoder or .tflite behind.
"""

import contextlib
import os
import tempfile
import typing

import numpy as np


def writable_folder(path: str) -> str:
  """The folder a file at `path` would go in; ValueError unless it exists and is writable."""
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise ValueError(f"{folder}: output folder does not exist")
  if not os.access(folder, os.W_OK):
    raise ValueError(f"{folder}: output folder is not writable")
  return folder


def creatable_folder(path: str) -> None:
  """ValueError unless `path` is a writable folder or can be made one (makedirs).

  The nearest existing folder on the path must be a writable folder: a
  cache or output folder under a file fails here, before any work, not with a
  NotADirectoryError at the first write.
  """
  existing = os.path.abspath(path)
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
    raise ValueError(f"{existing} is not a writable folder")


@contextlib.contextmanager
def replacing(path: str, suffix: str = ""):
  """Yields a temporary path; on success it replaces `path`, on error it is removed.

  Args:
    path: the final file.
    suffix: extension for the temporary file (some writers check it, e.g. '.keras').

  Raises:
    ValueError: the destination folder does not exist or is not writable.
  """
  folder = writable_folder(path)
  fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp" + suffix,
                             dir=folder)
  os.close(fd)
  os.remove(tmp)  # The writer creates it; some writers refuse existing files.
  try:
    yield tmp
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_bytes(path: str, data: bytes) -> None:
  with replacing(path) as tmp:
    with open(tmp, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())


def write_text(path: str, text: str) -> None:
  write_bytes(path, text.encode("utf-8"))


def write_arrays(path: str, arrays: typing.Mapping[str, np.ndarray]) -> None:
  """Named arrays to an .npz file, atomically; its folder is made if missing.

  The one writer of the caches (window embeddings, probe fits) and checkpoints
  (federated rounds, trainable weights), so none can leave half an .npz behind.
  """
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with replacing(path, suffix=".npz") as tmp:
    np.savez(tmp, **arrays)


def read_arrays(path: str) -> typing.Dict[str, np.ndarray]:
  """All arrays of an .npz file, read into memory (the file is closed on return)."""
  with np.load(path) as data:
    return {k: data[k] for k in data.files}
