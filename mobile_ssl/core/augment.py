"""Log-mel augmentations for every pretext task: gain, equalizer, mixup, resized crop, masks.

What self-supervised audio learned after the paper (BYOL-A, Niizumi et al.
2021; COLA; SpecAugment): two views of the same sound must differ in what
does not matter (loudness, background, small shifts in time and pitch,
missing bits) for a task to learn what does. They run on whole batches in
the input pipeline (`mobile_ssl.data.task_stream.task_dataset`), so they cost the trainer nothing
and mixup can draw its background from other clips of the pooled stream.

Every view tensor of a task's inputs ([B, frames, bins, 1], or [B, K, frames,
bins, 1] for Audio2Vec's context) gets its own draws. All randomness is
stateless from the batch seed, so a pipeline stays reproducible.

Order as in BYOL-A: mixup -> random resized crop -> gain -> masks, with the
equalizer after the gain.
"""

import math

import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core import training_params


# Decibels to the natural-log units of the log-mel: a gain of g dB adds g * DB.
DB = math.log(10.0) / 20.0
# The smallest normal float32: mixup's floor in the linear domain.
_TINY = 1.1754944e-38


def _uniform(shape, seed, low, high):
  return tf.random.stateless_uniform(shape, seed, minval=low, maxval=high)


def mixup(x: tf.Tensor, ratio: float, seed: tf.Tensor) -> tf.Tensor:
  """BYOL-A's log-mixup-exp with another example of the batch, r ~ U(0, ratio).

  Mixing happens in the linear (exp) domain so a background adds energy as
  real sound does; the partner is the batch rolled by a random shift >= 1.
  The batch goes to the linear domain once, as e^(x - m) with m its largest
  value, and the partner is that rolled: one exp and one log per value
  instead of two exps around each pair's max, 0.8x the time (docs/benchmark.md,
  "Crops cut per batch"). Values more than about 87 below m would underflow
  (clamped there); a log-mel spans about 27 (log of the log offset to +13).
  """
  seeds = tf.random.experimental.stateless_split(seed, 2)
  n = tf.shape(x)[0]
  shift = tf.random.stateless_uniform([], seeds[0], minval=1, maxval=tf.maximum(n, 2),
                                      dtype=tf.int32)
  r = _uniform([n, 1, 1, 1], seeds[1], 0.0, ratio)
  top = tf.reduce_max(x)
  linear = tf.exp(x - top)
  mixed = (1 - r) * linear + r * tf.roll(linear, shift=shift, axis=0)
  return top + tf.math.log(tf.maximum(mixed, _TINY))


def resized_crop(x: tf.Tensor, scale, seed: tf.Tensor, fill: float,
                 freq_scale=None) -> tf.Tensor:
  """Random resized crop: a box of U(scale) x the view per axis, resized back.

  Scales above 1 take in area outside the view, filled with `fill` (silence),
  which shifts and shrinks the content; below 1 they stretch it (BYOL-A's
  RRC, here with bilinear resizing). `freq_scale`: another range for the
  frequency axis (None: `scale`'s).
  """
  low, high = float(scale[0]), float(scale[1])
  f_low, f_high = (low, high) if freq_scale is None else map(float, freq_scale)
  n = tf.shape(x)[0]
  seeds = tf.random.experimental.stateless_split(seed, 4)
  h = _uniform([n], seeds[0], low, high)
  y1 = _uniform([n], seeds[2], 0.0, 1.0) * (1.0 - h)
  if (f_low, f_high) == (1.0, 1.0):
    return _time_crop(x, y1, y1 + h, fill)
  w = _uniform([n], seeds[1], f_low, f_high)
  x1 = _uniform([n], seeds[3], 0.0, 1.0) * (1.0 - w)
  boxes = tf.stack([y1, x1, y1 + h, x1 + w], axis=1)
  size = tf.shape(x)[1:3]
  out = tf.image.crop_and_resize(x, boxes, tf.range(n), size, extrapolation_value=fill)
  return tf.ensure_shape(out, x.shape)


def _time_crop(x: tf.Tensor, y1: tf.Tensor, y2: tf.Tensor, fill: float) -> tf.Tensor:
  """`tf.image.crop_and_resize` of boxes [y1, 0, y2, 1] (bilinear), along time only.

  The tuned recipe crops time only; with the frequency axis untouched, the
  bilinear resize is a lerp between two frames, 0.57x the 2-D kernel's time
  on this CPU (`bench/augment_throughput.py`; the same positions and values
  as that kernel's, `tests/unit/augment_test.py`). Frames sampled outside the view get `fill`.
  """
  frames = x.shape[1]
  last = float(frames - 1)
  # crop_and_resize's sampling positions: y1 (H-1) + i (y2 - y1) (H-1) / (crop_h - 1).
  step = (y2 - y1) * last / last
  position = y1[:, None] * last + tf.range(frames, dtype=tf.float32)[None, :] * step[:, None]
  top = tf.floor(position)
  inside = tf.logical_and(position >= 0.0, position <= last)
  lower = tf.gather(x, tf.clip_by_value(tf.cast(top, tf.int32), 0, frames - 1), batch_dims=1)
  upper = tf.gather(x, tf.clip_by_value(tf.cast(tf.math.ceil(position), tf.int32), 0, frames - 1),
                    batch_dims=1)
  out = lower + (upper - lower) * (position - top)[:, :, None, None]
  out = tf.where(inside[:, :, None, None], out, tf.cast(fill, x.dtype))
  return tf.ensure_shape(out, x.shape)


