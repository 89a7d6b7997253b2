"""Tests of mobile_ssl.export.trainable_graph: the training forward pass in plain TF equals Keras."""

import dataclasses

import numpy as np
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.export import trainable_graph
from tests import model_fixtures

BATCH = 4
PARAMS = model_fixtures.TWO_BLOCK_PARAMS


class TestTrainableGraph:

  def test_training_forward_matches_keras_fast_variant(self):
    params = dataclasses.replace(PARAMS, encoder=dataclasses.replace(PARAMS.encoder,
                                                                     variant="fast"))
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=1)
    x = model_fixtures.windows(9)
    weights = trainable_graph.keras_encoder_weights(encoder, params)
    got, stats = trainable_graph.encoder_forward(weights, tf.constant(x), params, True)
    np.testing.assert_allclose(got, encoder(x, training=True).numpy(), atol=1e-4)
    assert len(stats) == 2 * len(params.encoder.base_channels)
