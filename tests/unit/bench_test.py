"""Tests of mobile-ssl-bench's main() in-process: a host run's reports and every one-line error."""

import json

import pytest

from mobile_ssl.benchmark import emulation
from mobile_ssl.commands import bench as bench_cmd
from mobile_ssl.core import encoder as encoder_lib
from tests import model_fixtures


class TestCli:

  def test_host_run_writes_reports(self, models, tmp_path, capsys):
    peer = tmp_path / "peer_float32.tflite"
    peer.write_bytes(open(models["float32"], "rb").read())
    code, out, _ = model_fixtures.run_command(bench_cmd, [models["int8"], models["float32"], f"--peer_models={peer}",
                         "--calibration_dataset=", "--num_runs=20", "--repeats=2",
                         "--warmup_runs=2", "--op_profile", f"--output_dir={tmp_path}"], capsys)
    assert code == 0 and "| tiny_int8 | int8 | log_mel |" in out
    report = json.load(open(tmp_path / "benchmark.json"))
    assert [m["name"] for m in report["models"]] == ["tiny_int8", "tiny_float32", "peer_float32"]
    assert report["models"][0]["op_profile"]
    assert report["models"][0]["macs"] == encoder_lib.complexity(models["encoder"])["macs"]
    # Ratios pair each of ours with the peers of its precision only.
    assert [(q["ours"], q["peer"]) for q in report["ratios"]] == [("tiny_float32", "peer_float32")]
    assert "tiny_float32 vs peer_float32: " in out
    assert (tmp_path / "benchmark.png").exists() and (tmp_path / "benchmark.md").exists()

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
    code, _, err = model_fixtures.run_command(bench_cmd, args + ["--calibration_dataset=", f"--output_dir={tmp_path}"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("mobile-ssl-bench: error: ") and message in err

  def test_not_a_tflite_names_the_file(self, tmp_path, capsys):
    path = tmp_path / "audio.wav"
    path.write_bytes(b"RIFF....WAVE")
    code, _, err = model_fixtures.run_command(bench_cmd, [str(path), "--calibration_dataset=", f"--output_dir={tmp_path}"], capsys)
    assert code == 2 and f"{path}: not a TFLite flatbuffer" in err and err.count("\n") == 1


class TestEmulation:

  def test_missing_sysroot_says_how_to_set_it_up(self, tmp_path):
    with pytest.raises(ValueError, match="setup_emulation.sh"):
      emulation.check(str(tmp_path / "no-sysroot"))
