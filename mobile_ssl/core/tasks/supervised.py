"""Supervised baseline: the same encoder plus a linear head, trained on labels.

Also the fine-tuning model of the evaluation (mobile_ssl/evaluation/finetune.py): start
from a pretrained encoder instead of the random initialization.
"""

import keras
import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import sampling


def min_frames(params: params_lib.Params) -> int:
  return params.features.slice_frames


def make_examples(clips: sampling.ClipBatch, params: params_lib.Params, seed: tf.Tensor):
  """-> ({'log_mel': a random slice [B, S, bins, 1]}, each clip's label [B])."""
  s = params.features.slice_frames
  return {"log_mel": sampling.random_crop(clips, seed, s)}, clips.labels


def build_model(encoder: keras.Model, params: params_lib.Params) -> keras.Model:
  if params.task.num_classes < 2:
    raise ValueError(f"supervised training needs >= 2 classes, got {params.task.num_classes}")
  log_mel = keras.Input(encoder.input_shape[1:], name="log_mel")
  logits = keras.layers.Dense(params.task.num_classes, name="classifier")(encoder(log_mel))
  return keras.Model({"log_mel": log_mel}, logits, name="supervised")


def loss(targets, outputs, params: params_lib.Params) -> tf.Tensor:
  del params
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(tf.reshape(targets, [-1]), tf.int32), logits=outputs)
