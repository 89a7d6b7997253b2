"""Tests of mobile_ssl.core.inference: BN folded into the convs gives the Keras model's outputs."""

import dataclasses

import keras
import numpy as np
import pytest

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import inference
from mobile_ssl.core import params as params_lib
from mobile_ssl.evaluation import logmel_stats


def _trained_like(encoder_params):
  """An encoder whose BN layers hold non-trivial statistics, as after training."""
  model = encoder_lib.build_encoder(encoder_params, seed=0)
  rng = np.random.default_rng(1)
  for layer in model.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      shape = layer.moving_mean.shape
      layer.moving_mean.assign(rng.normal(size=shape))
      layer.moving_variance.assign(rng.uniform(0.2, 3.0, size=shape))
      layer.gamma.assign(rng.normal(size=shape))
      layer.beta.assign(rng.normal(size=shape))
  return model


@pytest.mark.parametrize("variant,pooling,embedding_dim", [
    ("paper", "max", 128), ("fast", "max", 128), ("paper", "time_mean_max", 0),
    ("fast", "mean_max", 32)])
def test_folded_encoder_matches_keras_and_has_no_batch_norm(variant, pooling, embedding_dim):
  params = dataclasses.replace(params_lib.EncoderParams(), variant=variant, pooling=pooling,
                               embedding_dim=embedding_dim, width=0.5)
  model = _trained_like(params)
  folded = inference.fold(model)
  assert folded is not model
  assert not any(isinstance(l, keras.layers.BatchNormalization) for l in folded.layers)
  x = np.random.default_rng(2).normal(size=(3, 96, 64, 1)).astype(np.float32)
  expected = model(x, training=False).numpy()
  np.testing.assert_allclose(folded(x, training=False).numpy(), expected, rtol=1e-4, atol=1e-4)
  assert np.abs(expected).max() > 0.1  # the check above is not between zeros


def test_a_model_without_conv_bn_pairs_is_returned_as_it_is():
  model = logmel_stats.build()
  assert inference.fold(model) is model


def test_embed_function_is_keyed_by_weights_not_by_object():
  model = _trained_like(dataclasses.replace(params_lib.EncoderParams(), width=0.25))
  fp = params_lib.FeatureParams()
  x = np.random.default_rng(3).normal(size=(2, 96, 64)).astype(np.float32)
  before = inference.embed_function(model, fp, "weights-a")(x).numpy()
  for layer in model.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
      layer.beta.assign(layer.beta + 1.0)
  assert np.array_equal(inference.embed_function(model, fp, "weights-a")(x).numpy(), before)
  after = inference.embed_function(model, fp, "weights-b")(x).numpy()
  np.testing.assert_allclose(after, model(x[..., None], training=False).numpy(), rtol=1e-4,
                             atol=1e-4)
  assert np.abs(after - before).max() > 1e-3


def test_joint_embed_function_gives_each_encoders_own_embeddings():
  small = dataclasses.replace(params_lib.EncoderParams(), width=0.25)
  encoders = [_trained_like(small),
              encoder_lib.build_encoder(dataclasses.replace(small, pooling="mean_max"), seed=5),
              logmel_stats.build()]
  fp = params_lib.FeatureParams()
  x = np.random.default_rng(4).normal(size=(5, 96, 64)).astype(np.float32)
  joint = inference.joint_embed_function(encoders, fp, ["a", "b", "stats"])(x)
  assert len(joint) == 3
  for encoder, out in zip(encoders, joint):
    expected = encoder(x[..., None], training=False).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-4, atol=1e-4)
  # Different encoders give different embeddings: the check above is not of one output thrice.
  assert np.abs(joint[0].numpy() - joint[1].numpy()).max() > 1e-2


def test_joint_embed_function_needs_a_key_per_encoder():
  model = encoder_lib.build_encoder(dataclasses.replace(params_lib.EncoderParams(), width=0.25))
  with pytest.raises(ValueError, match="2 encoders need as many keys, got 1"):
    inference.joint_embed_function([model, model], params_lib.FeatureParams(), ["only-one"])
