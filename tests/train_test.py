"""Tests of the one training loop and the mobile-ssl-train CLI.

Covers what a training run must do: the loss of every task
falls, a run killed with SIGKILL resumes and finishes, two worker processes
train under MultiWorkerMirroredStrategy with only the chief writing.
"""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy import stats
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import tasks
from mobile_ssl.data import task_stream
from mobile_ssl.training import trainer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = recipes.tiny()
# The stated margin: over 60 steps the mean loss of the last 7 logged steps is
# at most 85 % of the mean of the first 7 (measured: 0.31-0.74 of it).
STEPS, WINDOW, MARGIN = 60, 7, 0.85


def _task_params(name, steps=STEPS, batch_size=8, width=None, embedding_dim=None):
  encoder = dataclasses.replace(TINY.encoder, width=width or TINY.encoder.width,
                                embedding_dim=embedding_dim or TINY.encoder.embedding_dim)
  return dataclasses.replace(
      TINY, encoder=encoder,
      task=dataclasses.replace(TINY.task, name=name, num_classes=8, label_key="event"),
      train=dataclasses.replace(TINY.train, steps=steps, log_every_steps=1, learning_rate=3e-3,
                                batch_size=batch_size))


def _train(name, builder, steps=STEPS, batch_size=8, **encoder):
  task = tasks.get(name)
  params = _task_params(name, steps, batch_size, **encoder)
  dataset = task_stream.task_dataset([(builder, "train")], task.make_examples,
                                     task.min_frames(params), params, batch_size=batch_size, seed=0,
                                     label_key="event" if task.needs_labels else None)
  history = trainer.fit(
      lambda: task.build_model(encoder_lib.build_encoder(params.encoder, seed=0), params),
      lambda t, o: task.loss(t, o, params), dataset, params, progress=False)
  return task, params, history


@pytest.mark.parametrize("name", sorted(set(tasks.TASKS) - {"temporal_gap"}))
def test_loss_falls_for_every_task(name, long_synthetic):
  _, _, history = _train(name, long_synthetic)
  loss = np.array(history["loss"])
  assert len(loss) == STEPS and np.all(np.isfinite(loss))
  assert loss[-WINDOW:].mean() <= MARGIN * loss[:WINDOW].mean(), loss


def test_temporal_gap_learns_the_gap(long_synthetic):
  # TemporalGap's loss starts at ln 2 (zero-initialized head) and cannot go
  # below E[H(delta)] = 0.5, so its margin is stated against those: after 200
  # steps of 16 (width 0.5) the last 10 losses average <= ln 2 - 0.01 and the
  # predicted gap ranks fresh pairs with Spearman >= 0.15 (measured over 4
  # seeds: 0.648-0.673 and 0.30-0.54).
  task, params, history = _train("temporal_gap", long_synthetic, steps=200, batch_size=16,
                                 width=0.5, embedding_dim=32)
  loss = np.array(history["loss"])
  assert abs(loss[:3].mean() - np.log(2)) < 0.01
  assert loss[-10:].mean() <= np.log(2) - 0.01, loss
  fresh = task_stream.task_dataset([(long_synthetic, "train")], task.make_examples,
                                   task.min_frames(params), params, batch_size=64, seed=1000)
  inputs, delta = next(iter(fresh))
  predicted = history["model"](inputs, training=False).numpy().ravel()
  assert stats.spearmanr(predicted, delta.numpy()).statistic >= 0.15


