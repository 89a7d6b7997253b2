"""Tests of mobile_ssl.export.trainable_graph: the training forward pass in plain TF equals Keras."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core.tasks import contrastive
from mobile_ssl.export import trainable
from mobile_ssl.export import trainable_graph
from tests import model_fixtures

BATCH = 4
PARAMS = model_fixtures.TWO_BLOCK_PARAMS


class TestTrainableGraph:

  @pytest.mark.parametrize("pool_blocks,input_norm", [(1, "none"), (3, "none"), (3, "time_mean")])
  def test_training_forward_matches_keras_multi_mean_std(self, pool_blocks, input_norm):
    # pool_blocks of two blocks: the last one, both.
    params = dataclasses.replace(PARAMS, encoder=dataclasses.replace(
        PARAMS.encoder, pooling="multi_mean_std", embedding_dim=0, pool_blocks=pool_blocks,
        input_norm=input_norm))
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=2)
    x = model_fixtures.windows(5)
    weights = trainable_graph.keras_encoder_weights(encoder, params)
    for training in (False, True):  # Keras updates its BN moving statistics when training
      got, _ = trainable_graph.encoder_forward(weights, tf.constant(x), params, training)
      np.testing.assert_allclose(got, encoder(x, training=training).numpy(), rtol=1e-4,
                                 atol=1e-4)

  def test_cosine_contrastive_loss_matches_keras(self):
    params = dataclasses.replace(PARAMS, task=dataclasses.replace(
        PARAMS.task, contrastive_similarity="cosine", contrastive_temperature=0.2))
    rng = np.random.default_rng(3)
    a, p = rng.standard_normal((2, BATCH, 6)).astype(np.float32)
    gamma, beta = np.ones(6, np.float32), np.zeros(6, np.float32)
    bilinear = rng.standard_normal((6, 6)).astype(np.float32)
    got = trainable_graph.contrastive_loss(a, p, (gamma, beta, bilinear), 0.2, BATCH, "cosine")
    norm = lambda v: np.tanh((v - v.mean(-1, keepdims=True)) / np.sqrt(
        v.var(-1, keepdims=True) + trainable_graph.LN_EPSILON))
    outputs = tf.constant(np.stack([norm(a), norm(p) @ bilinear], axis=1))
    want = contrastive.loss(None, outputs, params).numpy().mean()
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-4)
    assert want <= np.log(BATCH) + 2 / 0.2  # cosine logits are bounded by 1/temperature

  def test_training_forward_matches_keras_fast_variant(self):
    params = dataclasses.replace(PARAMS, encoder=dataclasses.replace(PARAMS.encoder,
                                                                     variant="fast"))
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=1)
    x = model_fixtures.windows(9)
    weights = trainable_graph.keras_encoder_weights(encoder, params)
    got, stats = trainable_graph.encoder_forward(weights, tf.constant(x), params, True)
    np.testing.assert_allclose(got, encoder(x, training=True).numpy(), atol=1e-4)
    assert len(stats) == 2 * len(params.encoder.base_channels)


def test_initial_pretext_head_takes_the_init_scale():
  gamma, beta, kernel = trainable.initial_pretext_weights(8, 3)
  *_, small = trainable.initial_pretext_weights(8, 3, 0.02)
  np.testing.assert_array_equal(gamma, np.ones(8, np.float32))
  np.testing.assert_array_equal(beta, np.zeros(8, np.float32))
  np.testing.assert_allclose(small, 0.02 * kernel, rtol=1e-6)
  assert small.dtype == np.float32 and np.abs(kernel).max() > 0
