"""Tests of mobile_ssl.core.encoder: pooling options (shapes, parameters, saving, TFLite ops)
and the 'fast' variant (the paper's stack, block 1's pool folded into strides)."""

import dataclasses
import tempfile

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import interpreter as litert

from mobile_ssl.benchmark import tflite_graph
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import model_dir
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.export import convert
from mobile_ssl.export import inference_model as inference_model_lib
from tests import audio_fixtures

FEATURES = params_lib.FeatureParams()


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


def _run_builtins_tflite(model, x):
  """`model` converted with builtin ops only, run by LiteRT on x."""
  converter = tf.lite.TFLiteConverter.from_keras_model(model)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  interpreter = litert.Interpreter(model_content=converter.convert())
  interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], x.shape)
  interpreter.allocate_tensors()
  interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
  interpreter.invoke()
  return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize("pooling,embedding_dim", [("time_mean_max", 16),
                                                   ("multi_mean_std", 0)])
def test_pooled_encoder_saves_loads_and_converts_to_builtins(tmp_path, pooling, embedding_dim):
  params = recipes.tiny()
  params = params.__class__(**{**params.__dict__, "encoder": params_lib.EncoderParams(
      width=0.25, embedding_dim=embedding_dim, pooling=pooling)})
  model = encoder_lib.build_encoder(params.encoder, seed=0)
  model_dir.save_encoder(str(tmp_path), model, params)
  loaded, read = model_dir.load_encoder(str(tmp_path))
  x = np.random.default_rng(0).normal(size=(2, 96, 64, 1)).astype(np.float32)
  np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), atol=1e-6)
  assert read.encoder.pooling == pooling
  got = _run_builtins_tflite(model, x)
  # the pooling converts as it runs (the square root of a variance near 0 is the loosest)
  np.testing.assert_allclose(got, model(x).numpy(), rtol=1e-4, atol=1e-4)


def test_multi_mean_std_pools_the_last_three_blocks():
  """mean and std over time of blocks 3-5 (frequency rows kept): 3 x 512 values at width 1."""
  params = params_lib.EncoderParams(pooling="multi_mean_std", embedding_dim=0)
  model = encoder_lib.build_encoder(params, seed=0)
  assert model.output_shape == (None, params.output_dim()) == (None, 8 * 2 * 32 + 4 * 2 * 64
                                                               + 2 * 2 * 128)
  x = np.random.default_rng(0).normal(size=(2, 96, 64, 1)).astype(np.float32)
  block4 = tf.keras.Model(model.input, model.get_layer("block4_pool").output)(x).numpy()
  mean, std = block4.mean(axis=1), np.sqrt(block4.var(axis=1) + encoder_lib.STD_EPSILON)
  expected = np.concatenate([mean, std], -1).reshape(2, -1)
  np.testing.assert_allclose(model(x).numpy()[:, 512:1024], expected, rtol=1e-4, atol=1e-4)
  assert encoder_lib.complexity(model)["params"] == encoder_lib.complexity(
      encoder_lib.build_encoder(params_lib.EncoderParams(pooling="time_mean_max",
                                                         embedding_dim=0)))["params"]


def test_multi_mean_std_pools_as_many_blocks_as_asked():
  """--pool_blocks=5 adds blocks 1 and 2 (32 x 8 and 16 x 16 rows x 2) in front; same weights."""
  params = params_lib.EncoderParams(pooling="multi_mean_std", embedding_dim=0, pool_blocks=5)
  model = encoder_lib.build_encoder(params, seed=0)
  assert model.output_shape == (None, params.output_dim()) == (None, 5 * 512)
  x = np.random.default_rng(0).normal(size=(2, 96, 64, 1)).astype(np.float32)
  block1 = tf.keras.Model(model.input, model.get_layer("block1_pool").output)(x).numpy()
  mean, std = block1.mean(axis=1), np.sqrt(block1.var(axis=1) + encoder_lib.STD_EPSILON)
  expected = np.concatenate([mean, std], -1).reshape(2, -1)
  np.testing.assert_allclose(model(x).numpy()[:, :512], expected, rtol=1e-4, atol=1e-4)
  three = encoder_lib.build_encoder(dataclasses.replace(params, pool_blocks=3), seed=0)
  np.testing.assert_allclose(model(x).numpy()[:, 1024:], three(x).numpy(), rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match=r"--pool_blocks must be >= 1, got 0"):
    dataclasses.replace(params, pool_blocks=0).validate()


