"""The benchmark scripts of bench/ still run against the library (slow).

They are not tests and nothing imports them, so a change to the library's API
can break one without any other test noticing (bench/embedding_throughput.py
called `log_mel_windows` with an argument it no longer took, from 80654ed to
session 44). Each script here runs end to end on the tiny synthetic dataset
with its smallest settings, and its printed figures are checked for shape and
sign, not for speed: timings belong to the scripts, not to tests.
bench/probe_stage.py needs a finished quickstart: tests/quickstart_test.py runs
it on its own and checks that it gives the stage's rows.
"""

import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow


def _run(script: str, *args: str) -> str:
  process = subprocess.run([sys.executable, os.path.join(REPO, "bench", script), *args],
                           cwd=REPO, capture_output=True, text=True, timeout=600)
  assert process.returncode == 0, process.stderr[-3000:]
  return process.stdout


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
  for row in ("ours, LiteRT float32 (RFFT2D)", "YAMNet tflite_compatible, LiteRT float32",
              "scipy.fft.rfft log-mel (floor)"):
    line = re.search(rf"^{re.escape(row)}.*?\s([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.MULTILINE)
    assert line and float(line.group(1)) > 0, (row, out)
  floor = re.search(r"^scipy\.fft\.rfft log-mel \(floor\)\s.*\s(\d+\.\d+)$", out, re.MULTILINE)
  assert floor and float(floor.group(1)) == 1.0, out
