"""Tests of mobile_ssl.benchmark.latency in-process: the LiteRT runner, int8 inputs, CPU features."""

import os
import platform
import resource

import numpy as np
import pytest

from mobile_ssl.benchmark import latency
from tests import model_fixtures

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TestLatencyRunner:

  def test_fields_are_sane_and_output_matches_interpreter(self, models):
    result = latency.run_request(model_fixtures.latency_request(models))
    entry = result["models"][0]
    assert [(r["threads"], r["xnnpack"]) for r in entry["results"]] == [(1, True), (1, False)]
    for r in entry["results"]:
      assert r["count"] == 40 and len(r["round_p50_us"]) == 2
      assert r["init_us"] > 0 and r["first_inference_us"] > 0 and r["warmup_avg_us"] > 0
      assert r["latency_us"] == pytest.approx(np.median(r["round_p50_us"]))
      assert r["memory_init_mb"] is not None and r["memory_overall_mb"] is not None
    it = latency.interpreter(models["float32"])
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], np.load(models["input"]))
    it.invoke()
    np.testing.assert_allclose(entry["output"], latency.output_values(it).ravel(), atol=1e-5)
    assert result["platform"]["machine"] == platform.machine()
    # ru_maxrss when the run ended: TensorFlow alone is loaded with more than 100 MB,
    # and the peak can only have grown since.
    now_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert 100 < result["platform"]["peak_rss_mb"] <= now_mb + 0.1

  def test_statistics_are_those_of_the_timed_runs(self, models, monkeypatch):
    """With known invoke times (a stand-in timer), every statistic has a value worked out by hand."""
    rounds = {}

    def timed(it, runs):
      if runs == 1:  # the first inference
        return [1000.0]
      if runs == 2:  # the other warm-up runs (warmup_runs=3)
        return [500.0, 300.0]
      k = rounds[id(it)] = rounds.get(id(it), 0) + 1  # round k: 100k .. 100k + 19 us
      return [100.0 * k + i for i in range(runs)]

    monkeypatch.setattr(latency, "_timed", timed)
    (r,) = latency.run_request(model_fixtures.latency_request(models, configs=[{"threads": 1, "xnnpack": True}]))[
        "models"][0]["results"]
    assert r["count"] == 40 and r["min_us"] == 100.0
    assert (r["first_inference_us"], r["warmup_avg_us"]) == (1000.0, 400.0)
    assert r["round_p50_us"] == [109.5, 209.5] and r["latency_us"] == 159.5
    assert r["inference_avg_us"] == 159.5 and r["p50_us"] == 159.5  # between 119 and 200
    # Linear interpolation at ranks 0.9 * 39 = 35.1 and 0.99 * 39 = 38.61 of the 40 times.
    assert r["p90_us"] == pytest.approx(215.1) and r["p99_us"] == pytest.approx(218.61)
    assert r["std_us"] == pytest.approx(np.std(list(range(100, 120)) + list(range(200, 220))))

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
    assert latency.recommend_precision(avx2).startswith("float32 for latency, int8 for size")
    # ARM without dotprod is unmeasured: the table decides.
    assert "compare with float32" in latency.recommend_precision(["asimd"])

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
