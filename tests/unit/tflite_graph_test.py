"""Tests of mobile_ssl.benchmark.tflite_graph: what a .tflite holds, and its ops cut out one by one."""

import os

import numpy as np
import pytest

from mobile_ssl.benchmark import latency
from mobile_ssl.benchmark import tflite_graph
from mobile_ssl.core import encoder as encoder_lib


class TestTfliteGraph:

  def test_counts_match_the_keras_encoder(self, models):
    keras_counts = encoder_lib.complexity(models["encoder"])
    for precision in ("float32", "int8"):
      info = tflite_graph.describe(models[precision])
      assert info["macs"] == keras_counts["macs"]
      assert info["precision"] == precision
      assert info["op_histogram"]["CONV_2D"] == 10 and info["op_histogram"]["MAX_POOL_2D"] == 5
      assert 0.9 * keras_counts["params"] < info["weights"] <= keras_counts["params"]
      assert info["size_bytes"] == os.path.getsize(models[precision])
      assert info["inputs"][0]["shape"] == [1, 96, 64, 1]

  def test_bad_files_name_the_path(self, tmp_path):
    with pytest.raises(ValueError, match="missing.tflite: model file not found"):
      tflite_graph.read(str(tmp_path / "missing.tflite"))
    text = tmp_path / "notes.tflite"
    text.write_text("not a model")
    with pytest.raises(ValueError, match="notes.tflite: not a TFLite flatbuffer"):
      tflite_graph.read(str(text))


class TestOpProfile:

  def test_each_single_op_model_reproduces_the_whole_model(self, models):
    """Cut-out ops give the same tensors as the whole model (builtin kernels, both sides)."""
    from ai_edge_litert import interpreter as litert
    full = litert.Interpreter(
        model_path=models["int8"], experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    full.allocate_tensors()
    full.set_tensor(full.get_input_details()[0]["index"], np.load(models["input"]))
    full.invoke()
    ops = full._get_ops_details()  # pylint: disable=protected-access
    singles = list(tflite_graph.single_op_models(models["int8"]))
    assert [s["op"] for s in singles] == tflite_graph.describe(models["int8"])["ops"]
    for single in singles:
      it = latency.interpreter(single["content"], xnnpack=False)
      it.allocate_tensors()
      for detail, tensor in zip(it.get_input_details(), single["inputs"]):
        it.set_tensor(detail["index"], full.get_tensor(tensor))
      it.invoke()
      got = it.get_tensor(it.get_output_details()[0]["index"])
      np.testing.assert_array_equal(got, full.get_tensor(ops[single["index"]]["outputs"][0]))

  def test_profile_rows(self, models):
    rows = latency.op_profile(models["int8"], [np.load(models["input"])], runs=20)
    assert [r["op"] for r in rows] == tflite_graph.describe(models["int8"])["ops"]
    assert all(r["median_us"] > 0 for r in rows)
    assert rows[1]["op"] == "CONV_2D" and rows[1]["output_shape"][1:3] == [96, 64]
