"""Tests of mobile_ssl.export.tflite_embedder without a model: files it cannot use."""

import pytest

from mobile_ssl.export import tflite_embedder as embedder_lib


def test_bad_files(tmp_path):
  with pytest.raises(ValueError, match="missing.tflite: file not found"):
    embedder_lib.TFLiteEmbedder(str(tmp_path / "missing.tflite"))
  junk = tmp_path / "junk.tflite"
  junk.write_bytes(b"not a flatbuffer at all")
  with pytest.raises(ValueError, match="junk.tflite: not a TFLite model"):
    embedder_lib.TFLiteEmbedder(str(junk))
