"""Contrastive (COLA): which clip of the batch did this slice come from?

Saeed, Grangier, Zeghidour, "Contrastive learning of general-purpose audio
representations" (ICASSP 2021). Anchor and positive are two random slices of
one clip; the positives of the other clips in the batch are the negatives.
Embeddings pass through layer normalization and tanh (COLA's head), the
similarity is bilinear, s(a, p) = g(a)^T W g(p) (or, with
`contrastive_similarity='cosine'`, that divided by |g(a)| |W g(p)|), divided by
a temperature (COLA's code uses 0.2; `recipe()` sets it), and the loss is softmax
cross-entropy over the batch with the matching clip as the label.

COLA draws the positive anywhere in the clip. `contrastive_max_offset_frames`
keeps it within that many frames of the anchor: on speech, slices a second
apart share the speaker and the words, slices ten seconds apart often only
the speaker. COLA's one augmentation, faint noise on the positive, is covered
(more strongly) by the pool-wide augmentations of mobile_ssl/core/augment.py.
"""

import keras
import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import sampling


def min_frames(params: params_lib.Params) -> int:
  return params.features.slice_frames


def make_examples(clips: sampling.ClipBatch, params: params_lib.Params, seed: tf.Tensor):
  """-> ({'anchor', 'positive'}: [B, S, bins, 1] each, dummy targets 0 [B])."""
  seeds = sampling.split_seed(seed, 2)
  s = params.features.slice_frames
  reach = params.task.contrastive_max_offset_frames
  dummy = tf.zeros([clips.size])
  if reach < 0:
    return {"anchor": sampling.random_crop(clips, seeds[0], s),
            "positive": sampling.random_crop(clips, seeds[1], s)}, dummy
  anchor_start, positive_start = sampling.nearby_starts(clips, seeds[0], seeds[1], s, reach)
  return {"anchor": clips.crop(anchor_start, s),
          "positive": clips.crop(positive_start, s)}, dummy


def build_model(encoder: keras.Model, params: params_lib.Params) -> keras.Model:
  params.task.validate()
  shape = encoder.input_shape[1:]
  anchor = keras.Input(shape, name="anchor")
  positive = keras.Input(shape, name="positive")
  head = keras.Sequential([keras.layers.LayerNormalization(name="norm"),
                           keras.layers.Activation("tanh", name="tanh")], name="head")
  a, p = head(encoder(anchor)), head(encoder(positive))
  scale = params.task.contrastive_init_scale
  # A multiple s of Glorot-uniform values is VarianceScaling with scale s^2;
  # 1.0 keeps Keras's default initializer (and the runs measured with it).
  init = ("glorot_uniform" if scale == 1.0 else keras.initializers.VarianceScaling(
      scale * scale, mode="fan_avg", distribution="uniform", seed=params.train.seed))
  bilinear = keras.layers.Dense(encoder.output_shape[-1], use_bias=False,
                                kernel_initializer=init, name="bilinear")
  stacked = keras.layers.Lambda(lambda t: keras.ops.stack(t, axis=1), name="pair")(
      [a, bilinear(p)])
  return keras.Model({"anchor": anchor, "positive": positive}, stacked, name="contrastive")


def loss(targets, outputs, params: params_lib.Params) -> tf.Tensor:
  """Per-anchor softmax cross-entropy over the batch's positives."""
  del targets
  a, wp = outputs[:, 0], outputs[:, 1]
  if params.task.contrastive_similarity == "cosine":
    a, wp = tf.math.l2_normalize(a, axis=-1), tf.math.l2_normalize(wp, axis=-1)
  logits = tf.matmul(a, wp, transpose_b=True) / params.task.contrastive_temperature
  labels = tf.range(tf.shape(a)[0])
  return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
