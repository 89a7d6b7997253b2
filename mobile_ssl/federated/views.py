"""The recipe's log-mel augmentations in numpy: what a device does to its views before `train`.

The central pipeline augments every view in TF (mobile_ssl/core/augment.py);
a federated client runs without TensorFlow (only numpy and LiteRT, as a phone
app would), so the same transforms are written here again on numpy arrays,
in the same order (mixup -> random resized crop -> gain -> equalizer ->
masks) with the same formulas and ranges. Random draws come from a numpy
Generator, so a device's stream differs from the central pipeline's
stateless draws; tests hold each transform equal to its TF twin for the
same draws (tests/unit/federated_test.py). Why not inside the .tflite:
the trainable file must stay builtin-only, and TF's stateless random ops
and `crop_and_resize` are not builtins. The two constants below are
augment.py's (importing it would import TF); a test holds them equal.
"""

import math

import numpy as np

from mobile_ssl.core import params as params_lib
from mobile_ssl.core import training_params

# augment.DB (dB to the log-mel's natural-log units) and augment.EQ_COMPONENTS.
DB = math.log(10.0) / 20.0
EQ_COMPONENTS = 3


def mixup(x: np.ndarray, ratio: float, rng: np.random.Generator) -> np.ndarray:
  """log((1 - r) e^x + r e^other), other = the batch rolled by a shift >= 1, r ~ U(0, ratio)."""
  n = x.shape[0]
  other = np.roll(x, int(rng.integers(1, max(n, 2))), axis=0)
  r = rng.uniform(0.0, ratio, (n, 1, 1, 1)).astype(np.float32)
  top = np.maximum(x, other)
  return top + np.log((1 - r) * np.exp(x - top) + r * np.exp(other - top))


def _axis_weights(size: int, start: float, end: float) -> tuple:
  """[size, size] bilinear weights of tf.image.crop_and_resize along one axis, and a valid mask."""
  position = (start + np.arange(size) * (end - start) / (size - 1)) * (size - 1)
  valid = (position >= 0) & (position <= size - 1)
  low = np.clip(np.floor(position), 0, size - 1).astype(int)
  high = np.clip(np.ceil(position), 0, size - 1).astype(int)
  frac = position - np.floor(position)
  weights = np.zeros((size, size))
  rows = np.arange(size)[valid]
  np.add.at(weights, (rows, low[valid]), 1.0 - frac[valid])
  np.add.at(weights, (rows, high[valid]), frac[valid])
  return weights, valid


def crop_and_resize(view: np.ndarray, box, fill: float) -> np.ndarray:
  """tf.image.crop_and_resize of one [frames, bins, 1] view to its own size (bilinear).

  `box` is (y1, x1, y2, x2) in normalized coordinates; positions outside the
  view take `fill`, as TF's `extrapolation_value` does.
  """
  y1, x1, y2, x2 = box
  frames, bins = view.shape[:2]
  wy, valid_y = _axis_weights(frames, y1, y2)
  wx, valid_x = _axis_weights(bins, x1, x2)
  out = wy @ view[..., 0].astype(np.float64) @ wx.T
  out[~(valid_y[:, None] & valid_x[None, :])] = fill
  return out[..., None].astype(np.float32)


def resized_crop(x: np.ndarray, scale, rng: np.random.Generator, fill: float,
                 freq_scale=None) -> np.ndarray:
  """A box of U(scale) x the view per axis (U(freq_scale) in frequency when given),
  resized back (BYOL-A's random resized crop)."""
  low, high = float(scale[0]), float(scale[1])
  f_low, f_high = (low, high) if freq_scale is None else map(float, freq_scale)
  out = np.empty_like(x)
  for i, view in enumerate(x):
    h, w = rng.uniform((low, f_low), (high, f_high))
    y1, x1 = rng.uniform(0.0, 1.0, 2) * (1.0 - np.array([h, w]))
    out[i] = crop_and_resize(view, (y1, x1, y1 + h, x1 + w), fill)
  return out


def gain(x: np.ndarray, gain_db: float, rng: np.random.Generator) -> np.ndarray:
  db = rng.uniform(-gain_db, gain_db, (x.shape[0], 1, 1, 1))
  return (x + db * DB).astype(np.float32)


def equalize(x: np.ndarray, eq_db: float, rng: np.random.Generator) -> np.ndarray:
  """A smooth random curve across the mel bins (augment.equalize's cosines), within +-eq_db."""
  bins, components = x.shape[2], EQ_COMPONENTS
  weights = rng.uniform(-1.0, 1.0, (x.shape[0], components))
  k = np.arange(1, components + 1)[:, None]
  basis = np.cos(math.pi * k * (np.arange(bins)[None, :] + 0.5) / bins)
  curve = weights @ basis / components
  return (x + (eq_db * DB) * curve[:, None, :, None]).astype(np.float32)


def masks(x: np.ndarray, time_frames: int, freq_bins: int,
          rng: np.random.Generator) -> np.ndarray:
  """One time band and one frequency band per view, filled with the view's mean."""
  out = x.copy()
  frames, bins = x.shape[1:3]
  for i in range(x.shape[0]):
    mean = x[i].mean()
    for axis, length, most in ((0, frames, time_frames), (1, bins, freq_bins)):
      if not most:
        continue
      width = int(rng.integers(0, min(most, length) + 1))
      start = int(rng.uniform() * (length - width + 1))
      index = [slice(None)] * 3
      index[axis] = slice(start, start + width)
      out[i][tuple(index)] = mean
  return out


def augment_views(x: np.ndarray, params: training_params.AugmentParams, rng: np.random.Generator,
                  feature_params: params_lib.FeatureParams = params_lib.FeatureParams()
                  ) -> np.ndarray:
  """Augments [N, frames, bins, 1] float32 views as augment.augment_views does."""
  x = np.asarray(x, np.float32)
  if params.mixup_ratio:
    x = mixup(x, params.mixup_ratio, rng)
  if params.crops:
    time_scale, freq_scale = params.crop_scales
    x = resized_crop(x, time_scale, rng, math.log(feature_params.log_offset), freq_scale)
  if params.gain_db:
    x = gain(x, params.gain_db, rng)
  if params.eq_db:
    x = equalize(x, params.eq_db, rng)
  if params.time_mask_frames or params.freq_mask_bins:
    x = masks(x, params.time_mask_frames, params.freq_mask_bins, rng)
  return x.astype(np.float32)
