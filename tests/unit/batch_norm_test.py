"""The fused batch normalization against Keras's own layer: same values, same state, fused op."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import batch_norm
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib


def _layer(fused: bool, shape=(None, 12, 10, 8), **kwargs):
  """A built layer with non-trivial gamma, beta and moving statistics."""
  layer = batch_norm.FusedBatchNormalization(fused=fused, **kwargs)
  layer.build(shape)
  channels = shape[-1]
  layer.gamma.assign(np.linspace(0.5, 2.0, channels).astype(np.float32))
  layer.beta.assign(np.linspace(-1.0, 1.0, channels).astype(np.float32))
  layer.moving_mean.assign(np.linspace(-0.2, 0.3, channels).astype(np.float32))
  layer.moving_variance.assign(np.linspace(0.8, 1.5, channels).astype(np.float32))
  return layer


def _maps(shape=(6, 12, 10, 8), seed=0):
  rng = np.random.default_rng(seed)
  # Offset and scaled per channel, so the statistics matter.
  return tf.constant((rng.normal(size=shape) * np.linspace(0.5, 3.0, shape[-1])
                      + np.linspace(-2.0, 4.0, shape[-1])).astype(np.float32))


def _train_call(layer, x, weights):
  """(outputs, d loss / d [x, gamma, beta]) of one training call, loss = sum(sin(y) * weights)."""
  @tf.function
  def call():
    with tf.GradientTape() as tape:
      tape.watch(x)
      y = layer(x, training=True)
      loss = tf.reduce_sum(tf.sin(y) * weights)
    return y, tape.gradient(loss, [x, layer.gamma, layer.beta])
  y, grads = call()
  return y.numpy(), [g.numpy() for g in grads]


def test_training_matches_keras_outputs_gradients_and_moving_statistics():
  x = _maps()
  weights = tf.constant(np.random.default_rng(1).normal(size=x.shape).astype(np.float32))
  fused, plain = _layer(True), _layer(False)
  y_fused, g_fused = _train_call(fused, x, weights)
  y_plain, g_plain = _train_call(plain, x, weights)
  np.testing.assert_allclose(y_fused, y_plain, rtol=1e-4, atol=1e-4)
  for a, b in zip(g_fused, g_plain):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * np.abs(b).max())
  # The moving statistics moved (momentum 0.99) and moved alike: Keras's
  # biased batch variance, not the op's unbiased one (with 720 values per
  # channel the two differ by 0.14 %, 100x this tolerance).
  assert not np.allclose(fused.moving_mean.numpy(), np.linspace(-0.2, 0.3, 8))
  np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-6,
                             atol=1e-7)
  np.testing.assert_allclose(fused.moving_variance.numpy(), plain.moving_variance.numpy(),
                             rtol=1e-5)


def _op_types(layer, x, training):
  function = tf.function(lambda t: layer(t, training=training))
  return {op.type for op in function.get_concrete_function(x).graph.get_operations()}


def test_training_runs_the_fused_kernel_and_inference_does_not():
  x = _maps()
  assert "FusedBatchNormV3" in _op_types(_layer(True), x, True)
  for layer, training in ((_layer(False), True), (_layer(True), False)):
    assert "FusedBatchNormV3" not in _op_types(layer, x, training)


def test_inference_is_keras_own_to_the_bit():
  x = _maps()
  fused, plain = _layer(True), _layer(False)
  np.testing.assert_array_equal(fused(x, training=False).numpy(), plain(x, training=False).numpy())


@pytest.mark.parametrize("case", ["rank2", "small_epsilon", "frozen"])
def test_what_the_kernel_cannot_do_falls_back_to_keras_to_the_bit(case):
  if case == "rank2":
    x = tf.constant(np.random.default_rng(2).normal(size=(16, 8)).astype(np.float32))
    fused, plain = _layer(True, (None, 8)), _layer(False, (None, 8))
  else:
    x = _maps()
    kwargs = {"epsilon": 1e-6} if case == "small_epsilon" else {}
    fused, plain = _layer(True, **kwargs), _layer(False, **kwargs)
    if case == "frozen":  # as Keras: a frozen layer uses its moving statistics
      fused.trainable = plain.trainable = False
  assert "FusedBatchNormV3" not in _op_types(fused, x, True)
  np.testing.assert_array_equal(fused(x, training=True).numpy(), plain(x, training=True).numpy())
  np.testing.assert_array_equal(fused.moving_variance.numpy(), plain.moving_variance.numpy())


def test_encoder_uses_it_and_its_file_keeps_the_option(tmp_path):
  encoder = encoder_lib.build_encoder(params_lib.EncoderParams(), seed=0)
  layers = [l for l in encoder.layers if isinstance(l, keras.layers.BatchNormalization)]
  assert layers and all(isinstance(l, batch_norm.FusedBatchNormalization) for l in layers)
  layers[0].fused = False
  path = str(tmp_path / "encoder.keras")
  encoder.save(path)
  loaded = keras.models.load_model(path, compile=False)  # as model_dir.load_encoder does
  assert [l.fused for l in loaded.layers if isinstance(l, batch_norm.FusedBatchNormalization)] \
      == [False] + [True] * (len(layers) - 1)
  x = _maps((2, 96, 64, 1))
  np.testing.assert_array_equal(loaded(x, training=False).numpy(),
                                encoder(x, training=False).numpy())
