"""Tests of mobile_ssl.data.data_service: training through a tf.data service on localhost.

A real dispatcher and two real workers run as separate processes
(`python -m mobile_ssl.commands.data_service`), as they would on other machines.
"""

import dataclasses
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import recipes
from mobile_ssl.training import pretraining
from mobile_ssl.training import trainer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def _server(*args) -> subprocess.Popen:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
  return subprocess.Popen([sys.executable, "-m", "mobile_ssl.commands.data_service", *args], cwd=REPO,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for_line(process: subprocess.Popen, text: str, timeout_s: float = 120) -> str:
  deadline = time.time() + timeout_s
  while time.time() < deadline:
    line = process.stdout.readline()
    if text in line:
      return line
    if process.poll() is not None:
      raise AssertionError(f"server exited with {process.returncode}: {process.stdout.read()}")
  raise AssertionError(f"no {text!r} from the server in {timeout_s} s")


@pytest.fixture()
def service():
  """'localhost:PORT' of a dispatcher with two registered workers (three processes)."""
  port = _free_port()
  processes = [_server("--role=dispatcher", f"--port={port}")]
  try:
    _wait_for_line(processes[0], "dispatcher serving at")
    for _ in range(2):
      processes.append(_server("--role=worker", f"--dispatcher=localhost:{port}"))
      _wait_for_line(processes[-1], "worker registered")
    yield f"localhost:{port}", processes
  finally:
    for process in processes:
      process.kill()
      process.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("cache", ["memory", "folder"])
def test_training_steps_come_from_two_local_workers(service, tiny_synthetic, data_dir, tmp_path,
                                                    cache):
  # 'folder': both workers read one --cache_dir's clip store on this machine's disk. Before
  # session 55 both tried to write tf.data's cache file, and the second stopped the run
  # ("cache lockfile already exists").
  address, processes = service
  tiny = recipes.tiny()
  params = dataclasses.replace(
      tiny, datasets=("synthetic_audio/tiny",),
      task=dataclasses.replace(tiny.task, name="temporal_gap"),
      train=dataclasses.replace(tiny.train, steps=4, batch_size=8, log_every_steps=1))
  run_dir, cache_dir = str(tmp_path / "run"), str(tmp_path / "cache")
  result = pretraining.run(params, run_dir, data_dir=data_dir,
                           cache_dir="memory" if cache == "memory" else cache_dir,
                           progress=False, data_service=address)
  assert trainer.latest_step(run_dir) == 4
  if cache == "folder":  # filled by the trainer, whole, before the workers read it
    stores = [root for root, _, files in os.walk(cache_dir) if "index.npz" in files]
    assert [os.path.basename(s) for s in stores] == ["synthetic_audio_tiny_train.clips"]
    assert len(os.listdir(stores[0])) > 1  # the index and a file per clip
  history = result["history"]
  assert history["step"] == [1, 2, 3, 4] and np.all(np.isfinite(history["loss"]))
  assert model_dir_lib.load_encoder(run_dir)[0].name == "encoder"
  assert all(p.poll() is None for p in processes)  # dispatcher and both workers still up
