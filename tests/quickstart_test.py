"""Tests of mobile-ssl-quickstart end to end on the tiny synthetic dataset."""

import json
import os
import subprocess
import sys

from mobile_ssl import model_dir as model_dir_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _quickstart(*flags):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
  return subprocess.run([sys.executable, "-m", "mobile_ssl.quickstart", *flags], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=600)


def test_quickstart_runs_every_stage_then_resumes(tiny_synthetic, data_dir, tmp_path):
  flags = ["--dataset=synthetic_audio/tiny", f"--data_dir={data_dir}", "--steps=12",
           "--width=0.25", "--batch_size=8", f"--output_dir={tmp_path}"]
  first = _quickstart(*flags)
  assert first.returncode == 0, first.stderr[-3000:]
  for stage in ("1/7] data", "2/7] pretrain", "4/7] probe", "5/7] export", "6/7] benchmark"):
    assert stage in first.stderr
  # The summary: one probe row per encoder, the int8 model, the peer ratio.
  for text in ("| temporal_gap |", "| supervised |", "| untrained |", "int8 waveform model",
               "yamnet architecture", "ours / peer: latency"):
    assert text in first.stdout
  report = tmp_path / "report"
  for name in ("README.md", "results.csv", "accuracy_by_task.png", "loss_curves.png",
               "size_latency.png"):
    assert (report / name).stat().st_size > 0
  assert (tmp_path / "encoder_int8_waveform.tflite").stat().st_size < 200_000
  for run in ("pretrain_temporal_gap", "supervised", "untrained"):
    model_dir_lib.load_encoder(str(tmp_path / run))
  stages = json.load(open(tmp_path / "stages.json"))
  assert {"data", "pretrain", "probe", "export", "benchmark"} <= set(stages)
  # Re-running the same command continues where it stopped: nothing is retrained.
  again = _quickstart(*flags)
  assert again.returncode == 0, again.stderr[-3000:]
  assert again.stderr.count("already trained") == 3
  assert "step 12/12" not in again.stderr and "resuming" not in again.stderr
  assert json.load(open(tmp_path / "stages.json"))["probe"]["rows"] == stages["probe"]["rows"]


def test_unknown_dataset_is_one_line(tmp_path):
  run = _quickstart("--dataset=not_a_dataset", f"--output_dir={tmp_path}")
  assert run.returncode == 2
  assert run.stderr.strip().splitlines()[-1].startswith(
      "mobile-ssl-quickstart: error: unknown dataset 'not_a_dataset'")
