"""Tests of the 'fast' encoder variant: the paper's stack, block 1's pool folded into strides."""

import tempfile

import numpy as np
import pytest

from mobile_ssl.export import convert
from mobile_ssl.benchmark import tflite_graph
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from tests import audio_fixtures

FEATURES = params_lib.FeatureParams()


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
    model = convert.inference_model(_build("fast", width=0.25), FEATURES, "log_mel")
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