def test_time_mean_input_norm_ignores_a_fixed_filter_on_the_log_mel():
  """--input_norm=time_mean: a per-bin offset (a gain or a fixed filter) leaves the embedding as it was."""
  params = params_lib.EncoderParams(pooling="multi_mean_std", embedding_dim=0, pool_blocks=5,
                                    input_norm="time_mean")
  model = encoder_lib.build_encoder(params, seed=0)
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 96, 64, 1)).astype(np.float32)
  tilt = rng.normal(scale=3.0, size=(1, 1, 64, 1)).astype(np.float32)
  np.testing.assert_allclose(model(x + tilt).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-4)
  plain = encoder_lib.build_encoder(dataclasses.replace(params, input_norm="none"), seed=0)
  assert np.abs(plain(x + tilt).numpy() - plain(x).numpy()).max() > 1e-2  # without it, it moves
  centred = x - x.mean(axis=1, keepdims=True)
  np.testing.assert_allclose(model(x).numpy(), plain(centred).numpy(), rtol=1e-4, atol=1e-4)
  with pytest.raises(ValueError, match=r"--input_norm must be one of none, time_mean, got 'pcen'"):
    dataclasses.replace(params, input_norm="pcen").validate()


def test_unknown_pooling_is_a_clear_error():
  with pytest.raises(ValueError, match="--pooling must be one of"):
    params_lib.EncoderParams(pooling="attention").validate()


@pytest.mark.parametrize("pooling", ["max", "mean_max", "time_mean_max", "multi_mean_std"])
def test_embedding_dim_zero_makes_the_pooled_statistics_the_embedding(pooling):
  params = params_lib.EncoderParams(pooling=pooling, embedding_dim=0, width=0.5)
  model = encoder_lib.build_encoder(params, seed=0)
  assert model.output_shape == (None, params.output_dim())
  assert not model.get_layer("embedding").weights  # an identity, no projection
  assert params_lib.EncoderParams(embedding_dim=64).output_dim() == 64
  with pytest.raises(ValueError, match="--embedding_dim must be >= 0"):
    params_lib.EncoderParams(embedding_dim=-1).validate()



def _build(variant, width=1.0, seed=0):
  return encoder_lib.build_encoder(params_lib.EncoderParams(variant=variant, width=width),
                                   FEATURES, seed=seed)


