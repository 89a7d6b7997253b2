"""Tests of mobile_ssl.export.metadata and model_metadata: adding, replacing, reading metadata."""

import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import recipes
from mobile_ssl.export import convert
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import metadata
from mobile_ssl.export import tflite_embedder as embedder_lib
from tests import audio_fixtures

PARAMS = recipes.tiny()
DIM = PARAMS.encoder.embedding_dim


def test_adding_metadata_keeps_the_model(tmp_path):
  encoder = encoder_lib.build_encoder(PARAMS.encoder, PARAMS.features, seed=1)
  raw = convert.convert(inference_model_lib.inference_model(encoder, PARAMS.features, "log_mel"), "float32")
  with pytest.raises(ValueError, match="no 'mobile_ssl' metadata"):
    metadata.read_metadata(raw)
  bare = embedder_lib.TFLiteEmbedder(raw)  # a .tflite from elsewhere still runs
  assert bare.input_kind == "log_mel" and bare.embedding_dim == DIM
  details = (bare.input_details, bare.output_details)
  info = metadata.describe(PARAMS, "log_mel", "float32", "serving_default", *details)
  once = metadata.add(raw, info)
  twice = metadata.add(once, dict(info, quantization="changed"))
  assert metadata.read_metadata(twice)["quantization"] == "changed"
  names = [schema.Model.GetRootAs(twice, 0).Metadata(i).Name()
           for i in range(schema.Model.GetRootAs(twice, 0).MetadataLength())]
  assert names.count(b"mobile_ssl") == names.count(b"TFLITE_METADATA") == 1
  assert abs(len(twice) - len(once)) < 64  # the replaced entries' bytes are gone
  windows, _ = features.frame_waveform(audio_fixtures.chirp(2.0), 0.5, PARAMS.features)
  np.testing.assert_array_equal(bare.embed_windows(windows),
                                embedder_lib.TFLiteEmbedder(twice).embed_windows(windows))
  model = schema.Model.GetRootAs(twice, 0)
  for i in range(model.BuffersLength()):  # weights stay 16-byte aligned
    buffer = model.Buffers(i)
    if buffer.DataLength():
      assert buffer._tab.Vector(4) % 16 == 0
