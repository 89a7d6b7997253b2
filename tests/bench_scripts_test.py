"""The benchmark scripts of bench/ still run against the library (slow).

They are not tests and nothing imports them, so a change to the library's API
can break one without any other test noticing (bench/embedding_throughput.py
called `log_mel_windows` with an argument it no longer took, from 80654ed to
session 44). Each script here runs end to end on the tiny synthetic dataset
with its smallest settings, and its printed figures are checked for shape and
sign, not for speed: timings belong to the scripts, not to tests.
bench/probe_stage.py needs a finished quickstart: tests/quickstart_test.py runs
it on its own and checks that it gives the stage's rows; every other script
runs here. Those that read trained runs or results files (recipe_curve,
seed_means, readout_scan, export_table) get a 12-step run and a
mobile-ssl-eval of it, made here.
"""

import csv
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> str:
  return _python(os.path.join(REPO, "bench", script), *args)


def _python(*args: str) -> str:
  process = _process(*args)
  assert process.returncode == 0, process.stderr[-3000:]
  return process.stdout


def _process(*args: str) -> subprocess.CompletedProcess:
  env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=600)


TASKS = "synthetic_audio/tiny:event,synthetic_audio/tiny:pitch"
TINY = ("--width=0.25", "--embedding_dim=16")


@pytest.fixture(scope="module")
def short_run(tiny_synthetic, data_dir, tmp_path_factory):
  """A 12-step TemporalGap run on synthetic_audio/tiny with checkpoints at steps 6 and 12."""
  path = str(tmp_path_factory.mktemp("short_run") / "run")
  _python("-m", "mobile_ssl.commands.train", "--task=temporal_gap",
          "--dataset=synthetic_audio/tiny", f"--data_dir={data_dir}", f"--model_dir={path}",
          *TINY, "--batch_size=8", "--shuffle_buffer=16", "--steps=12",
          "--checkpoint_every_steps=6", "--log_every_steps=6")
  return path


@pytest.fixture(scope="module")
def eval_results(short_run, encoder_dir, data_dir, tmp_path_factory):
  """mobile-ssl-eval's results.csv for the short run, the fixture encoder and untrained."""
  out = str(tmp_path_factory.mktemp("eval"))
  _python("-m", "mobile_ssl.commands.evaluate", f"--encoders={short_run},{encoder_dir},untrained",
          "--names=run_s0,run_s1,untrained", f"--tasks={TASKS}", "--shots_per_class=1",
          f"--output_dir={out}", f"--data_dir={data_dir}", *TINY)
  with open(os.path.join(out, "results.csv")) as f:
    return os.path.join(out, "results.csv"), list(csv.DictReader(f))


def test_embedding_throughput_prints_every_row_and_ratio(data_dir, tiny_synthetic):
  out = _run("embedding_throughput.py", f"--data_dir={data_dir}",
             "--task=synthetic_audio/tiny:event", "--repeats=1", "--bare_windows=8")
  header = re.search(r"synthetic_audio/tiny:event train: (\d+) windows of (\d+) clips", out)
  assert header, out
  assert int(header.group(2)) == tiny_synthetic.info.splits["train"].num_examples
  assert int(header.group(1)) >= int(header.group(2))  # at least one window per clip
  for row in ("keras path", "keras path (old)", "litert path (float32 waveform)",
              "bare keras, BN folded, batch 256", "bare litert float32 waveform-in",
              "bare litert float32 log-mel-in"):
    rate = re.search(rf"^{re.escape(row)}\s+(\d+)\s", out, re.MULTILINE)
    assert rate and int(rate.group(1)) > 0, (row, out)
  ratio = re.search(r"keras path / bare litert float32 waveform-in: (\d+\.\d+)", out)
  assert ratio and float(ratio.group(1)) > 0, out


def test_clip_sums_match_their_peer():
  out = _run("clip_sums.py", "--windows=2000", "--clips=200", "--dim=64", "--repeats=1")
  assert "identical sums: True" in out, out


