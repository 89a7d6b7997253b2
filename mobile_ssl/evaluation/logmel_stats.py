"""The classical floor: log-mel and MFCC statistics of a window as a fixed feature vector.

What a newcomer would try before any learned embedding: per mel bin, the mean
and standard deviation over time of the log-mel, and of its frame-to-frame
difference (delta); the same for the first `NUM_MFCC` MFCCs (orthonormal DCT-II
of the log-mel). `mobile-ssl-eval --encoders=logmel_stats` probes it exactly
like an encoder (same windows, same probe, same clip averaging), so every
report can show whether a learned embedding beats it.

A Keras model with no weights, so the evaluation's embedding path, cache and
probe treat it like any encoder: [B, frames, bins, 1] -> [B, 4 x bins + 4 x NUM_MFCC].
"""

import keras
import numpy as np
import tensorflow as tf

from mobile_ssl.core import params as params_lib

NAME = "logmel_stats"
NUM_MFCC = 20


def _dct_matrix(bins: int, count: int) -> np.ndarray:
  """Orthonormal DCT-II basis [bins, count] (MFCC = log-mel @ basis)."""
  n = np.arange(bins)[:, None]
  k = np.arange(count)[None, :]
  basis = np.cos(np.pi / bins * (n + 0.5) * k) * np.sqrt(2.0 / bins)
  basis[:, 0] /= np.sqrt(2.0)
  return basis.astype(np.float32)


def _mean_std(x: tf.Tensor, axis: int = 1) -> tf.Tensor:
  mean = tf.reduce_mean(x, axis=axis)
  std = tf.sqrt(tf.reduce_mean(tf.square(x - tf.expand_dims(mean, axis)), axis=axis) + 1e-12)
  return tf.concat([mean, std], axis=-1)


def statistics(log_mel: tf.Tensor, num_mfcc: int = NUM_MFCC) -> tf.Tensor:
  """[B, frames, bins] log-mel -> [B, 4 x bins + 4 x num_mfcc] statistics.

  Order: log-mel mean, std; delta mean, std; MFCC mean, std; MFCC-delta mean, std.
  """
  bins = log_mel.shape[-1]
  mfcc = tf.einsum("btf,fk->btk", log_mel, tf.constant(_dct_matrix(bins, min(num_mfcc, bins))))
  parts = []
  for x in (log_mel, mfcc):
    parts += [_mean_std(x), _mean_std(x[:, 1:] - x[:, :-1])]
  return tf.concat(parts, axis=-1)


class LogMelStats(keras.Model):
  """`statistics` as a weightless Keras model with the encoder's input."""

  def __init__(self, feature_params: params_lib.FeatureParams = params_lib.FeatureParams()):
    super().__init__(name=NAME)
    self.feature_params = feature_params

  def call(self, inputs, training=False):
    del training
    return statistics(tf.squeeze(tf.convert_to_tensor(inputs), -1))


def build(feature_params: params_lib.FeatureParams = params_lib.FeatureParams()) -> keras.Model:
  model = LogMelStats(feature_params)
  model(tf.zeros([1, feature_params.slice_frames, feature_params.num_mel_bins, 1]))
  return model
