"""TemporalGap: predict the normalized time between two slices of one clip.

Tagliasacchi et al. 2019 (arXiv 1905.11796). A gap Delta (in frames) is drawn
uniformly from what the clip allows, [0, T - S] for T clip frames and S slice
frames, the pair is placed uniformly, and the two slices are shown in random
order. Target delta = Delta / (T - S) in [0, 1]; a dense layer gives one logit;
the loss is the cross-entropy between sigmoid(logit) and the soft target
(reported to beat MSE).

Pair features: the paper concatenates the two embeddings (`gap_features=
'concat'`). A dense layer on [e1, e2] computes w1.e1 + w2.e2, linear in each
independently computed embedding, so it cannot express a distance between
them, and the gap is symmetric in the two slices: with that head the loss
stayed at ln 2 (the constant prediction) on our data. The default,
'concat_abs_diff', feeds [e1, e2, |e1 - e2|], with which the same single dense
layer can form a weighted L1 distance.
"""

import keras
import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import sampling


def min_frames(params: params_lib.Params) -> int:
  # Two slices' worth, so that the gap can reach one full slice length.
  return 2 * params.features.slice_frames


def make_examples(clips: sampling.ClipBatch, params: params_lib.Params, seed: tf.Tensor):
  """B clips -> ({'first', 'second'}: [B, S, bins, 1] each, delta [B])."""
  frames = params.features.slice_frames
  room = clips.lengths - frames
  seeds = sampling.split_seed(seed, 3)
  gap = sampling.uniform_int(seeds[0], 0, room)
  start = sampling.uniform_int(seeds[1], 0, room - gap)
  first = clips.crop(start, frames)
  second = clips.crop(start + gap, frames)
  swap = (tf.random.stateless_uniform([clips.size], seeds[2]) < 0.5)[:, None, None, None]
  first, second = tf.where(swap, second, first), tf.where(swap, first, second)
  delta = tf.cast(gap, tf.float32) / tf.cast(tf.maximum(room, 1), tf.float32)
  return {"first": first, "second": second}, delta


GAP_FEATURES = ("concat_abs_diff", "concat")


def build_model(encoder: keras.Model, params: params_lib.Params) -> keras.Model:
  shape = encoder.input_shape[1:]
  first = keras.Input(shape, name="first")
  second = keras.Input(shape, name="second")
  a, b = encoder(first), encoder(second)
  if params.task.gap_features == "concat_abs_diff":
    distance = keras.layers.Lambda(lambda t: keras.ops.abs(t[0] - t[1]), name="abs_diff")([a, b])
    joined = keras.layers.Concatenate(name="pair")([a, b, distance])
  elif params.task.gap_features == "concat":
    joined = keras.layers.Concatenate(name="pair")([a, b])
  else:
    raise ValueError(f"gap_features must be one of {GAP_FEATURES}, got {params.task.gap_features!r}")
  # Standardized features and a zero-initialized output: every pair starts at
  # delta = 0.5 (loss ln 2, the best constant guess) instead of confidently
  # wrong, so any loss below ln 2 is gap information the encoder found.
  joined = keras.layers.BatchNormalization(name="pair_bn")(joined)
  logit = keras.layers.Dense(1, kernel_initializer="zeros", name="gap_logit")(joined)
  return keras.Model({"first": first, "second": second}, logit, name="temporal_gap")


def loss(targets: tf.Tensor, outputs: tf.Tensor, params: params_lib.Params) -> tf.Tensor:
  """Per-example sigmoid cross-entropy against the soft target delta."""
  del params
  return tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.reshape(targets, [-1]),
                                                 logits=tf.reshape(outputs, [-1]))
