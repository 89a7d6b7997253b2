"""Seeded recipes for the embedded default dataset: structured synthetic sound.

Each clip is a sequence of sound events of one class (melody notes, chords,
chirps, noise bursts, drum rhythms, vibrato tones, harmonic notes, tremolo
tones) built on one root pitch, with onsets, decays and silences between
events, occasional quieter events of another class, and a coloured-noise
floor. Three things change slowly over a clip, so that the time between two
slices shows in their content: the root glides by up to a semitone, events
get sparser or denser, and the loudness fades in, out or swells. (A noise
floor that rose or fell over the clip was tried and dropped: TemporalGap
learned to read the floor instead of the sounds, and its encoder probed
worse on event class; docs/evaluation.md, "Pretext tasks".) Two labels: `event` (8 classes) and
`pitch` (8 half-octave bins of the root, 110-1760 Hz). Neighbouring slices
share class and pitch but differ in detail, so temporal-context pretext tasks
have something to learn and a linear probe has something to measure.

Everything is a pure function of (seed, index): the same clip comes out on
every machine.
"""

import numpy as np
from scipy import signal

SAMPLE_RATE_HZ = 16000
EVENT_CLASSES = ("melody", "chord", "chirp", "noise_burst", "drum_rhythm",
                 "vibrato", "harmonic", "tremolo")
PITCH_CLASSES = tuple(f"{110 * 2 ** (k / 2):.0f}-{110 * 2 ** ((k + 1) / 2):.0f}hz"
                      for k in range(8))
_LOWEST_ROOT_HZ = 110.0


def _envelope(n, rng, attack_s=(0.003, 0.03), decay=(2.0, 8.0)):
  """Attack/exponential-decay envelope of n samples."""
  t = np.arange(n) / SAMPLE_RATE_HZ
  attack = rng.uniform(*attack_s)
  env = np.minimum(1.0, t / attack) * np.exp(-rng.uniform(*decay) * t)
  release = min(n, int(0.01 * SAMPLE_RATE_HZ))
  env[n - release:] *= np.linspace(1.0, 0.0, release)
  return env


def _tone(freq_hz, n, harmonics=(1.0,), phase=0.0):
  t = np.arange(n) / SAMPLE_RATE_HZ
  out = np.zeros(n)
  for k, amp in enumerate(harmonics, start=1):
    if freq_hz * k < SAMPLE_RATE_HZ / 2 - 200:
      out += amp * np.sin(2 * np.pi * freq_hz * k * t + phase * k)
  return out


def _melody(root, rng):
  n = int(rng.uniform(0.08, 0.4) * SAMPLE_RATE_HZ)
  step = rng.choice([0, 2, 3, 4, 5, 7, 9, 12])
  return _tone(root * 2 ** (step / 12), n) * _envelope(n, rng)


def _chord(root, rng):
  n = int(rng.uniform(0.3, 1.2) * SAMPLE_RATE_HZ)
  intervals = [0, rng.choice([3, 4]), 7] + ([rng.choice([10, 11, 12])] if rng.random() < 0.5 else [])
  out = sum(_tone(root * 2 ** (i / 12), n, (1.0, 0.3)) for i in intervals)
  return out / len(intervals) * _envelope(n, rng, decay=(0.5, 2.0))


def _chirp(root, rng):
  n = int(rng.uniform(0.1, 0.6) * SAMPLE_RATE_HZ)
  t = np.arange(n) / SAMPLE_RATE_HZ
  span = rng.uniform(0.5, 1.5)  # octaves
  f0, f1 = root * 2 ** (-span / 2), root * 2 ** (span / 2)
  if rng.random() < 0.5:
    f0, f1 = f1, f0
  out = signal.chirp(t, f0, t[-1], f1, method="logarithmic")
  return out * _envelope(n, rng, decay=(0.5, 3.0))


def _noise_burst(root, rng):
  n = int(rng.uniform(0.05, 0.5) * SAMPLE_RATE_HZ)
  centre = min(root * 2, 6000.0)
  sos = signal.butter(2, [centre / 2 ** 0.5, min(centre * 2 ** 0.5, 7900.0)],
                      btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
  out = signal.sosfilt(sos, rng.standard_normal(n))
  return 3.0 * out * _envelope(n, rng, attack_s=(0.001, 0.005), decay=(8.0, 30.0))


def _drum_hit(root, rng):
  n = int(0.25 * SAMPLE_RATE_HZ)
  t = np.arange(n) / SAMPLE_RATE_HZ
  freq = root * (1 + 1.5 * np.exp(-40 * t))  # a tuned tom with a pitch drop
  body = np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE_HZ) * np.exp(-18 * t)
  snap = rng.standard_normal(n) * np.exp(-60 * t) * rng.uniform(0.1, 0.5)
  return body + snap


def _vibrato(root, rng):
  n = int(rng.uniform(0.4, 1.5) * SAMPLE_RATE_HZ)
  t = np.arange(n) / SAMPLE_RATE_HZ
  depth, rate = rng.uniform(0.01, 0.04), rng.uniform(4.0, 7.0)
  freq = root * (1 + depth * np.sin(2 * np.pi * rate * t))
  out = np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE_HZ)
  return out * _envelope(n, rng, attack_s=(0.02, 0.1), decay=(0.3, 1.5))


