"""Stateless random slice positions inside one clip's log-mel.

Every task draws its crops here from an explicit seed [2] (int64), so a
pipeline mapped in parallel stays reproducible (mobile_ssl/data/pipeline.py).
"""

import tensorflow as tf


def split_seed(seed: tf.Tensor, count: int) -> tf.Tensor:
  """[count, 2] independent seeds derived from one seed [2]."""
  return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), count)


def uniform_int(seed: tf.Tensor, low, high) -> tf.Tensor:
  """An int32 uniform in [low, high] (inclusive)."""
  return tf.random.stateless_uniform([], seed, minval=tf.cast(low, tf.int32),
                                     maxval=tf.cast(high, tf.int32) + 1, dtype=tf.int32)


def crop(log_mel: tf.Tensor, start, frames: int) -> tf.Tensor:
  """[T, bins] -> [frames, bins, 1] starting at `start` (a channel axis for the conv)."""
  piece = log_mel[start:start + frames]
  piece.set_shape([frames, log_mel.shape[-1]])
  return tf.expand_dims(piece, -1)


def random_crop(log_mel: tf.Tensor, seed: tf.Tensor, frames: int) -> tf.Tensor:
  """A uniformly placed crop of `frames` frames (the clip must be long enough)."""
  start = uniform_int(seed, 0, tf.shape(log_mel)[0] - frames)
  return crop(log_mel, start, frames)
