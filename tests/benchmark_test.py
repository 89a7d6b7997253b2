"""Tests of mobile-ssl-bench: the LiteRT runner, .tflite reading, peers, reports, targets, CLI.

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
from absl import flags


from mobile_ssl.benchmark import android
from mobile_ssl.benchmark import bench_report
from mobile_ssl.commands import bench as bench_cmd
from mobile_ssl.export import convert
from mobile_ssl.benchmark import emulation
from mobile_ssl.benchmark import latency
from mobile_ssl.benchmark import peers
from mobile_ssl.benchmark import tflite_graph
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from tests import audio_fixtures

DATA = os.path.join(os.path.dirname(__file__), "data")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = params_lib.tiny()
SERIAL = "R58M12345"


def _log_mels(count=6):
  """Log-mels of generated sounds (tones, noise, chirps): calibration and inputs."""
  waves = []
  for i in range(count):
    waves.append([audio_fixtures.sine(1.0, 300.0 * (i + 1)), audio_fixtures.noise(1.0, seed=i),
                  audio_fixtures.chirp(1.0)][i % 3][:TINY.features.slice_samples])
  log_mel = features.log_mel_spectrogram(np.stack(waves), TINY.features).numpy()
  return log_mel[..., None].astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
  """A tiny encoder converted to float32 and int8 .tflite files, and a real input .npy."""
  folder = tmp_path_factory.mktemp("bench_models")
  encoder = encoder_lib.build_encoder(TINY.encoder, TINY.features, seed=0)
  model = convert.inference_model(encoder, TINY.features, "log_mel")
  log_mels = _log_mels()
  paths = {"encoder": encoder, "input": str(folder / "input.npy")}
  np.save(paths["input"], log_mels[:1])
  for precision in ("float32", "int8"):
    paths[precision] = str(folder / f"tiny_{precision}.tflite")
    with open(paths[precision], "wb") as f:
      f.write(convert.convert(model, precision, [x[None] for x in log_mels]))
  return paths


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

  def test_child_process_gives_the_same_output(self, models):
    inside = latency.run_request(_request(models, repeats=1))
    child = latency.run_in_child(_request(models, repeats=1))
    np.testing.assert_allclose(child["models"][0]["output"], inside["models"][0]["output"],
                               atol=1e-6)

  def test_int8_input_is_quantized_from_float(self):
    detail = {"shape": np.array([1, 4]), "dtype": np.int8, "quantization": (0.5, -3)}
    values = latency.prepare_input(detail, np.array([1.0, 0.0, -100.0, 100.0]))
    assert values.dtype == np.int8
    np.testing.assert_array_equal(values, [[-1, -3, -128, 127]])  # round(x / 0.5) - 3, clipped


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


class TestPeers:

  def test_yamnet_matches_the_published_size(self):
    counts = encoder_lib.complexity(peers.build_peer("yamnet"))
    assert 3.65e6 < counts["params"] < 3.80e6  # YAMNet: 3.7 M weights
    assert 68.5e6 < counts["macs"] < 70.0e6  # 69.2 M multiply-adds per 96x64 patch

  @pytest.mark.parametrize("name,params_range,dim", [
      ("frill", (0.9e6, 1.2e6), 128), ("cola", (3.9e6, 4.2e6), 1280)])
  def test_keras_applications_accept_one_channel_log_mel(self, name, params_range, dim):
    model = peers.build_peer(name)
    assert model.input_shape == (None, 96, 64, 1) and model.output_shape == (None, dim)
    counts = encoder_lib.complexity(model)
    assert params_range[0] < counts["params"] < params_range[1]
    out = model(_log_mels(2))
    assert np.all(np.isfinite(out))

  def test_unknown_peer(self):
    with pytest.raises(ValueError, match="unknown peer 'resnet'"):
      peers.build_peer("resnet")


def _fake_report(models):
  result = latency.run_request(_request(models, configs=[{"threads": 1, "xnnpack": True}],
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


def _cli(args, capsys):
  """Runs mobile-ssl-bench's main() in-process; (exit code, stdout, stderr)."""
  values = flags.FlagValues()
  bench_cmd.define_flags(values)
  rest = values(["mobile-ssl-bench", *args])
  code = bench_cmd.main(rest, values)
  out = capsys.readouterr()
  return code, out.out, out.err