def test_mirrored_strategy_runs_the_same_loop(tiny_synthetic):
  params = _task_params("contrastive")
  params = dataclasses.replace(params, train=dataclasses.replace(params.train, steps=3))
  task = tasks.get("contrastive")
  strategy = trainer.make_strategy("mirrored")

  def dataset(batch_size, pipeline_id, start_step):
    return task_stream.task_dataset([(tiny_synthetic, "train")], task.make_examples,
                                    task.min_frames(params), params, batch_size=batch_size,
                                    seed=pipeline_id + start_step)

  history = trainer.fit(
      lambda: task.build_model(encoder_lib.build_encoder(params.encoder, seed=0), params),
      lambda t, o: task.loss(t, o, params), dataset, params, strategy=strategy, progress=False)
  assert history["step"][-1] == 3


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_synthetic, tmp_path):
  params = _task_params("temporal_gap")
  params = dataclasses.replace(params, train=dataclasses.replace(
      params.train, steps=20, checkpoint_every_steps=4))
  task = tasks.get("temporal_gap")
  dataset = task_stream.task_dataset([(tiny_synthetic, "train")], task.make_examples,
                                     task.min_frames(params), params, batch_size=8, seed=0)
  calls = tf.Variable(0)

  def loss_fn(targets, outputs):  # turns NaN at the 7th step
    calls.assign_add(1)
    # A constant added to the loss: a NaN branch of tf.where over the loss itself
    # would send NaN gradients through from step 1 on.
    return task.loss(targets, outputs, params) + tf.where(calls > 6, np.float32(np.nan), 0.0)

  model = lambda: task.build_model(encoder_lib.build_encoder(params.encoder, seed=0), params)
  with pytest.raises(trainer.TrainingError, match="loss is nan at step 7"):
    trainer.fit(model, loss_fn, dataset, params, model_dir=str(tmp_path), progress=False)
  assert trainer.latest_step(str(tmp_path)) == 4



def test_a_clip_store_file_deleted_mid_run_stops_with_one_line_and_keeps_the_checkpoint(
    tiny_synthetic, tmp_path):
  # The clip store's files are checked when the stream is made; deleted afterwards (a cache
  # cleaner, mid-run), the read fails: the run stops with a TrainingError naming the file,
  # not TensorFlow's traceback, and the checkpoints before it stay.
  params = _task_params("temporal_gap")
  params = dataclasses.replace(params, train=dataclasses.replace(
      params.train, steps=40, checkpoint_every_steps=2))
  task = tasks.get("temporal_gap")
  cache = tmp_path / "cache"
  dataset = task_stream.task_dataset([(tiny_synthetic, "train")], task.make_examples,
                                     task.min_frames(params), params, batch_size=8, seed=0,
                                     cache_dir=str(cache))
  (store,) = cache.glob("*.clips")
  calls = tf.Variable(0)

  def delete_clips():
    for f in store.glob("*.f32"):
      f.unlink()
    return 0

  def loss_fn(targets, outputs):  # deletes the store's clips at the 3rd step
    calls.assign_add(1)
    with tf.control_dependencies([tf.cond(
        tf.equal(calls, 3), lambda: tf.py_function(delete_clips, [], tf.int32),
        lambda: tf.constant(0))]):
      return tf.identity(task.loss(targets, outputs, params))

  model = lambda: task.build_model(encoder_lib.build_encoder(params.encoder, seed=0), params)
  model_dir = tmp_path / "run"
  with pytest.raises(trainer.TrainingError,
                     match=r"reading the input failed at step \d+: .*\.f32; No such file") as e:
    trainer.fit(model, loss_fn, dataset, params, model_dir=str(model_dir), progress=False)
  assert "\n" not in str(e.value) and "function_node" not in str(e.value), str(e.value)
  assert trainer.latest_step(str(model_dir)) >= 2


def _train_command(model_dir, data_dir, *extra):
  return [sys.executable, "-m", "mobile_ssl.commands.train", "--task=temporal_gap",
          "--dataset=synthetic_audio/tiny", f"--data_dir={data_dir}", f"--model_dir={model_dir}",
          "--width=0.25", "--embedding_dim=16", "--batch_size=8", "--shuffle_buffer=16", *extra]


def _run(command, **kwargs):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
  return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=240, **kwargs)


def test_cli_writes_params_checkpoints_log_and_encoder(tiny_synthetic, data_dir, tmp_path):
  run = _run(_train_command(tmp_path, data_dir, "--steps=12", "--checkpoint_every_steps=6",
                            "--log_every_steps=3"))
  assert run.returncode == 0, run.stderr[-2000:]
  params = model_dir_lib.read_params(str(tmp_path))
  assert params.task.name == "temporal_gap" and params.train.steps == 12
  assert trainer.latest_step(str(tmp_path)) == 12
  encoder, _ = model_dir_lib.load_encoder(str(tmp_path))
  assert encoder.name == "encoder" and encoder.output_shape == (None, 16)
  rows = open(tmp_path / trainer.LOG_FILE).read().splitlines()
  assert rows[0].startswith("step,loss") and len(rows) == 5
  assert list((tmp_path / trainer.TENSORBOARD_DIR).glob("events.out.tfevents.*"))
  assert "step 12/12 loss" in run.stderr and "skipped 0 of the" in run.stderr


