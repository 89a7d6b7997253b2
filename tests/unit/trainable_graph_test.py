"""Tests of mobile_ssl.export.trainable_graph: the training forward pass in plain TF equals Keras."""

import dataclasses

import numpy as np
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.export import trainable_graph

BATCH = 4
# Two blocks instead of five: the same code paths as tests/trainable_test.py.
PARAMS = dataclasses.replace(
    params_lib.tiny(),
    encoder=params_lib.EncoderParams(width=1.0, embedding_dim=16, base_channels=(4, 8),
                                     pooling="time_mean_max"),
    task=dataclasses.replace(params_lib.TaskParams(), name="contrastive",
                             contrastive_temperature=0.2))


def _windows(seed, count=BATCH):
  """Log-mel-like windows: per-clip tone bands plus noise, so clips differ from each other."""
  rng = np.random.default_rng(seed)
  x = rng.normal(0.0, 0.3, (count, 96, 64, 1)).astype(np.float32)
  for i in range(count):
    x[i, :, (7 * i) % 60:(7 * i) % 60 + 4, 0] += 3.0
  return x


class TestTrainableGraph:

  def test_training_forward_matches_keras_fast_variant(self):
    params = dataclasses.replace(PARAMS, encoder=dataclasses.replace(PARAMS.encoder,
                                                                     variant="fast"))
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=1)
    x = _windows(9)
    weights = trainable_graph.keras_encoder_weights(encoder, params)
    got, stats = trainable_graph.encoder_forward(weights, tf.constant(x), params, True)
    np.testing.assert_allclose(got, encoder(x, training=True).numpy(), atol=1e-4)
    assert len(stats) == 2 * len(params.encoder.base_channels)
