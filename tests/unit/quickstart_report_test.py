"""Tests of mobile_ssl.commands.quickstart_report: the summary lines from a summary dict."""

from mobile_ssl.commands import quickstart_report


def _model(name, family, latency_us, size_bytes, **extra):
  return dict({"name": name, "family": family, "precision": "int8", "input": "waveform",
               "arch": "yamnet" if family == "peer" else "paper", "size_bytes": size_bytes,
               "results": [{"threads": 1, "xnnpack": True, "latency_us": latency_us}]}, **extra)


def _bench(peer_extra=None, **ours_extra):
  """Ours against the log-mel-in YAMNet, or the peer `peer_extra` makes of it."""
  peer_extra = peer_extra or {"input": "log_mel"}
  return {"label": "host x86_64", "platform": {"cpu_features": ["avx2", "fma"]},
          "models": [_model("ours", "ours", 2000.0, 100_000, **ours_extra),
                     _model("peer", "peer", 8000.0, 4_000_000, **peer_extra)]}


def test_benchmark_lines_give_the_measured_ratios():
  lines = quickstart_report.benchmark_lines(_bench())
  assert lines[0] == "- host x86_64, 1 thread, XNNPACK, median of interleaved rounds;"
  assert "  CPU features: avx2 fma." in lines
  assert "- ours (waveform in, front end included): 2.000 ms, 100,000 bytes" in lines
  assert ("- yamnet architecture (log-mel in, no front end), int8, random weights: 8.000 ms, "
          "4,000,000 bytes") in lines
  assert lines[-1] == "- ours / peer: latency 0.25x, size 0.025x"


def test_front_end_share_gives_the_encoders_own_speed_up():
  lines = quickstart_report.benchmark_lines(_bench(front_end={"total_us": 2000.0, "share": 0.5}))
  # Half of 2 ms is the front end: the encoder part is 1 ms, 8x faster than the peer's 8 ms.
  assert lines[-1] == ("- in our model the log-mel front end takes 50 % of the time; the encoder "
                       "part (~1.000 ms) is 8.0x faster than the peer")


def test_missing_parts_are_said():
  assert quickstart_report.benchmark_lines(None) == ["(not benchmarked)"]
  no_peer = _bench()
  no_peer["models"] = no_peer["models"][:1]
  assert quickstart_report.benchmark_lines(no_peer) == ["(no timing)"]
  text = quickstart_report.summary_text({"rows": [], "export": None, "benchmark": None})
  assert text.splitlines()[1:] == [
      "## Linear probe (clip accuracy %, 95 % interval)",
      "(the dataset has no labels: no linear probe)", "", "## int8 waveform model",
      "(not exported)", "(not benchmarked)"]


def test_export_lines_report_file_cosines_probe_and_failure():
  export = {"path": "out/enc.tflite", "size_bytes": 123456,
            "input": {"name": "waveform", "shape": [1, 15600]},
            "validation": {"mean_cosine": 0.999871, "min_cosine": 0.99512},
            "probe": {"task": "SYN", "tflite_accuracy": 0.75, "keras_accuracy": 0.8},
            "error": "min cosine 0.9 < 0.95"}
  assert quickstart_report._export_lines(export)[:4] == [  # pylint: disable=protected-access
      "**The int8 model failed validation and was not written:** min cosine 0.9 < 0.95",
      "- file (refused, not written): `out/enc.tflite`, 123,456 bytes, input `waveform` "
      "[1, 15600], output `embedding`",
      "- cosine to the Keras encoder on held-out windows: mean 0.99987, min 0.99512",
      "- linear probe on `SYN`: .tflite 0.750 vs Keras 0.800"]
  # A refused file: how to write it anyway, with the run's own paths.
  assert "`export_tflite --encoder=<run> --output=out/enc.tflite --quantization=int8" in (
      quickstart_report._export_lines(export)[4])  # pylint: disable=protected-access
  # Written afterwards by that command (the next quickstart run finds the file): said so.
  later = quickstart_report._export_lines(  # pylint: disable=protected-access
      dict(export, written_without_probe_check=True))
  assert later[0] == ("**The int8 model failed validation** (min cosine 0.9 < 0.95); the file "
                      "at that path was written afterwards, outside the quickstart's checked "
                      "export.")
  assert later[1].startswith("- file (written outside the quickstart's checks): `out/enc.tflite`")
  assert len(later) == 4  # no hint
  del export["error"]
  export["probe"].update(train_window_stride=4, train_windows=5922)
  assert quickstart_report._export_lines(export)[-1] == (  # pylint: disable=protected-access
      "- linear probe on `SYN`: .tflite 0.750 vs Keras 0.800 (both probes fitted on 1 in 4 "
      "train windows, 5,922 windows)")