class TestFastVariant:

  def test_is_a_registered_variant(self):
    assert encoder_lib.VARIANTS == ("paper", "fast")
    with pytest.raises(ValueError, match="unknown encoder variant 'tiny'"):
      encoder_lib.layer_table(params_lib.EncoderParams(variant="tiny"))

  def test_block1_pool_becomes_strides(self):
    model = _build("fast")
    time_conv, freq_conv = model.get_layer("block1_conv_time"), model.get_layer("block1_conv_freq")
    assert time_conv.kernel_size == (3, 1) and time_conv.strides == (2, 1)
    assert freq_conv.kernel_size == (1, 3) and freq_conv.strides == (1, 2)
    assert time_conv.output.shape[1:] == (48, 64, 8)
    assert freq_conv.output.shape[1:] == (48, 32, 8)
    assert "block1_pool" not in [layer.name for layer in model.layers]
    # Blocks 2.. and the head are the paper's, layer for layer.
    paper = [r for r in encoder_lib.layer_table(params_lib.EncoderParams()) if
             not r[0].startswith("block1_")]
    fast = encoder_lib.layer_table(params_lib.EncoderParams(variant="fast"))[6:]
    assert fast == paper

  @pytest.mark.parametrize("width", [0.25, 0.5, 1.0, 2.0])
  def test_same_weights_fewer_macs_than_paper(self, width):
    paper, fast = (_build(v, width) for v in ("paper", "fast"))
    assert [w.shape for w in fast.weights] == [w.shape for w in paper.weights]
    paper_counts, fast_counts = encoder_lib.complexity(paper), encoder_lib.complexity(fast)
    assert fast_counts["params"] == paper_counts["params"]
    assert 0.85 * paper_counts["macs"] < fast_counts["macs"] < paper_counts["macs"]

  def test_outputs_and_seeds(self):
    x = np.random.default_rng(0).normal(-4, 2, (3, 96, 64, 1)).astype(np.float32)
    a, b, c = (np.asarray(_build("fast", seed=s)(x)) for s in (0, 0, 1))
    assert a.shape == (3, 128) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)

  def test_converts_to_int8_with_only_xnnpack_friendly_ops(self):
    model = inference_model_lib.inference_model(_build("fast", width=0.25), FEATURES, "log_mel")
    sounds = [audio_fixtures.sine(1.0, 440.0), audio_fixtures.noise(1.0, seed=1),
              audio_fixtures.chirp(1.0), audio_fixtures.sine(1.0, 2000.0)]
    log_mels = features.log_mel_spectrogram(
        np.stack([s[:FEATURES.slice_samples] for s in sounds]), FEATURES).numpy()
    flatbuffer = convert.convert(model, "int8", [x[None, ..., None] for x in log_mels])
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
      f.write(flatbuffer)
      f.flush()
      info = tflite_graph.describe(f.name)
    assert info["precision"] == "int8"
    assert info["op_histogram"]["CONV_2D"] == 10 and info["op_histogram"]["MAX_POOL_2D"] == 4


class _OnePassMeanStd(tf.keras.layers.Layer):
  """The E[x^2] - E[x]^2 form TimeMeanStd used before (the test's counter-example)."""

  def call(self, x):
    mean = tf.reduce_mean(x, axis=1)
    variance = tf.maximum(tf.reduce_mean(tf.square(x), axis=1) - tf.square(mean), 0.0)
    joined = tf.concat([mean, tf.sqrt(variance + encoder_lib.STD_EPSILON)], -1)
    return tf.reshape(joined, (-1, joined.shape[1] * joined.shape[2]))


def _int8_std_error(layer, x):
  """Relative RMSE of the std half of a mean/std pool, int8 file against float, on x."""
  inputs = tf.keras.Input(x.shape[1:])
  model = tf.keras.Model(inputs, layer(inputs))
  converter = tf.lite.TFLiteConverter.from_keras_model(model)
  converter.optimizations = [tf.lite.Optimize.DEFAULT]
  converter.representative_dataset = lambda: ([x[i:i + 1]] for i in range(len(x)))
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
  interpreter = litert.Interpreter(model_content=converter.convert())
  interpreter.allocate_tensors()
  got = []
  for i in range(len(x)):
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[i:i + 1])
    interpreter.invoke()
    got.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
  channels = x.shape[3]
  std_part = lambda y: np.asarray(y).reshape(len(x), x.shape[2], 2 * channels)[..., channels:]
  want, got = std_part(model(x).numpy()), std_part(got)
  return float(np.sqrt(np.mean((got - want) ** 2)) / np.std(want))


def test_int8_std_pooling_survives_a_large_offset():
  """The two-pass variance keeps int8 std within a few % where E[x^2] - E[x]^2 cancels.

  ReLU maps whose units fire steadily (a large mean, a small spread over time) are
  the case that cost the tuned encoders' int8 files their accuracy
  (docs/export.md, "int8 and what it loses").
  """
  rng = np.random.default_rng(0)
  level = rng.uniform(2.0, 6.0, size=(1, 1, 4, 8))
  spread = rng.uniform(0.05, 0.5, size=(64, 1, 4, 8))
  x = np.maximum(level + spread * rng.normal(size=(64, 12, 4, 8)), 0).astype(np.float32)
  two_pass = _int8_std_error(encoder_lib.TimeMeanStd(), x)
  one_pass = _int8_std_error(_OnePassMeanStd(), x)
  assert two_pass < 0.2, two_pass  # 0.14 here; the one-pass form: 1.09
  assert one_pass > 4 * two_pass, (one_pass, two_pass)
