"""Triplet loss on temporal proximity (Jansen et al. 2018, "Unsupervised learning
of semantic audio representations").

Anchor and positive are nearby slices of one clip (the positive starts within
`positive_max_offset_frames` of the anchor, optionally with additive noise in
the log-mel domain); negatives are slices of the other clips of the batch.
Loss: max(0, |a - p|^2 - |a - n|^2 + margin) on L2-normalized embeddings.

Random negatives become too easy within a few hundred steps (the loss goes to
~0), so in-batch semi-hard mining is the default (FaceNet; tfa's
`triplet_semihard_loss` rule): for each anchor, the closest negative that is
still farther than the positive; if there is none, the farthest negative.
"""

import keras
import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import sampling

MINING = ("semi_hard", "random")


def min_frames(params: params_lib.Params) -> int:
  # One slice: in a clip of exactly one slice the positive equals the anchor
  # (plus noise); the other clips still provide the negatives.
  return params.features.slice_frames


def make_examples(clips: sampling.ClipBatch, params: params_lib.Params, seed: tf.Tensor):
  """-> ({'anchor', 'positive'}: [B, S, bins, 1] each, dummy targets 0 [B])."""
  s = params.features.slice_frames
  seeds = sampling.split_seed(seed, 3)
  anchor_start, positive_start = sampling.nearby_starts(
      clips, seeds[0], seeds[1], s, params.task.positive_max_offset_frames)
  positive = clips.crop(positive_start, s)
  if params.task.positive_noise_stddev > 0:
    positive += params.task.positive_noise_stddev * tf.random.stateless_normal(
        tf.shape(positive), seeds[2])
  return ({"anchor": clips.crop(anchor_start, s), "positive": positive},
          tf.zeros([clips.size]))


def build_model(encoder: keras.Model, params: params_lib.Params) -> keras.Model:
  del params
  shape = encoder.input_shape[1:]
  anchor = keras.Input(shape, name="anchor")
  positive = keras.Input(shape, name="positive")
  normalize = keras.layers.UnitNormalization(axis=-1, name="l2_normalize")
  a, p = normalize(encoder(anchor)), normalize(encoder(positive))
  stacked = keras.layers.Lambda(lambda t: keras.ops.stack(t, axis=1), name="pair")([a, p])
  return keras.Model({"anchor": anchor, "positive": positive}, stacked, name="triplet")


def loss(targets, outputs, params: params_lib.Params) -> tf.Tensor:
  """Per-anchor triplet loss; outputs [B, 2, d] = normalized (anchor, positive)."""
  del targets
  a, p = outputs[:, 0], outputs[:, 1]
  margin = params.task.triplet_margin
  d_ap = tf.reduce_sum(tf.square(a - p), axis=-1)  # [B]
  if params.task.triplet_mining == "random":
    n = tf.roll(p, shift=1, axis=0)  # the next clip's positive
    d_an = tf.reduce_sum(tf.square(a - n), axis=-1)
  elif params.task.triplet_mining == "semi_hard":
    # |a_i - p_j|^2 for all pairs; p_j of clip j != i are the negatives.
    d = (tf.reduce_sum(a * a, -1)[:, None] + tf.reduce_sum(p * p, -1)[None, :]
         - 2.0 * tf.matmul(a, p, transpose_b=True))
    batch = tf.shape(a)[0]
    is_negative = tf.logical_not(tf.eye(batch, dtype=tf.bool))
    farther = tf.logical_and(is_negative, d > d_ap[:, None])
    big = tf.reduce_max(d) + 1.0
    closest_farther = tf.reduce_min(tf.where(farther, d, big), axis=1)
    farthest = tf.reduce_max(tf.where(is_negative, d, -big), axis=1)
    has_semi_hard = tf.reduce_any(farther, axis=1)
    d_an = tf.where(has_semi_hard, closest_farther, farthest)
  else:
    raise ValueError(f"triplet_mining must be one of {MINING}, got "
                     f"{params.task.triplet_mining!r}")
  return tf.nn.relu(d_ap - d_an + margin)