class TestCli:

  def test_host_run_writes_reports(self, models, tmp_path, capsys):
    peer = tmp_path / "peer_float32.tflite"
    peer.write_bytes(open(models["float32"], "rb").read())
    code, out, _ = _cli([models["int8"], models["float32"], f"--peer_models={peer}",
                         "--calibration_dataset=", "--num_runs=20", "--repeats=2",
                         "--warmup_runs=2", "--op_profile", f"--output_dir={tmp_path}"], capsys)
    assert code == 0 and "| tiny_int8 | int8 | log_mel |" in out
    report = json.load(open(tmp_path / "benchmark.json"))
    assert [m["name"] for m in report["models"]] == ["tiny_int8", "tiny_float32", "peer_float32"]
    assert report["models"][0]["op_profile"] and report["models"][0]["macs"] > 0
    # Ratios pair each of ours with the peers of its precision only.
    assert [(q["ours"], q["peer"]) for q in report["ratios"]] == [("tiny_float32", "peer_float32")]
    assert "tiny_float32 vs peer_float32: " in out
    assert (tmp_path / "benchmark.png").exists() and (tmp_path / "benchmark.md").exists()

  def test_android_target_through_fake_adb(self, models, fake_adb, tmp_path, capsys):
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    code, out, err = _cli([models["int8"], "--target=android", f"--adb_serial={SERIAL}",
                           f"--benchmark_binary={binary}", "--calibration_dataset=",
                           f"--output_dir={tmp_path / 'out'}"], capsys)
    assert code == 0, err
    report = json.load(open(tmp_path / "out" / "benchmark.json"))
    assert report["label"] == "Android phone (TFLite benchmark tool)"
    assert report["models"][0]["results"][0]["inference_avg_us"] == pytest.approx(168.417)
    assert any("--num_runs=50" in " ".join(call) for call in fake_adb())  # the android default

  @pytest.mark.parametrize("args,message", [
      (["missing.tflite"], "missing.tflite: model file not found"),
      (["--threads=1,x", "m.tflite"], "--threads: 'x' is not a valid value"),
      (["--threads=0", "m.tflite"], "--threads: '0' must be >= 1"),
      (["--xnnpack=maybe", "m.tflite"], "--xnnpack: 'maybe' is not one of on, off"),
      (["--build=big"], "--build: 'big' is not one of paper, fast"),
      ([], "nothing to benchmark"),
      (["--target=android", "TINY"], "--target=android needs --adb_serial"),
      (["--target=android", "--adb_serial=X", "TINY"],
       "--benchmark_binary=(unset): file not found"),
  ])
  def test_bad_input_is_one_line(self, models, args, message, tmp_path, capsys):
    args = [models["float32"] if a == "TINY" else a for a in args]
    code, _, err = _cli(args + ["--calibration_dataset=", f"--output_dir={tmp_path}"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("mobile-ssl-bench: error: ") and message in err

  def test_not_a_tflite_names_the_file(self, tmp_path, capsys):
    path = tmp_path / "audio.wav"
    path.write_bytes(b"RIFF....WAVE")
    code, _, err = _cli([str(path), "--calibration_dataset=", f"--output_dir={tmp_path}"], capsys)
    assert code == 2 and f"{path}: not a TFLite flatbuffer" in err and err.count("\n") == 1

  def test_bad_target_flag_from_the_command_line(self):
    process = subprocess.run([sys.executable, "-m", "mobile_ssl.commands.bench", "m.tflite",
                              "--target=phone"], cwd=REPO, capture_output=True, text=True,
                             check=False)
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert "--target=phone: value should be one of <host|emulated-arm64|android>" in process.stderr


class TestEmulation:

  def test_missing_sysroot_says_how_to_set_it_up(self, tmp_path):
    with pytest.raises(ValueError, match="setup_emulation.sh"):
      emulation.check(str(tmp_path / "no-sysroot"))

  @pytest.mark.slow
  def test_int8_model_runs_on_emulated_arm64(self, models, tmp_path, capsys):
    """Sets the sysroot up (idempotent: ~40 s the first time, as root) and runs int8 there."""
    setup = subprocess.run(["bash", os.path.join(REPO, "mobile_ssl", "benchmark", "setup_emulation.sh")],
                           capture_output=True, text=True, check=False)
    assert setup.returncode == 0, setup.stderr[-2000:]
    code, out, err = _cli([models["int8"], "--target=emulated-arm64", "--calibration_dataset=",
                           "--op_profile", f"--output_dir={tmp_path}"], capsys)
    assert code == 0, err
    report = json.load(open(tmp_path / "benchmark.json"))
    assert report["platform"]["machine"] == "aarch64"
    assert report["label"] == emulation.EMULATED_LABEL and emulation.EMULATED_LABEL in out
    (model,) = report["models"]
    assert model["x86_agreement"]["cosine"] > 0.999
    assert model["results"][0]["latency_us"] > 0 and model["op_profile"]


class TestYamnetWaveformPeer:

  def test_its_dft_matmul_front_end_computes_our_log_mel(self):
    fp = params_lib.FeatureParams()
    x = np.random.default_rng(0).normal(scale=0.1, size=(2, fp.slice_samples)).astype(np.float32)
    front = peers.YamnetLogMel({"sample_rate_hz": fp.sample_rate_hz})
    theirs = front(x).numpy()[..., 0]
    ours = features.log_mel_spectrogram(x, fp).numpy()
    assert theirs.shape == ours.shape == (2, fp.slice_frames, fp.num_mel_bins)
    np.testing.assert_allclose(theirs, ours, atol=2e-3)

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
