"""Tests of mobile-ssl-quickstart end to end on the tiny synthetic dataset."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mobile_ssl.commands import quickstart
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _quickstart(*flags):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
  return subprocess.run([sys.executable, "-m", "mobile_ssl.commands.quickstart", *flags], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.timeout(900)  # the quickstart twice and the probe bench (36 s on 2 busy cores)
def test_quickstart_runs_every_stage_then_resumes(tiny_synthetic, data_dir, tmp_path):
  flags = ["--dataset=synthetic_audio/tiny", f"--data_dir={data_dir}", "--steps=12",
           "--width=0.25", "--batch_size=8", f"--output_dir={tmp_path}",
           # 4 test clips: one flipped clip is 25 points; the threshold is tested in export_test.
           "--max_probe_drop=1.0"]
  first = _quickstart(*flags)
  assert first.returncode == 0, first.stderr[-3000:]
  for stage in ("1/7] data", "2/7] pretrain", "4/7] probe", "5/7] export", "6/7] benchmark"):
    assert stage in first.stderr
  # The summary: one probe row per encoder, the int8 model, the ratios to the waveform-in
  # peer (the default: the same work), the whole model's and the encoder parts'.
  task = quickstart.QuickstartParams().task
  for text in (f"| {task} |", "| supervised |", "| untrained |", "| logmel_stats |",
               "int8 waveform model",
               "yamnet_waveform (waveform in, front end included)", "ours / peer: latency",
               "- encoder part: ours ~"):
    assert text in first.stdout
  report = tmp_path / "report"
  for name in ("README.md", "results.csv", "accuracy_by_task.png", "loss_curves.png",
               "size_latency.png"):
    assert (report / name).stat().st_size > 0
  assert (tmp_path / "encoder_int8_waveform.tflite").stat().st_size < 200_000
  for run in (f"pretrain_{task}", "supervised", "untrained"):
    model_dir_lib.load_encoder(str(tmp_path / run))
    # Three blocks pooled, not the tuned recipe's five: the quickstart's time budget.
    assert model_dir_lib.read_params(str(tmp_path / run)).encoder.pool_blocks == 3
  stages = json.load(open(tmp_path / "stages.json"))
  assert {"data", "pretrain", "probe", "export", "benchmark"} <= set(stages)
  # bench/probe_stage.py repeats the probe stage on these runs (the measurements of
  # docs/evaluation.md come from it): it still runs, and gives the stage's rows.
  bench = subprocess.run([sys.executable, os.path.join(REPO, "bench", "probe_stage.py"),
                          f"--quickstart_dir={tmp_path}", f"--data_dir={data_dir}",
                          "--dataset=synthetic_audio/tiny"], cwd=REPO, capture_output=True,
                         text=True, timeout=600)
  assert bench.returncode == 0, bench.stderr[-3000:]
  assert len(stages["probe"]["rows"]) == 8  # 4 methods x 2 labels
  for row in stages["probe"]["rows"]:
    assert (f"{row['method']:14s} {row['task']:8s} {100 * row['accuracy']:5.1f}"
            in bench.stdout), (row, bench.stdout[-2000:])
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


def test_short_clips_are_joined_until_most_recordings_fit_the_task(tone_folder, data_dir):
  from mobile_ssl.data import pipeline
  from mobile_ssl.data import datasets
  from mobile_ssl.training import pretraining
  builder = datasets.builder(tone_folder, data_dir=data_dir)
  lengths = pipeline.clip_samples(builder, "train", params_lib.FeatureParams())
  # The clips' own lengths, not padded to a slice: the 0.4 s tones stay 6,400 samples.
  assert min(lengths) == 6400 and max(lengths) == 40000
  params = params_lib.Params()
  tg = dataclasses.replace(params, task=dataclasses.replace(params.task, name="temporal_gap"))
  count = pretraining.concat_count(builder, "train", tg)
  need = 191 * 160 + 400  # two slices of frames, in samples
  groups = len(lengths) // count
  joined = np.asarray(lengths[:groups * count]).reshape(groups, count).sum(axis=1)
  assert count > 1 and np.mean(joined >= need) >= 0.9
  if count > 2:  # the smallest count that does it
    fewer = np.asarray(lengths[:len(lengths) // (count - 1) * (count - 1)])
    assert np.mean(fewer.reshape(-1, count - 1).sum(axis=1) >= need) < 0.9
  # One-slice tasks need no joining: every clip is padded to a slice.
  one_slice = dataclasses.replace(params, task=dataclasses.replace(params.task, name="contrastive"))
  assert pretraining.concat_count(builder, "train", one_slice) == 1
