"""Tests of mobile_ssl.benchmark.android's parsing of benchmark_model output (recorded samples).

The adb command lines, through a fake `adb` process, are in tests/benchmark_test.py.
"""

import os

import pytest

from mobile_ssl.benchmark import android

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")


class TestAndroid:

  def test_parses_benchmark_model_output(self):
    parsed = android.parse_benchmark_model(
        open(os.path.join(DATA, "benchmark_model_android.txt")).read())
    assert parsed["init_us"] == 3412 and parsed["first_inference_us"] == 412
    assert parsed["warmup_avg_us"] == pytest.approx(173.822)
    assert parsed["inference_avg_us"] == pytest.approx(168.417)
    assert parsed["memory_init_mb"] == pytest.approx(2.65234)
    assert parsed["memory_overall_mb"] == pytest.approx(3.10547)
    # The timed runs' count line (the last one), not the warm-up's.
    assert parsed["count"] == 5911 and parsed["p50_us"] == 166 and parsed["p95_us"] == 183
    assert parsed["latency_us"] == 166

  def test_parses_logcat_lines_and_exponents(self):
    parsed = android.parse_benchmark_model(
        open(os.path.join(DATA, "benchmark_model_android_large.txt")).read())
    assert parsed["inference_avg_us"] == pytest.approx(1.41985e6)
    assert parsed["warmup_avg_us"] == pytest.approx(1.53215e6)
    assert parsed["memory_overall_mb"] == 47 and parsed["count"] == 10

  def test_failed_tool_output_is_one_line(self):
    with pytest.raises(ValueError, match="no 'Inference timings' line; last line: .*not found"):
      android.parse_benchmark_model("STARTING!\nmodel.tflite not found\n")