def test_cli_untrained_saves_the_seeded_initialization(tmp_path):
  outputs = []
  for name in ("a", "b"):
    run = _run([sys.executable, "-m", "mobile_ssl.commands.train", "--task=untrained",
                f"--model_dir={tmp_path / name}", "--width=0.25", "--seed=3"])
    assert run.returncode == 0, run.stderr[-2000:]
    encoder, _ = model_dir_lib.load_encoder(str(tmp_path / name))
    outputs.append(encoder(np.ones((1, 96, 64, 1), np.float32)).numpy())
  np.testing.assert_array_equal(outputs[0], outputs[1])


def test_cli_deterministic_trains_the_same_weights_to_the_bit(tiny_synthetic, data_dir, tmp_path):
  """Two supervised runs of one seed with --deterministic: every encoder weight to the bit.

  The tuned recipe's encoder trains its batch normalization through oneDNN's
  fused kernel, whose sums drift between runs without the flag; this short
  run does not provoke that drift (measured: equal without the flag too, the
  drift shows over hundreds of steps; docs/evaluation.md, "Reproducible to the
  bit on request"). It does fail when the classifier head's initialization is
  not seeded (0.079 apart).
  """
  task = "supervised"
  weights = []
  for name in ("a", "b"):
    run = _run([sys.executable, "-m", "mobile_ssl.commands.train", "--deterministic",
                f"--task={task}", "--dataset=synthetic_audio/tiny", f"--data_dir={data_dir}",
                f"--model_dir={tmp_path / name}", "--steps=30", "--log_every_steps=10",
                "--width=0.5", "--batch_size=16",
                "--shuffle_buffer=16", "--seed=1"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert "step 30/30 loss" in run.stderr
    encoder, _ = model_dir_lib.load_encoder(str(tmp_path / name))
    weights.append(encoder.get_weights())
  assert len(weights[0]) == len(weights[1]) > 10
  for a, b in zip(*weights):
    np.testing.assert_array_equal(a, b)


@pytest.mark.timeout(600)  # four training commands (42 s on 2 busy cores)
def test_cli_refuses_to_resume_a_run_with_other_params(tiny_synthetic, data_dir, tmp_path):
  assert _run(_train_command(tmp_path, data_dir, "--steps=2")).returncode == 0
  run = _run(_train_command(tmp_path, data_dir, "--steps=4", "--learning_rate=0.01"))
  assert run.returncode == 2
  assert "holds a run with other params (train.learning_rate: 0.001 -> 0.01)" in run.stderr
  # More steps is not a change of configuration: it resumes.
  run = _run(_train_command(tmp_path, data_dir, "--steps=4"))
  assert run.returncode == 0 and "resuming from the checkpoint at step 2" in run.stderr
  forced = _run(_train_command(tmp_path, data_dir, "--steps=5", "--learning_rate=0.01", "--force"))
  assert forced.returncode == 0
  assert json.load(open(tmp_path / "params.json"))["train"]["learning_rate"] == 0.01


@pytest.mark.parametrize("flags,message", [
    (["--dataset=no_such_dataset"], "unknown dataset 'no_such_dataset'"),
    (["--dataset=synthetic_audio/tiny@nosplit"], "has no split 'nosplit'"),
    (["--task=audio2vec_cbow", "--concat_clips=1"], "--concat_clips"),
    (["--steps=0"], "--steps and --batch_size must be >= 1"),
])
def test_cli_bad_input_is_one_clear_line(flags, message, tiny_synthetic, data_dir, tmp_path):
  command = [f for f in _train_command(tmp_path, data_dir, "--steps=2")
             if not any(f.startswith(x.split("=")[0] + "=") for x in flags)] + flags
  run = _run(command)
  assert run.returncode != 0
  last = run.stderr.strip().splitlines()[-1]
  assert message in last and last.startswith("mobile-ssl-train: error:")


@pytest.mark.timeout(600)  # a 400-step run killed mid-way and resumed (39 s on 2 busy cores)
def test_kill_minus_nine_then_resume_finishes_at_the_same_step(tiny_synthetic, data_dir, tmp_path):
  interval, steps = 20, 400
  command = _train_command(tmp_path, data_dir, f"--steps={steps}",
                           f"--checkpoint_every_steps={interval}", "--log_every_steps=10")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1")
  process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
  log = tmp_path / trainer.LOG_FILE
  logged, deadline = 0, time.time() + 180
  while logged < 90 and time.time() < deadline and process.poll() is None:
    time.sleep(0.05)
    if log.exists():
      rows = log.read_text().splitlines()[1:]
      logged = int(rows[-1].split(",")[0]) if rows and rows[-1].count(",") == 3 else logged
  process.send_signal(signal.SIGKILL)
  process.wait()
  assert 90 <= logged < steps, f"not killed mid-run (last logged step {logged})"
  kept = trainer.latest_step(str(tmp_path))
  assert logged - interval <= kept <= steps  # at most one checkpoint interval lost
  resumed = _run(command)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert f"resuming from the checkpoint at step {kept}" in resumed.stderr
  assert trainer.latest_step(str(tmp_path)) == steps
  model_dir_lib.load_encoder(str(tmp_path))


def _free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def test_multi_worker_two_processes_only_the_chief_writes(tiny_synthetic, data_dir, tmp_path):
  workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
  command = _train_command(tmp_path, data_dir, "--strategy=multi_worker", "--steps=6",
                           "--checkpoint_every_steps=3", "--log_every_steps=3")
  processes = []
  for index in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1",
               TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                     "task": {"type": "worker", "index": index}}))
    processes.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
  results = [p.communicate(timeout=240) for p in processes]
  for process, (out, err) in zip(processes, results):
    assert process.returncode == 0, err[-2000:]
  assert "encoder saved" in results[0][0] and "encoder saved" not in results[1][0]
  assert trainer.latest_step(str(tmp_path)) == 6
  assert sorted(os.listdir(tmp_path)) == sorted(
      ["params.json", "checkpoints", "encoder.keras", trainer.LOG_FILE, trainer.TENSORBOARD_DIR])
  model_dir_lib.load_encoder(str(tmp_path))


