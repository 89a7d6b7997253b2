"""Audio file decoding: any of WAV/FLAC/OGG/MP3 -> mono float32 at 16 kHz.

Decoding uses `soundfile` (its wheel bundles libsndfile 1.2, which reads WAV,
FLAC, OGG/Vorbis and MP3) instead of tensorflow-io, whose last release loads no
op with TF >= 2.18 (BUILD.md). Resampling is band-limited: a polyphase FIR with
a Kaiser window (`scipy.signal.resample_poly`), never linear interpolation.

Every failure raises `AudioError`, a `ValueError` whose message starts with the
file name, so a builder can print it as one line and go on.
"""

import math
import os
import struct
import typing

import numpy as np
import soundfile
from scipy import signal

EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3")
INT16_SCALE = 32768.0


class AudioError(ValueError):
  """A file that cannot be turned into usable audio; the message names it."""


def _wav_truncation(path: str) -> typing.Optional[str]:
  """Returns why a RIFF/WAVE file is truncated, or None if it looks whole.

  libsndfile silently shortens a WAV whose data chunk is cut off, so the
  header's declared size is checked against the bytes actually present.
  """
  size = os.path.getsize(path)
  with open(path, "rb") as f:
    header = f.read(12)
    if len(header) < 12 or header[:4] not in (b"RIFF", b"RF64") or header[8:12] != b"WAVE":
      return None  # Not RIFF: let libsndfile judge the format.
    offset = 12
    while offset + 8 <= size:
      f.seek(offset)
      chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
      if chunk_id == b"data":
        if chunk_size == 0xFFFFFFFF:  # RF64 or streamed: size unknown.
          return None
        available = size - offset - 8
        if chunk_size > available:
          return (f"truncated: the header declares {chunk_size} data bytes, "
                  f"the file holds {available}")
        return None
      offset += 8 + chunk_size + (chunk_size & 1)
    return "truncated: no complete data chunk"


def resample(waveform: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
  """Band-limited polyphase resampling along the last axis (float32)."""
  if from_hz <= 0 or to_hz <= 0:
    raise ValueError(f"sample rates must be positive, got {from_hz} -> {to_hz}")
  if from_hz == to_hz:
    return waveform.astype(np.float32, copy=False)
  g = math.gcd(int(from_hz), int(to_hz))
  up, down = int(to_hz) // g, int(from_hz) // g
  return signal.resample_poly(waveform, up, down, axis=-1).astype(np.float32)


def to_mono(waveform: np.ndarray) -> np.ndarray:
  """[samples] or [samples, channels] -> [samples], averaging channels."""
  if waveform.ndim == 1:
    return waveform
  if waveform.ndim != 2:
    raise ValueError(f"expected [samples] or [samples, channels], got {waveform.shape}")
  return waveform.mean(axis=1)


def normalize(waveform: np.ndarray) -> np.ndarray:
  """Integer PCM -> float32 in [-1, 1]; floats are clipped to [-1, 1]."""
  if np.issubdtype(waveform.dtype, np.integer):
    scale = float(np.iinfo(waveform.dtype).max) + 1.0
    return (waveform.astype(np.float64) / scale).astype(np.float32)
  return np.clip(waveform.astype(np.float32), -1.0, 1.0)


def read(path: str, sample_rate_hz: int = 16000) -> np.ndarray:
  """Decodes one file to mono float32 in [-1, 1] at `sample_rate_hz`.

  Args:
    path: a WAV, FLAC, OGG/Vorbis or MP3 file (any rate, any channels,
      int16/int32/float samples).
    sample_rate_hz: output rate.

  Returns:
    float32 array [samples].

  Raises:
    AudioError: missing, empty, corrupt or truncated file, zero samples, or
      NaN/Inf samples; the message starts with `path`.
  """
  path = os.fspath(path)
  if not os.path.exists(path):
    raise AudioError(f"{path}: no such file")
  if os.path.isdir(path):
    raise AudioError(f"{path}: is a directory, expected an audio file")
  if os.path.getsize(path) == 0:
    raise AudioError(f"{path}: empty file (0 bytes)")
  truncated = _wav_truncation(path)
  if truncated:
    raise AudioError(f"{path}: {truncated}")
  try:
    data, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
  except (soundfile.SoundFileError, RuntimeError, TypeError, ValueError) as e:
    reason = str(e).replace(f"'{path}'", "").replace("Error opening :", "").strip()
    raise AudioError(f"{path}: cannot decode audio ({reason})") from None
  if data.shape[0] == 0:
    raise AudioError(f"{path}: zero-length audio (0 samples)")
  if not np.all(np.isfinite(data)):
    bad = int(np.size(data) - np.count_nonzero(np.isfinite(data)))
    raise AudioError(f"{path}: {bad} NaN/Inf samples")
  mono = normalize(to_mono(data))
  return np.clip(resample(mono, file_rate, sample_rate_hz), -1.0, 1.0)


def to_int16(waveform: np.ndarray) -> np.ndarray:
  """float [-1, 1] -> int16 (clipped), the storage type of our TFDS builders."""
  return np.clip(np.round(waveform * INT16_SCALE), -32768, 32767).astype(np.int16)


def write(path: str, waveform: np.ndarray, sample_rate_hz: int = 16000) -> None:
  """Writes a WAV/FLAC/OGG/MP3 file, the format chosen by the extension."""
  ext = os.path.splitext(path)[1].lower()
  formats = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"),
             ".ogg": ("OGG", "VORBIS"), ".mp3": ("MP3", "MPEG_LAYER_III")}
  if ext not in formats:
    raise ValueError(f"{path}: unsupported extension {ext!r}; use one of {sorted(formats)}")
  fmt, subtype = formats[ext]
  soundfile.write(path, waveform, sample_rate_hz, format=fmt, subtype=subtype)


def find_files(root: str) -> typing.List[str]:
  """Sorted relative paths ('/'-separated) of the audio files under `root`."""
  if not os.path.isdir(root):
    raise ValueError(f"{root}: not a directory")
  found = []
  for folder, dirs, files in os.walk(root):
    dirs.sort()
    for name in files:
      if name.lower().endswith(EXTENSIONS) and not name.startswith("."):
        found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
  return sorted(found)
