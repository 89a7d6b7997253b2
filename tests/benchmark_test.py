"""Tests of mobile-ssl-bench that run processes: the child runner, the android target, the
emulated target (slow), the shell's flag errors, and the YAMNet waveform peer's conversion.
In-process tests (runner, .tflite reading, peers, reports, CLI errors) are in tests/unit/.

The android target runs against a fake `adb` (tests/data/fake_adb.py) placed
first on PATH, because no phone exists here: it records every command line and
prints benchmark_model / benchmark-app output in the tools' real line formats
(tests/data/benchmark_*.txt; the formats are those of TFLite's documentation
and of published device logs, the numbers are samples, not our measurements).
The emulated target's end-to-end test is slow (it sets the sysroot up).
"""

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from mobile_ssl.benchmark import android
from mobile_ssl.benchmark import emulation
from mobile_ssl.benchmark import latency
from mobile_ssl.benchmark import peers
from mobile_ssl.benchmark import tflite_graph
from mobile_ssl.commands import bench as bench_cmd
from mobile_ssl.core import params as params_lib
from mobile_ssl.export import convert
from tests import model_fixtures

DATA = os.path.join(os.path.dirname(__file__), "data")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERIAL = "R58M12345"


class TestLatencyRunner:

  def test_child_process_gives_the_same_output(self, models):
    inside = latency.run_request(model_fixtures.latency_request(models, repeats=1))
    child = latency.run_in_child(model_fixtures.latency_request(models, repeats=1))
    np.testing.assert_allclose(child["models"][0]["output"], inside["models"][0]["output"],
                               atol=1e-6)


@pytest.fixture()
def fake_adb(tmp_path, monkeypatch):
  """`adb` on PATH is tests/data/fake_adb.py; returns a reader of the recorded argv lists."""
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  script = bin_dir / "adb"
  script.write_text(f"#!/bin/sh\nexec {sys.executable} {os.path.join(DATA, 'fake_adb.py')} "
                    "\"$@\"\n")
  script.chmod(script.stat().st_mode | stat.S_IEXEC)
  log = tmp_path / "adb.log"
  monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
  monkeypatch.setenv("FAKE_ADB_LOG", str(log))
  monkeypatch.setenv("FAKE_ADB_SERIAL", SERIAL)
  monkeypatch.setenv("FAKE_ADB_BENCHMARK", os.path.join(DATA, "benchmark_model_android.txt"))
  monkeypatch.setenv("FAKE_ADB_LOGCAT", os.path.join(DATA, "benchmark_apk_logcat.txt"))
  return lambda: [json.loads(line) for line in log.read_text().splitlines()]


class TestAndroid:

  def test_binary_flow_command_lines(self, fake_adb, tmp_path):
    binary = tmp_path / "android_aarch64_benchmark_model"
    binary.write_bytes(b"\x7fELF")
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    result = android.run(SERIAL, [("m", str(model))], [{"threads": 1, "xnnpack": True},
                                                        {"threads": 4, "xnnpack": False}],
                         warmup_runs=5, num_runs=50, benchmark_binary=str(binary))
    calls = fake_adb()
    remote = "/data/local/tmp/mobile_ssl"
    assert calls[:4] == [
        ["-s", SERIAL, "get-state"],
        ["-s", SERIAL, "shell", f"mkdir -p {remote}"],
        ["-s", SERIAL, "push", str(binary), f"{remote}/android_aarch64_benchmark_model"],
        ["-s", SERIAL, "shell", f"chmod 755 {remote}/android_aarch64_benchmark_model"]]
    assert calls[4] == ["-s", SERIAL, "push", str(model), f"{remote}/m.tflite"]
    assert calls[5] == ["-s", SERIAL, "shell",
                        f"taskset f0 {remote}/android_aarch64_benchmark_model "
                        f"--graph={remote}/m.tflite --num_threads=1 --use_xnnpack=true "
                        "--warmup_runs=5 --num_runs=50"]
    assert "--num_threads=4 --use_xnnpack=false" in calls[6][3]
    (entry,) = result["models"]
    assert [r["threads"] for r in entry["results"]] == [1, 4]
    assert entry["results"][0]["inference_avg_us"] == pytest.approx(168.417)
    assert result["platform"]["device"] == "Pixel 7" and result["platform"]["cpu_mask"] == "f0"
    assert result["platform"]["cpu_features"] == ["asimd", "asimddp", "asimdhp"]
    assert result["platform"]["recommended_precision"].startswith("int8: ")

  def test_apk_flow_command_lines(self, fake_adb, tmp_path):
    model = tmp_path / "m.tflite"
    model.write_bytes(b"x")
    result = android.run(SERIAL, [("m", str(model))], [{"threads": 4, "xnnpack": True}],
                         warmup_runs=1, num_runs=50, mode="apk", poll_s=0)
    calls = fake_adb()
    start = ["-s", SERIAL, "shell",
             "am start -S -n org.tensorflow.lite.benchmark/.BenchmarkModelActivity --es args "
             "'--graph=/data/local/tmp/mobile_ssl/m.tflite --num_threads=4 --use_xnnpack=true "
             "--warmup_runs=1 --num_runs=50'"]
    assert ["-s", SERIAL, "logcat", "-c"] in calls and start in calls
    assert calls.index(["-s", SERIAL, "logcat", "-c"]) < calls.index(start)
    assert ["-s", SERIAL, "logcat", "-d", "-s", "tflite"] in calls
    parsed = result["models"][0]["results"][0]
    assert parsed["init_us"] == 4108 and parsed["inference_avg_us"] == pytest.approx(166.9)

  def test_unknown_serial_is_adbs_message(self, fake_adb, tmp_path):
    with pytest.raises(android.AdbError, match="device 'nope' not found"):
      android.run("nope", [], [], warmup_runs=1, num_runs=1, mode="apk")


