"""A seeded short sound written in any format, rate and channel count."""

import os
import shutil
import struct

import numpy as np
import soundfile

from mobile_ssl.core import audio


def write(path: str, rng: np.random.Generator, seconds: float = 0.3,
          rate: int = 16000, channels: int = 1) -> None:
  """Writes a tone plus noise; the format follows the file extension."""
  t = np.arange(int(seconds * rate)) / rate
  tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
  data = tone[:, None] + 0.05 * rng.standard_normal((len(t), channels))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  if path.endswith(".opus"):  # Ogg Opus, as yt-dlp -x writes; libsndfile needs 8-48 kHz.
    soundfile.write(path, data.astype(np.float32), rate, format="OGG", subtype="OPUS")
  else:
    audio.write(path, data.astype(np.float32), rate)
  if path.endswith((".ogg", ".opus")):
    _fix_ogg_serial(path)


def _ogg_crc(page: bytes) -> int:
  crc = 0
  for byte in page:
    crc ^= byte << 24
    for _ in range(8):
      crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
      crc &= 0xFFFFFFFF
  return crc


def _fix_ogg_serial(path: str, serial: int = 1) -> None:
  """Sets every Ogg page's stream serial (libsndfile draws it at random) and its CRC.

  Without this the seeded scripts would rewrite byte-different .ogg/.opus files
  on every run.
  """
  with open(path, "rb") as f:
    data = bytearray(f.read())
  offset = 0
  while data[offset:offset + 4] == b"OggS":
    segments = data[offset + 26]
    size = 27 + segments + sum(data[offset + 27:offset + 27 + segments])
    data[offset + 14:offset + 18] = struct.pack("<I", serial)
    data[offset + 22:offset + 26] = b"\0\0\0\0"
    data[offset + 22:offset + 26] = struct.pack("<I", _ogg_crc(data[offset:offset + size]))
    offset += size
  with open(path, "wb") as f:
    f.write(data)


def write_unreadable(path: str) -> None:
  """A stand-in for a container soundfile cannot open (yt-dlp's .m4a, .webm).

  Builders never decode these (they are recognised by extension), so the bytes
  are only a plausible header, not real AAC/Opus.
  """
  heads = {".m4a": b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00isomiso2",
           ".webm": b"\x1aE\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01webm"}
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "wb") as f:
    f.write(heads[os.path.splitext(path)[1]])


def link(path: str, target: str) -> None:
  """(Re)creates `path` as a relative symlink to the folder `target`."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  if os.path.lexists(path):
    os.remove(path)
  os.symlink(os.path.relpath(target, os.path.dirname(path)), path)


def write_text(path: str, lines, newline: str = "\n") -> None:
  """Writes lines with the given line ending (CRLF for files made on Windows)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", newline="") as f:
    f.write(newline.join(lines) + newline)


def dummy_dir(name: str) -> str:
  """tfds_builders/<name>/dummy_data, emptied of what an earlier run wrote."""
  path = os.path.join(os.path.dirname(os.path.dirname(__file__)), name, "dummy_data")
  if os.path.lexists(path):
    shutil.rmtree(path)
  os.makedirs(path)
  return path
