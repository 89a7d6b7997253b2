"""Tests of mobile_ssl.benchmark.latency in-process: the LiteRT runner, int8 inputs, CPU features."""

import os

import numpy as np
import pytest

from mobile_ssl.benchmark import latency

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture()
def models(tiny_tflite):
  """The tiny encoder's float32 and int8 .tflite files (tests/conftest.py)."""
  return tiny_tflite


def _request(models, **overrides):
  request = {"models": [{"name": "tiny", "path": models["float32"], "inputs": [models["input"]]}],
             "configs": [{"threads": 1, "xnnpack": True}, {"threads": 1, "xnnpack": False}],
             "warmup_runs": 3, "num_runs": 20, "repeats": 2, "progress": False}
  request.update(overrides)
  return request


class TestLatencyRunner:

  def test_fields_are_sane_and_output_matches_interpreter(self, models):
    result = latency.run_request(_request(models))
    entry = result["models"][0]
    assert [(r["threads"], r["xnnpack"]) for r in entry["results"]] == [(1, True), (1, False)]
    for r in entry["results"]:
      assert r["count"] == 40 and len(r["round_p50_us"]) == 2
      assert r["init_us"] > 0 and r["first_inference_us"] > 0 and r["warmup_avg_us"] > 0
      assert r["min_us"] <= r["p50_us"] <= r["p90_us"] <= r["p99_us"]
      assert r["min_us"] <= r["latency_us"] <= max(r["round_p50_us"])
      assert r["memory_init_mb"] is not None and r["memory_overall_mb"] is not None
    it = latency.interpreter(models["float32"])
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.load(models["input"]))
    it.invoke()
    np.testing.assert_allclose(entry["output"], latency.output_values(it).ravel(), atol=1e-5)
    assert result["platform"]["machine"] and result["platform"]["peak_rss_mb"] > 0

  def test_int8_input_is_quantized_from_float(self):
    detail = {"shape": np.array([1, 4]), "dtype": np.int8, "quantization": (0.5, -3)}
    values = latency.prepare_input(detail, np.array([1.0, 0.0, -100.0, 100.0]))
    assert values.dtype == np.int8
    np.testing.assert_array_equal(values, [[-1, -3, -128, 127]])  # round(x / 0.5) - 3, clipped


class TestCpuFeatures:

  def test_x86_flags_and_their_kernels(self):
    cpuinfo = ("processor\t: 0\nflags\t\t: fpu sse avx avx2 fma avx512f avx512bw avx512_vnni\n"
               "processor\t: 1\nflags\t\t: fpu sse avx avx2 fma avx512f avx512bw avx512_vnni\n")
    features = latency.cpu_features(cpuinfo)
    assert features == ["avx2", "fma", "avx512f", "avx512_vnni"]
    assert "VNNI" in latency.kernel_summary(features)
    assert latency.recommend_precision(features).startswith("int8: ")
    avx2 = latency.cpu_features("flags : sse avx avx2 fma\n")
    assert avx2 == ["avx2", "fma"] and "without VNNI" in latency.kernel_summary(avx2)
    assert "compare with float32" in latency.recommend_precision(avx2)

  def test_arm_features_from_the_emulation_cpuinfo(self):
    with open(os.path.join(REPO, "mobile_ssl", "benchmark", "cpuinfo-neoverse-n1")) as f:
      features = latency.cpu_features(f.read())
    assert features == ["asimd", "asimddp", "asimdhp"]
    assert "dotprod (SDOT), no i8mm" in latency.kernel_summary(features)
    i8mm = latency.cpu_features("Features\t: fp asimd asimddp i8mm\n")
    assert "i8mm" in i8mm and "SMMLA" in latency.kernel_summary(i8mm)

  def test_no_flags_is_said(self):
    assert latency.cpu_features("processor : 0\n") == []
    assert latency.kernel_summary([]).startswith("unknown")
    assert latency.platform_info()["cpu_features"] == latency.cpu_features()
