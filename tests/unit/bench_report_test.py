"""Tests of mobile_ssl.benchmark.bench_report: ratios, Markdown, JSON and PNGs of a short real run."""

import json

import pytest

from mobile_ssl.benchmark import bench_report
from mobile_ssl.benchmark import latency
from tests import model_fixtures


def _fake_report(models):
  result = latency.run_request(model_fixtures.latency_request(models, configs=[{"threads": 1, "xnnpack": True}],
                                        repeats=1))
  base = {"size_bytes": 1000, "weights": 10, "macs": 1000, "op_histogram": {"CONV_2D": 1},
          "width": 1.0, "arch": "paper", "input": "log_mel", "precision": "int8",
          "results": result["models"][0]["results"]}
  ours = dict(base, name="ours", family="ours",
              accuracy={"accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "task": "T"})
  slow = [dict(r, latency_us=r["latency_us"] * 4) for r in base["results"]]
  peer = dict(base, name="peer", family="peer", size_bytes=4000, macs=8000, results=slow)
  report = {"target": "host", "label": "host x86_64", "platform": result["platform"],
            "settings_text": "test", "models": [ours, peer]}
  report["ratios"] = bench_report.ratios(report["models"])
  return report


class TestReport:

  def test_ratios_are_ours_against_each_peer(self, models):
    (ratio,) = _fake_report(models)["ratios"]
    assert ratio["ours"] == "ours" and ratio["peer"] == "peer"
    assert ratio["speedup"] == pytest.approx(4.0) and ratio["size_ratio"] == pytest.approx(0.25)
    assert ratio["macs_ratio"] == pytest.approx(0.125)

  def test_writes_json_markdown_and_pngs(self, models, tmp_path):
    paths = bench_report.write(_fake_report(models), str(tmp_path))
    assert json.loads(open(paths["json"]).read())["ratios"][0]["peer"] == "peer"
    text = open(paths["markdown"]).read()
    assert "| ours | peer | int8 |" in text and "4.00x" in text and "## Width sweep" in text
    features = latency.cpu_features()
    assert f"CPU features: {' '.join(features) if features else 'not read'}" in text
    assert "Recommended precision: " in text
    for key in ("png", "accuracy_png"):
      with open(paths[key], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
