"""A seeded short sound written in any format, rate and channel count."""

import os

import numpy as np

from mobile_ssl import audio


def write(path: str, rng: np.random.Generator, seconds: float = 0.3,
          rate: int = 16000, channels: int = 1) -> None:
  """Writes a tone plus noise; the format follows the file extension."""
  t = np.arange(int(seconds * rate)) / rate
  tone = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 2000) * t)
  data = tone[:, None] + 0.05 * rng.standard_normal((len(t), channels))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  audio.write(path, data.astype(np.float32), rate)


def dummy_dir(name: str) -> str:
  """tfds_builders/<name>/dummy_data, emptied of audio from an earlier run."""
  path = os.path.join(os.path.dirname(os.path.dirname(__file__)), name, "dummy_data")
  os.makedirs(path, exist_ok=True)
  return path