def _harmonic(root, rng):
  n = int(rng.uniform(0.1, 0.5) * SAMPLE_RATE_HZ)
  step = rng.choice([0, 3, 5, 7, 12])
  if rng.random() < 0.5:
    harmonics = tuple(1.0 / k for k in range(1, 16))  # sawtooth-like
  else:
    harmonics = tuple((1.0 / k if k % 2 else 0.0) for k in range(1, 16))  # square-like
  return 0.6 * _tone(root * 2 ** (step / 12), n, harmonics) * _envelope(n, rng)


def _tremolo(root, rng):
  n = int(rng.uniform(0.4, 1.5) * SAMPLE_RATE_HZ)
  t = np.arange(n) / SAMPLE_RATE_HZ
  rate = rng.uniform(8.0, 20.0)
  am = 0.5 * (1 + np.sin(2 * np.pi * rate * t))
  return _tone(root, n, (1.0, 0.2)) * am * _envelope(n, rng, attack_s=(0.02, 0.05), decay=(0.2, 1.0))


_MAKERS = (_melody, _chord, _chirp, _noise_burst, _drum_hit, _vibrato, _harmonic, _tremolo)
# Typical silence after an event, in seconds (rhythms are denser).
_GAPS = ((0.0, 0.25), (0.1, 0.6), (0.05, 0.5), (0.05, 0.8), (0.0, 0.0),
         (0.1, 0.5), (0.0, 0.2), (0.1, 0.5))


def _place_events(out, event, root_of, rng, level, density=1.0):
  """Adds events of class `event` along `out`, left to right, slowly sparser or denser."""
  n = len(out)
  accelerate = rng.uniform(-1.0, 1.0)  # density from (1 - a/2) to (1 + a/2) of its mean
  pos = int(rng.uniform(0.0, 0.5) * SAMPLE_RATE_HZ)
  beat = rng.uniform(0.15, 0.35)  # drum_rhythm: seconds per beat at the clip's middle
  pattern = rng.random(8) < 0.6
  pattern[0] = True
  hit = 0
  while pos < n:
    sound = _MAKERS[event](root_of(pos), rng)
    if event == 4:  # drum rhythm: a pattern of hits on a beat grid
      if pattern[hit % 8]:
        sound = sound * (1.0 if hit % 4 == 0 else 0.6)
      else:
        sound = sound * 0.0
      advance = int(beat / (1.0 + accelerate * (pos / n - 0.5)) * SAMPLE_RATE_HZ)
      hit += 1
    else:
      gap = rng.uniform(*_GAPS[event]) / (density * (1.0 + accelerate * (pos / n - 0.5)))
      if rng.random() < 0.1:  # an occasional longer rest
        gap += rng.uniform(0.3, 1.0)
      advance = len(sound) + int(gap * SAMPLE_RATE_HZ)
    end = min(n, pos + len(sound))
    out[pos:end] += level * rng.uniform(0.6, 1.0) * sound[:end - pos]
    pos += max(advance, 1)


def make_clip(seed: int, index: int, min_seconds=2.0, max_seconds=10.0):
  """Generates one clip.

  Args:
    seed: dataset seed.
    index: clip index; (seed, index) determines the clip.
    min_seconds, max_seconds: clip duration range (log-uniform).

  Returns:
    (waveform float32 [samples] in [-1, 1] at 16 kHz, event label, pitch label).
  """
  rng = np.random.default_rng([seed, index])
  seconds = float(np.exp(rng.uniform(np.log(min_seconds), np.log(max_seconds))))
  n = int(seconds * SAMPLE_RATE_HZ)
  event = int(rng.integers(len(EVENT_CLASSES)))
  pitch = int(rng.integers(len(PITCH_CLASSES)))
  root = _LOWEST_ROOT_HZ * 2 ** ((pitch + rng.uniform(0.2, 0.8)) / 2)
  # The root glides by up to a semitone over the clip (it stays in its bin).
  drift = rng.uniform(-1.0, 1.0) / 12  # octaves over the whole clip
  root_of = lambda pos: root * 2 ** (drift * pos / n)

  out = np.zeros(n)
  _place_events(out, event, root_of, rng, level=1.0, density=rng.uniform(0.7, 1.5))
  if rng.random() < 0.3:  # a quieter distractor of another class
    other = int((event + rng.integers(1, len(EVENT_CLASSES))) % len(EVENT_CLASSES))
    distractor = np.zeros(n)
    octave = float(rng.choice([-1.0, 1.0]))
    _place_events(distractor, other, lambda pos: root_of(pos) * 2.0 ** octave,
                  rng, level=0.25, density=0.3)
    out += distractor
  # Slow loudness trend over the clip (fade in, fade out or swell).
  t = np.linspace(0.0, 1.0, n)
  trend = rng.choice(3)
  gain = (0.4 + 0.6 * t, 1.0 - 0.6 * t, 0.5 + 0.5 * np.sin(np.pi * t))[trend]
  out *= gain
  peak = np.max(np.abs(out)) or 1.0
  out *= rng.uniform(0.3, 0.9) / peak
  # Coloured noise floor, 35-55 dB below the peak.
  tilt = rng.uniform(0.0, 0.98)
  floor = signal.lfilter([1.0], [1.0, -tilt], rng.standard_normal(n))
  floor *= 10 ** (-rng.uniform(35, 55) / 20) / (np.std(floor) + 1e-9)
  out = np.clip(out + floor, -1.0, 1.0)
  return out.astype(np.float32), event, pitch
