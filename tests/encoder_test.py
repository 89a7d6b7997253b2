"""Tests of mobile_ssl.core.encoder's pooling options: shapes, parameters, saving, TFLite ops."""

import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir
from mobile_ssl.core import params as params_lib


@pytest.mark.parametrize("pooling,pooled", [("max", 128), ("mean_max", 256),
                                            ("time_mean_max", 2 * 2 * 128)])
def test_pooling_sets_the_embedding_layer_input(pooling, pooled):
  params = params_lib.EncoderParams(pooling=pooling)
  model = encoder_lib.build_encoder(params, seed=0)
  assert model.get_layer("embedding").input.shape[-1] == pooled
  assert model.output_shape == (None, 128)
  counts = encoder_lib.complexity(model)
  base = encoder_lib.complexity(encoder_lib.build_encoder(params_lib.EncoderParams(), seed=0))
  assert counts["params"] - base["params"] == (pooled - 128) * 128


def test_time_pooling_keeps_frequency_apart():
  """Reordering time rows of the last feature map keeps the pooled vector; frequency does not."""
  rng = np.random.default_rng(0)
  x = rng.normal(size=(1, 3, 2, 8)).astype(np.float32)
  inputs = tf.keras.Input((3, 2, 8))
  pool = tf.keras.Model(inputs, encoder_lib.pool(inputs, "time_mean_max", "p"))
  base = pool(x).numpy()
  np.testing.assert_allclose(pool(x[:, ::-1]).numpy(), base, atol=1e-6)
  assert not np.allclose(pool(x[:, :, ::-1]).numpy(), base)
  assert base.shape == (1, 2 * 2 * 8)


def test_pooled_encoder_saves_loads_and_converts_to_builtins(tmp_path):
  params = params_lib.tiny()
  params = params.__class__(**{**params.__dict__, "encoder": params_lib.EncoderParams(
      width=0.25, embedding_dim=16, pooling="time_mean_max")})
  model = encoder_lib.build_encoder(params.encoder, seed=0)
  model_dir.save_encoder(str(tmp_path), model, params)
  loaded, read = model_dir.load_encoder(str(tmp_path))
  x = np.random.default_rng(0).normal(size=(2, 96, 64, 1)).astype(np.float32)
  np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
  assert read.encoder.pooling == "time_mean_max"
  converter = tf.lite.TFLiteConverter.from_keras_model(model)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  assert converter.convert()


def test_unknown_pooling_is_a_clear_error():
  with pytest.raises(ValueError, match="--pooling must be one of"):
    params_lib.EncoderParams(pooling="attention").validate()


@pytest.mark.parametrize("pooling", ["max", "mean_max", "time_mean_max"])
def test_embedding_dim_zero_makes_the_pooled_statistics_the_embedding(pooling):
  params = params_lib.EncoderParams(pooling=pooling, embedding_dim=0, width=0.5)
  model = encoder_lib.build_encoder(params, seed=0)
  assert model.output_shape == (None, params.output_dim())
  assert not model.get_layer("embedding").weights  # an identity, no projection
  assert params_lib.EncoderParams(embedding_dim=64).output_dim() == 64
  with pytest.raises(ValueError, match="--embedding_dim must be >= 0"):
    params_lib.EncoderParams(embedding_dim=-1).validate()