class TestCli:

  def test_android_target_through_fake_adb(self, models, fake_adb, tmp_path, capsys):
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    code, out, err = model_fixtures.run_command(bench_cmd, [models["int8"], "--target=android", f"--adb_serial={SERIAL}",
                           f"--benchmark_binary={binary}", "--calibration_dataset=",
                           f"--output_dir={tmp_path / 'out'}"], capsys)
    assert code == 0, err
    report = json.load(open(tmp_path / "out" / "benchmark.json"))
    assert report["label"] == "Android phone (TFLite benchmark tool)"
    assert report["models"][0]["results"][0]["inference_avg_us"] == pytest.approx(168.417)
    assert any("--num_runs=50" in " ".join(call) for call in fake_adb())  # the android default

  def test_bad_target_flag_from_the_command_line(self):
    process = subprocess.run([sys.executable, "-m", "mobile_ssl.commands.bench", "m.tflite",
                              "--target=phone"], cwd=REPO, capture_output=True, text=True,
                             check=False)
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert "--target=phone: value should be one of <host|emulated-arm64|android>" in process.stderr


class TestEmulation:

  @pytest.mark.slow
  @pytest.mark.timeout(1200)  # apt-get, debootstrap and aarch64 wheels on the first run
  def test_int8_model_runs_on_emulated_arm64(self, models, tmp_path, capsys):
    """Sets the sysroot up (idempotent: ~40 s the first time, as root) and runs int8 there."""
    setup = subprocess.run(["bash", os.path.join(REPO, "mobile_ssl", "benchmark", "setup_emulation.sh")],
                           capture_output=True, text=True, check=False)
    assert setup.returncode == 0, setup.stderr[-2000:]
    code, out, err = model_fixtures.run_command(bench_cmd, [models["int8"], "--target=emulated-arm64", "--calibration_dataset=",
                           "--op_profile", f"--output_dir={tmp_path}"], capsys)
    assert code == 0, err
    report = json.load(open(tmp_path / "benchmark.json"))
    assert report["platform"]["machine"] == "aarch64"
    assert report["label"] == emulation.EMULATED_LABEL and emulation.EMULATED_LABEL in out
    (model,) = report["models"]
    assert model["x86_agreement"]["cosine"] > 0.999
    assert model["results"][0]["latency_us"] > 0 and model["op_profile"]


class TestYamnetWaveformPeer:

  def test_converts_like_ours_float_front_end_at_int8(self, tmp_path):
    fp = params_lib.FeatureParams()
    model = peers.build_peer("yamnet_waveform", fp)
    assert peers.input_kind("yamnet_waveform") == "waveform"
    assert model.count_params() == peers.build_peer("yamnet", fp).count_params()
    rng = np.random.default_rng(1)
    waves = [rng.normal(scale=0.1, size=(1, fp.slice_samples)).astype(np.float32)
             for _ in range(4)]
    batch1 = peers.waveform_peer(fp, batch_size=1)
    batch1.set_weights(model.get_weights())
    outputs = {}
    for precision in ("float32", "int8"):
      path = tmp_path / f"yamnet_waveform_{precision}.tflite"
      path.write_bytes(convert.convert(batch1, precision, waves if precision == "int8" else None))
      info = tflite_graph.describe(str(path))
      assert info["macs"] > 69e6 + 25e6  # MobileNet v1 + the DFT as matmuls
      assert "RFFT2D" not in info["op_histogram"]  # YAMNet's tflite_compatible path
      ops = info["ops"]
      if precision == "int8":  # the front end stays float32, as in our int8 waveform model
        assert ops.index("QUANTIZE") > ops.index("LOG")
      it = latency.interpreter(str(path))
      it.allocate_tensors()
      it.set_tensor(it.get_input_details()[0]["index"], waves[0])
      it.invoke()
      outputs[precision] = latency.output_values(it)
    # Random weights shrink YAMNet's activations to ~1e-20, so only float32 is compared.
    expected = batch1(waves[0])["embedding"].numpy()
    np.testing.assert_allclose(outputs["float32"], expected, rtol=1e-3, atol=1e-25)
    assert np.all(np.isfinite(outputs["int8"]))
