"""Tests of mobile_ssl.export.tflite_embedder: files it cannot use, workers."""

import numpy as np
import pytest

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import recipes
from mobile_ssl.export import convert
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import tflite_embedder as embedder_lib
from tests import audio_fixtures

PARAMS = recipes.tiny()


def test_bad_files(tmp_path):
  with pytest.raises(ValueError, match="missing.tflite: file not found"):
    embedder_lib.TFLiteEmbedder(str(tmp_path / "missing.tflite"))
  junk = tmp_path / "junk.tflite"
  junk.write_bytes(b"not a flatbuffer at all")
  with pytest.raises(ValueError, match="junk.tflite: not a TFLite model"):
    embedder_lib.TFLiteEmbedder(str(junk))


def test_workers_share_the_windows_and_give_the_same_embeddings():
  encoder = encoder_lib.build_encoder(PARAMS.encoder, PARAMS.features, seed=1)
  raw = convert.convert(inference_model_lib.inference_model(encoder, PARAMS.features, "waveform"), "float32")
  windows, _ = features.frame_waveform(audio_fixtures.chirp(4.0), 0.5, PARAMS.features)
  assert len(windows) > 3
  alone = embedder_lib.TFLiteEmbedder(raw).embed_windows(windows)
  shared = embedder_lib.TFLiteEmbedder(raw, workers=3)
  assert len(shared._runners) == 3  # pylint: disable=protected-access
  np.testing.assert_array_equal(shared.embed_windows(windows), alone)
  np.testing.assert_array_equal(shared.embed_windows(windows[:1]), alone[:1])  # fewer than 3
  assert shared.embed_windows(windows[:0]).shape == (0, PARAMS.encoder.embedding_dim)