def test_cli_without_task_runs_the_tuned_recipe_and_flags_override_it(tiny_synthetic, data_dir,
                                                                      tmp_path):
  """No --task: the best measured task and the tuned recipe, all recorded in params.json."""
  tuned = _run([sys.executable, "-m", "mobile_ssl.commands.train", "--dataset=synthetic_audio/tiny",
                f"--data_dir={data_dir}", f"--model_dir={tmp_path / 'tuned'}", "--steps=2",
                "--width=0.25", "--batch_size=4", "--shuffle_buffer=8"])
  assert tuned.returncode == 0, tuned.stderr[-2000:]
  params = model_dir_lib.read_params(str(tmp_path / "tuned"))
  recipe = recipes.recipe()
  assert params.task == recipe.task and params.augment == recipe.augment
  assert params.encoder.pooling == "multi_mean_std" and params.train.schedule == "cosine"
  assert params.train.concat_clips == 1  # 'auto' resolved: one-slice task, no joining
  paper = _run([sys.executable, "-m", "mobile_ssl.commands.train", "--task=untrained", "--recipe=paper",
                f"--model_dir={tmp_path / 'paper'}", "--crop_scale=0.8,1.2", "--steps=50"])
  assert paper.returncode == 0, paper.stderr[-2000:]
  params = model_dir_lib.read_params(str(tmp_path / "paper"))
  assert params.encoder.pooling == "max" and params.train.schedule == "constant"
  assert params.augment.crop_scale == (0.8, 1.2) and params.augment.gain_db == 0
  assert params.train.steps == 50