def gain(x: tf.Tensor, gain_db: float, seed: tf.Tensor) -> tf.Tensor:
  """A random gain in +-gain_db: a constant in the log domain."""
  db = _uniform([tf.shape(x)[0], 1, 1, 1], seed, -gain_db, gain_db)
  return x + db * DB


# Cosines across the mel axis in a random equalizer curve: 1 is a tilt, 2 a
# bump or dip in the middle, 3 an S; all far smoother than formants (a few
# bins apart), so the words stay and the envelope moves.
EQ_COMPONENTS = 3


def equalize(x: tf.Tensor, eq_db: float, seed: tf.Tensor) -> tf.Tensor:
  """A random smooth gain curve across the mel bins, within +-eq_db, per view.

  In the log domain a fixed filter (microphone, room, a speaker's vocal
  tract) adds a curve over frequency that is the same in every frame; two
  views that differ by one teach the encoder to look past it.
  """
  bins = x.shape[2]
  weights = _uniform([tf.shape(x)[0], EQ_COMPONENTS], seed, -1.0, 1.0)
  k = tf.range(1, EQ_COMPONENTS + 1, dtype=tf.float32)[:, None]
  centres = (tf.range(bins, dtype=tf.float32)[None, :] + 0.5) / bins
  basis = tf.cos(math.pi * k * centres)  # [components, bins]
  curve = tf.matmul(weights, basis) / EQ_COMPONENTS  # within +-1
  return x + (eq_db * DB) * curve[:, None, :, None]


def _band_mask(length: int, n, max_width: int, seed: tf.Tensor) -> tf.Tensor:
  """[n, length] booleans, True inside one random band of up to `max_width`."""
  seeds = tf.random.experimental.stateless_split(seed, 2)
  width = tf.random.stateless_uniform([n], seeds[0], 0, max_width + 1, dtype=tf.int32)
  start = tf.cast(_uniform([n], seeds[1], 0.0, 1.0)
                  * tf.cast(length - width + 1, tf.float32), tf.int32)
  index = tf.range(length)[None, :]
  return tf.logical_and(index >= start[:, None], index < (start + width)[:, None])


def masks(x: tf.Tensor, time_frames: int, freq_bins: int, seed: tf.Tensor) -> tf.Tensor:
  """One time mask and one frequency mask per view, filled with the view's mean."""
  seeds = tf.random.experimental.stateless_split(seed, 2)
  n = tf.shape(x)[0]
  frames, bins = x.shape[1], x.shape[2]
  hidden = tf.zeros([n, frames, bins], tf.bool)
  if time_frames:
    hidden = tf.logical_or(hidden, _band_mask(frames, n, min(time_frames, frames),
                                              seeds[0])[:, :, None])
  if freq_bins:
    hidden = tf.logical_or(hidden, _band_mask(bins, n, min(freq_bins, bins),
                                              seeds[1])[:, None, :])
  mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
  return tf.where(hidden[..., None], mean, x)


def augment_views(x: tf.Tensor, params: training_params.AugmentParams, seed: tf.Tensor,
                  feature_params: params_lib.FeatureParams = params_lib.FeatureParams()
                  ) -> tf.Tensor:
  """Augments a batch of views [N, frames, bins, 1] (each view its own draws)."""
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
  if params.mixup_ratio:
    x = mixup(x, params.mixup_ratio, seeds[0])
  if params.crops:
    time_scale, freq_scale = params.crop_scales
    x = resized_crop(x, time_scale, seeds[1], math.log(feature_params.log_offset), freq_scale)
  if params.gain_db:
    x = gain(x, params.gain_db, seeds[2])
  if params.eq_db:
    # Its own stream, folded from the gain's: the other draws stay as they were.
    x = equalize(x, params.eq_db, tf.random.experimental.stateless_fold_in(seeds[2], 1))
  if params.time_mask_frames or params.freq_mask_bins:
    x = masks(x, params.time_mask_frames, params.freq_mask_bins, seeds[3])
  return x


def augment_inputs(inputs: dict, params: params_lib.Params, seed: tf.Tensor) -> dict:
  """Augments every log-mel view of a batched task input dict.

  Tensors of rank 4 ([B, frames, bins, 1]) and 5 ([B, K, frames, bins, 1],
  K views per example) are augmented; anything else passes through.
  """
  if not params.augment.enabled:
    return inputs
  out = {}
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), len(inputs))
  for i, key in enumerate(sorted(inputs)):
    x = inputs[key]
    if x.shape.rank == 4:
      out[key] = augment_views(x, params.augment, seeds[i], params.features)
    elif x.shape.rank == 5:
      shape = tf.shape(x)
      flat = tf.reshape(x, tf.concat([[-1], shape[2:]], 0))
      flat = tf.ensure_shape(flat, [None] + x.shape[2:].as_list())
      out[key] = tf.reshape(augment_views(flat, params.augment, seeds[i], params.features),
                            shape)
    else:
      out[key] = x
  return out
