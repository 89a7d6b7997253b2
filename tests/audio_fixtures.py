"""Generated test audio: zeros, seeded noise, sines, chirps, written to any format; their log-mels."""

import numpy as np

from mobile_ssl.core import audio
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes

RATE = 16000


def sine(seconds=1.0, freq_hz=440.0, rate=RATE, amplitude=0.5):
  t = np.arange(int(seconds * rate)) / rate
  return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def noise(seconds=1.0, seed=0, rate=RATE, amplitude=0.1):
  rng = np.random.default_rng(seed)
  return (amplitude * rng.standard_normal(int(seconds * rate))).astype(np.float32)


def chirp(seconds=1.0, f0=200.0, f1=4000.0, rate=RATE):
  t = np.arange(int(seconds * rate)) / rate
  phase = 2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * seconds))
  return (0.5 * np.sin(phase)).astype(np.float32)


def write(path, waveform, rate=RATE):
  audio.write(str(path), waveform, rate)
  return str(path)


def log_mels(count=6):
  """Log-mels [count, 96, 64, 1] of generated sounds (tones, noise, chirps): calibration, inputs."""
  slice_samples = params_lib.FeatureParams().slice_samples
  waves = []
  for i in range(count):
    waves.append([sine(1.0, 300.0 * (i + 1)), noise(1.0, seed=i),
                  chirp(1.0)][i % 3][:slice_samples])
  log_mel = features.log_mel_spectrogram(np.stack(waves), recipes.tiny().features).numpy()
  return log_mel[..., None].astype(np.float32)


FSDD_LIKE_SPEAKERS = {"alice": 300.0, "bob": 900.0, "carol": 2000.0}


def speaker_tone(hz, seconds, seed):
  t = np.arange(int(RATE * seconds)) / RATE
  rng = np.random.default_rng(seed)
  return (0.3 * np.sin(2 * np.pi * hz * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
          + 0.01 * rng.normal(size=t.size)).astype(np.float32)


def write_fsdd_like(root):
  """FSDD-named clips in `root`: 3 speakers x 2 digits x takes 0-7 (takes 0-4 are FSDD's
  test split), each speaker its own pitch."""
  for s, (speaker, hz) in enumerate(FSDD_LIKE_SPEAKERS.items()):
    for digit in range(2):
      for take in range(8):
        write(str(root / f"{digit}_{speaker}_{take}.wav"),
              speaker_tone(hz * (1 + 0.2 * digit), 0.7, 100 * s + 10 * digit + take))
  return str(root)