def test_augment_throughput_prints_its_ratio():
  out = _run("augment_throughput.py", "--views=8", "--calls=2", "--repeats=1")
  ratio = re.search(r"time-only crop / crop_and_resize: (\d+\.\d+)", out)
  assert ratio and float(ratio.group(1)) > 0, out


def test_encoder_blocks_shares_cover_every_block():
  out = _run("encoder_blocks.py", "--windows=64", "--variants=paper")
  # A block's time is a difference of two prefixes' times: on 64 windows one can come out
  # slightly negative, so only the count and the total are checked.
  shares = [int(s) for s in re.findall(
      r"^\| (?:block\d|pooling and the rest) \| -?[\d.]+ \| (-?\d+) %", out, re.MULTILINE)]
  assert len(shares) == 6, out  # five blocks and the pooling
  assert 95 <= sum(shares) <= 105, out  # shares of one whole, each rounded


def test_front_end_cost_prints_every_front_end_against_the_floor():
  out = _run("front_end_cost.py", "--rounds=1", "--invokes=5")
  for row in ("ours, LiteRT float32 (two-stage DFT)", "ours with RFFT2D, LiteRT float32 (before)",
              "YAMNet tflite_compatible, LiteRT float32",
              "scipy.fft.rfft log-mel (floor)"):
    line = re.search(rf"^{re.escape(row)}.*?\s([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.MULTILINE)
    assert line and float(line.group(1)) > 0, (row, out)
  floor = re.search(r"^scipy\.fft\.rfft log-mel \(floor\)\s.*\s(\d+\.\d+)$", out, re.MULTILINE)
  assert floor and float(floor.group(1)) == 1.0, out


def test_recipe_curve_probes_every_checkpoint_as_mobile_ssl_eval_does(short_run, eval_results,
                                                                     data_dir, tmp_path):
  _run("recipe_curve.py", f"--runs={short_run}", f"--tasks={TASKS}", "--shots_per_class=1",
       f"--output_dir={tmp_path}", f"--data_dir={data_dir}")
  with open(tmp_path / "curve.csv") as f:
    points = list(csv.DictReader(f))
  # two checkpoints x two tasks x (all labels, 1 shot)
  assert sorted({int(p["step"]) for p in points}) == [6, 12] and len(points) == 8
  assert all(float(p["minutes"]) > 0 for p in points)
  assert os.path.getsize(tmp_path / "curve.png") > 0 and (tmp_path / "curve.md").exists()
  # The last checkpoint is the run's encoder: its points are mobile-ssl-eval's rows.
  _, rows = eval_results
  evaluated = {(r["task"], r["shots_per_class"]): float(r["accuracy"])
               for r in rows if r["method"] == "run_s0"}
  last = {(p["task"], p["shots_per_class"]): float(p["accuracy"])
          for p in points if p["step"] == "12"}
  assert last.keys() == evaluated.keys()
  for key, accuracy in last.items():
    assert accuracy == pytest.approx(evaluated[key], abs=1e-4), key


def test_seed_means_averages_the_seeds_of_each_group(eval_results, tmp_path):
  path, rows = eval_results
  out = _run("seed_means.py", f"--results={path}",
             "--groups=trained=run_s0,run_s1;untrained=untrained", f"--output={tmp_path / 'a.png'}")
  event = {r["method"]: float(r["accuracy"]) * 100 for r in rows
           if r["task"] == "synthetic_audio/tiny:event" and not r["shots_per_class"]}
  line = re.search(r"^\| trained \| 2 \| ([\d.]+) ", out, re.MULTILINE)
  assert line, out
  assert float(line.group(1)) == pytest.approx((event["run_s0"] + event["run_s1"]) / 2, abs=0.06)
  assert re.search(r"^\| untrained \| 1 \| ", out, re.MULTILINE), out
  assert os.path.getsize(tmp_path / "a.png") > 0
  curve = _run("seed_means.py", f"--results={path}", "--groups=1=run_s0;2=run_s1;untrained=untrained",
               "--curve=runs", f"--output={tmp_path / 'b.png'}")
  assert os.path.getsize(tmp_path / "b.png") > 0 and "| 2 | 1 |" in curve


def test_readout_scan_probes_every_read_out_of_every_encoder(short_run, data_dir):
  out = _run("readout_scan.py", f"--encoders={short_run},untrained", "--first_blocks=3,5",
             f"--tasks={TASKS}", "--task_names=event,pitch", "--shots_per_class=1",
             f"--data_dir={data_dir}")
  lines = re.findall(r"^\| (run|untrained) \| (\d)–5 \| (\d+) \|((?: [\d.]+ \|){4})$", out,
                     re.MULTILINE)
  assert [(name, first) for name, first, _, _ in lines] == [
      ("run", "3"), ("run", "5"), ("untrained", "3"), ("untrained", "5")], out
  # Mean and SD of every block from K on: blocks 3-5 have more values than block 5 alone.
  values = {(name, first): int(v) for name, first, v, _ in lines}
  assert values[("run", "3")] > values[("run", "5")] > 0
  assert all(0 <= float(a) <= 100 for *_, cells in lines for a in cells.split("|")[:-1])


def test_export_table_validates_every_export_against_keras(encoder_dir, data_dir):
  out = _run("export_table.py", f"--encoder={encoder_dir}", "--precisions=float32",
             "--probe_task=synthetic_audio/tiny:event", "--num_validation=8",
             f"--data_dir={data_dir}")
  rows = re.findall(r"^\| float32 \| (waveform|log_mel) \| ([\d,]+) \| ([\d.]+) \| ([\d.]+) \|"
                    r".*\| (ok|FAIL.*) \|$", out, re.MULTILINE)
  assert [r[0] for r in rows] == ["waveform", "log_mel"], out
  for _, size, latency, cosine, check in rows:
    assert int(size.replace(",", "")) > 0 and float(latency) > 0
    assert float(cosine) > 0.9999 and check == "ok"


@pytest.mark.parametrize("cache", ["memory", "folder"])
def test_train_throughput_times_real_and_cached_blocks_in_one_run(tiny_synthetic, data_dir,
                                                                  tmp_path, cache):
  folder = tmp_path / "log_mels"
  out = _run("train_throughput.py", f"--data_dir={data_dir}", "--dataset=synthetic_audio/tiny",
             "--tasks=temporal_gap", "--width=0.25", "--batch_size=8", "--blocks=2",
             "--block_steps=5", f"--cache={'memory' if cache == 'memory' else folder}")
  done = "held" if cache == "memory" else "filled"
  line = re.search(r"^temporal_gap\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)-([\d.]+)"
                   rf"\s+([\d.]+)s {done}\s+([\d.]+)%$", out, re.MULTILINE)
  assert line, out
  if cache == "folder":
    assert (folder / "synthetic_audio_tiny_train.clips" / "index.npz").exists()
  examples, real, cached = int(line.group(1)), float(line.group(2)), float(line.group(3))
  ratio, low, high = float(line.group(4)), float(line.group(5)), float(line.group(6))
  assert real > 0 and cached > 0
  assert float(line.group(7)) > 0  # seconds the cache took to hold or fill the clips
  assert float(line.group(8)) > 0  # the pipeline's CPU time per batch, % of the step's
  # examples/s is the batch over the real side's s/step (printed to 3 decimals).
  assert 8 / (real + 0.0005) - 1 <= examples <= 8 / max(real - 0.0005, 1e-9) + 1, out
  # Two blocks of each side make three adjacent pairs: the ratio is their median (printed to 3
  # decimals), so it lies within their 25th-75th percentile (printed to 2).
  assert 0 < low - 0.005 <= ratio <= high + 0.005, out
  assert "2 blocks of each side, 5 steps each (1 timed)" in out, out


def test_train_throughput_block_steps_must_exceed_the_settling_steps(tiny_synthetic, data_dir):
  process = _process(os.path.join(REPO, "bench", "train_throughput.py"), f"--data_dir={data_dir}",
                     "--dataset=synthetic_audio/tiny", "--tasks=temporal_gap", "--block_steps=4")
  assert process.returncode != 0
  assert "flag --block_steps=4" in process.stderr, process.stderr[-2000:]


def test_train_throughput_names_a_task_the_clips_are_too_short_for(tiny_synthetic, data_dir):
  process = _process(os.path.join(REPO, "bench", "train_throughput.py"), f"--data_dir={data_dir}",
                     "--dataset=synthetic_audio/tiny", "--tasks=audio2vec_cbow",
                     "--width=0.25", "--batch_size=8", "--blocks=1", "--block_steps=5")
  assert process.returncode != 0
  assert process.stderr.strip().splitlines()[-1].startswith(
      "synthetic_audio/tiny[train] gives no audio2vec_cbow examples"), process.stderr[-2000:]


def test_pipeline_throughput_prints_every_path(tiny_synthetic, data_dir):
  out = _run("pipeline_throughput.py", f"--data_dir={data_dir}", "--dataset=synthetic_audio/tiny",
             "--batches=2")
  for row in ("uncached, float64 STFT (default)", "uncached, float32 STFT",
              "filling the in-memory cache", "cached (in memory)"):
    rate = re.search(rf"^{re.escape(row)}\s+(\d+) slices/s", out, re.MULTILINE)
    assert rate and int(rate.group(1)) > 0, (row, out)
  assert re.search(r"^cached / uncached \(default\): [\d.]+x$", out, re.MULTILINE), out


def test_iterator_teardown_reports_a_run(tiny_synthetic, data_dir):
  out = _run("iterator_teardown.py", f"--data_dir={data_dir}", "--dataset=synthetic_audio/tiny",
             "--steps=3", "--runs=1", "--modes=off")
  assert re.fullmatch(r"autotuner off: \d+ s from the call to the end of training .*"
                      r"trainer\.fit's return: [\d.]+ s \(process \d+ s\)", out.strip()), out


def test_streaming_counts_the_windows_of_every_hop():
  seconds = 3.0
  out = _run("streaming.py", "--hops=0.975,0.5", f"--seconds={seconds}")
  rows = re.findall(r"^\| (\S+\.tflite) \| \d+ \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", out,
                    re.MULTILINE)
  assert len(rows) == 4, out  # two models x two hops
  for _, hop, per_second, cpu_ms in rows:
    # A window is emitted once its 0.975 s are in, then one per hop.
    windows = int((seconds - 0.975) / float(hop) + 1e-9) + 1
    assert float(per_second) == pytest.approx(windows / seconds, abs=0.006)
    assert float(cpu_ms) > 0


def test_audio2vec_step_prints_each_model_against_one_encoder_pass():
  out = _run("audio2vec_step.py", "--batch_size=4", "--steps=1", "--repeats=1")
  rows = dict(re.findall(r"^\| ([^|]+?) \| \d+ \| \d+ \| ([\d.]+) \|$", out, re.MULTILINE))
  assert set(rows) == {"encoder alone, one pass (peer)", "SkipGram, P = 2",
                       "CBoW, P = 2 (the paper's)", "CBoW, P = 1"}, out
  assert float(rows["encoder alone, one pass (peer)"]) == 1.0


def test_batch_norm_step_times_both_kernels_on_the_same_model(tiny_synthetic, data_dir):
  out = _run("batch_norm_step.py", f"--data_dir={data_dir}", "--dataset=synthetic_audio/tiny",
             "--tasks=triplet,temporal_gap", "--width=0.25", "--batch_size=8", "--rounds=2",
             "--steps=1")
  rows = re.findall(r"^(\w+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)-([\d.]+)\s+(\S+)\s+(\S+)$",
                    out, re.MULTILINE)
  assert [row[0] for row in rows] == ["triplet", "temporal_gap"], out
  for _, fused, plain, ratio, low, high, loss_fused, loss_plain in rows:
    assert int(fused) > 0 and int(plain) > 0
    # The speed-up is the median of the rounds' ratios (two rounds: their mean).
    assert float(low) - 0.005 <= float(ratio) <= float(high) + 0.005, out
    # The same model, weights and batch: the first losses differ only by float32 rounding.
    assert float(loss_fused) == pytest.approx(float(loss_plain), rel=1e-3, abs=1e-5), out