def test_a_waveform_peer_is_named_so_and_both_parts_are_compared():
  # The peer does the same work: 8 ms, a quarter of it its front end; ours 2 ms, half of it.
  lines = quickstart_report.benchmark_lines(_bench(
      peer_extra={"input": "waveform", "arch": "yamnet_waveform",
                  "front_end": {"total_us": 8000.0, "share": 0.25}},
      front_end={"total_us": 2000.0, "share": 0.5}))
  assert ("- yamnet_waveform (waveform in, front end included), int8, random weights: "
          "8.000 ms, 4,000,000 bytes") in lines
  assert "- ours / peer: latency 0.25x, size 0.025x" in lines
  assert lines[-2:] == ["- front end: ours ~1.000 ms (50 %), the peer's ~2.000 ms (25 %)",
                        "- encoder part: ours ~1.000 ms, the peer's ~6.000 ms (6.0x)"]
  assert not any("log-mel in" in line for line in lines)


def test_the_reports_counts_and_stage_times_read_as_text():
  assert quickstart_report.clip_counts({"train": 2400, "validation": 300, "test": 300}) == (
      "train 2,400, validation 300, test 300")
  line = quickstart_report.stage_line({"data": 10.0, "pretrain": 50.0, "probe": 40.0,
                                       "report": None})
  assert line == "data 10.0 s (10 %), pretrain 50.0 s (50 %), probe 40.0 s (40 %); 100.0 s in all"
  assert quickstart_report.stage_line({"data": None}) == "(no stage finished)"


def test_a_file_found_after_a_refusal_is_this_encoders_only_when_newer(tmp_path):
  """quickstart.file_after_refusal: what the report and the benchmark make of a file there."""
  import os  # pylint: disable=import-outside-toplevel
  from mobile_ssl.commands import quickstart  # pylint: disable=import-outside-toplevel
  encoder, model = tmp_path / "encoder.keras", tmp_path / "enc.tflite"
  encoder.write_bytes(b"k")
  refused = {"path": str(model), "error": "probe drop 1.33 > 1.00 points"}
  # Nothing there: the refusal stands as it is.
  assert quickstart.file_after_refusal(refused, str(model), str(encoder)) == refused
  model.write_bytes(b"t")
  os.utime(encoder, (1000, 1000))
  os.utime(model, (2000, 2000))  # written after this encoder: by hand, benchmarked
  later = quickstart.file_after_refusal(refused, str(model), str(encoder))
  assert later == dict(refused, written_without_probe_check=True)
  os.utime(model, (500, 500))  # older than this encoder: an earlier encoder's file
  stale = quickstart.file_after_refusal(refused, str(model), str(encoder))
  assert stale == dict(refused, stale_file=True)
  lines = quickstart_report._export_lines(stale)  # pylint: disable=protected-access
  assert lines[0].startswith("**The int8 model failed validation and was not written:**")
  assert lines[1] == (f"- the file at `{model}` is older than this run's encoder, from an "
                      "earlier one: kept as it was, not benchmarked")
  # An accepted export is this run's file whatever its age.
  accepted = {"path": str(model)}
  assert quickstart.file_after_refusal(accepted, str(model), str(encoder)) == accepted
