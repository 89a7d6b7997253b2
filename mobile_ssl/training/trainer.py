"""The one training loop, for every task and every distribution strategy.

A custom loop (`strategy.run` + `tf.nn.compute_average_loss`) rather than
Keras `fit`, because Keras 3's `fit` fails under MultiWorkerMirroredStrategy
(keras-team/keras#20585); the same code runs under the default, mirrored and
multi-worker strategies. Each step: forward the task model, per-example loss
from the task, average over the global batch, Adam(W) update with the
schedule and clipping of `params.train`, then the task's `after_update` hook.

Around the step: checkpoints every N steps (model, optimizer, step) through
`tf.train.CheckpointManager`, whose state file is replaced atomically, so a
`kill -9` leaves the previous checkpoint intact; resume from the newest one;
TensorBoard scalars; a progress line with step, loss and examples/s; a CSV log
for plots. A NaN/Inf loss stops the run before anything is saved, so the last
good checkpoint stays the newest. Only the chief writes into `model_dir`;
other workers save to a throw-away folder (every worker must take part in
saving: reading synchronised variables is a collective op).

The data stream is not checkpointed (the pipeline holds shuffle buffers of
log-mels); on resume it restarts with a seed derived from the resumed step,
so the run sees fresh random examples rather than repeating the first ones.
"""

import csv
import math
import os
import re
import shutil
import sys
import tempfile
import time
import typing

import keras
import tensorflow as tf

from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import progress as progress_bar
from mobile_ssl.core import schedule
from mobile_ssl.core import training_params

LOG_FILE = "train_log.csv"
TENSORBOARD_DIR = "tensorboard"


class TrainingError(RuntimeError):
  """The run cannot go on (e.g. a NaN loss); the message says what happened."""


# What a stream raises when a file under it vanished or is unreadable mid-run (a
# clip store's file deleted by a cache cleaner, a dataset on a network disk gone):
# the run stops with one line naming the file instead of TensorFlow's traceback.
INPUT_ERRORS = (tf.errors.NotFoundError, tf.errors.DataLossError,
                tf.errors.PermissionDeniedError)


def _first_line(error: tf.errors.OpError) -> str:
  """An op error's own message in one line, without TensorFlow's frame around it.

  A graph's error reads 'Graph execution error:', where it was detected, a
  stack trace (indented), then the op's message, then '[[node ...]]' lines;
  a tf.data map's message starts with the iterator's name. What is left
  names the file: '/x/00000003.f32; No such file or directory'.
  """
  lines = [line.rstrip() for line in (error.message or str(error)).splitlines()]
  own = [line for line in lines if line and not line[0].isspace() and not line.startswith(
      ("Graph execution error", "Detected at node", "<stack traces", "[["))]
  line = own[-1] if own else (lines[0] if lines else type(error).__name__)
  line = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line)
  line = re.sub(r"^Error in user-defined function passed to .*? with iterator: \S+: ", "", line)
  return re.sub(r"\s*\[Op:[^\]]*\]$", "", line).strip()


def make_strategy(name: str) -> tf.distribute.Strategy:
  """'default' | 'mirrored' | 'multi_worker' (cluster from TF_CONFIG)."""
  if name == "default":
    return tf.distribute.get_strategy()
  if name == "mirrored":
    return tf.distribute.MirroredStrategy()
  if name == "multi_worker":
    if "TF_CONFIG" not in os.environ:
      raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                       "(see BUILD.md, 'Several machines')")
    return tf.distribute.MultiWorkerMirroredStrategy()
  raise ValueError(f"unknown --strategy {name!r}; valid: default, mirrored, multi_worker")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  return resolver.task_type == "chief" or (
      resolver.task_type == "worker" and resolver.task_id == 0
      and "chief" not in resolver.cluster_spec().as_dict())


def latest_step(model_dir: typing.Optional[str]) -> int:
  """The step of the newest checkpoint in `model_dir`, 0 if there is none."""
  if not model_dir:
    return 0
  path = tf.train.latest_checkpoint(os.path.join(model_dir, model_dir_lib.CHECKPOINT_DIR))
  if not path:
    return 0
  return int(tf.train.load_variable(path, "step/.ATTRIBUTES/VARIABLE_VALUE"))


def _distribute(strategy, dataset, global_batch: int, start_step: int):
  if isinstance(dataset, tf.data.Dataset):
    return strategy.experimental_distribute_dataset(dataset)

  def dataset_fn(context: tf.distribute.InputContext):
    per_replica = context.get_per_replica_batch_size(global_batch)
    return dataset(per_replica, context.input_pipeline_id, start_step)

  return strategy.distribute_datasets_from_function(dataset_fn)


def learning_rate(train: training_params.TrainParams):
  """The learning rate, or its schedule: constant, or linear warm-up then cosine to 0."""
  if train.schedule == "constant":
    if train.warmup_steps:
      raise ValueError("--warmup_steps needs --schedule=cosine")
    return train.learning_rate
  if train.schedule == "cosine":
    if train.warmup_steps < 0:
      raise ValueError(f"--warmup_steps must be >= 0, got {train.warmup_steps}")
    # A recipe's warm-up is capped at a tenth of a short run (e.g. a smoke test);
    # core/schedule.py gives the same rates without TF (federated devices).
    warmup = schedule.warmup_steps(train)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else train.learning_rate,
        decay_steps=max(1, train.steps - warmup), alpha=0.0,
        warmup_target=train.learning_rate if warmup else None, warmup_steps=warmup)
  raise ValueError(f"--schedule must be 'constant' or 'cosine', got {train.schedule!r}")


def make_optimizer(train: training_params.TrainParams) -> keras.optimizers.Optimizer:
  """Adam (the paper's), AdamW with decoupled weight decay, optional global-norm clipping."""
  if train.weight_decay < 0 or train.clip_norm < 0:
    raise ValueError("--weight_decay and --clip_norm must be >= 0")
  clip = {"global_clipnorm": train.clip_norm} if train.clip_norm else {}
  rate = learning_rate(train)
  if train.weight_decay:
    return keras.optimizers.AdamW(rate, weight_decay=train.weight_decay, **clip)
  return keras.optimizers.Adam(rate, **clip)


def fit(model: typing.Union[keras.Model, typing.Callable[[], keras.Model]],
        loss_fn: typing.Callable, dataset, params: params_lib.Params, *,
        model_dir: typing.Optional[str] = None,
        strategy: typing.Optional[tf.distribute.Strategy] = None,
        status: typing.Optional[typing.Callable[[], dict]] = None,
        progress: bool = True,
        after_update: typing.Optional[typing.Callable[[keras.Model], None]] = None) -> dict:
  """Trains `model` for `params.train.steps` steps; resumes from `model_dir`.

  Args:
    model: the task model, or a function building it (called inside the
      strategy's scope; needed for the mirrored and multi-worker strategies).
    loss_fn: (targets, outputs) -> per-example loss [B].
    dataset: a tf.data.Dataset of batched (inputs, targets) with the global
      batch size, or a function (per_replica_batch, pipeline_id, start_step)
      -> such a dataset with the per-replica batch size.
    params: `params.train` gives steps, batch size, learning rate and the
      checkpoint/log intervals.
    model_dir: where checkpoints, TensorBoard and the CSV log go (None: no
      checkpoints, nothing written).
    strategy: a tf.distribute strategy (default: the current one).
    status: called at each log step; its dict is shown and logged (e.g. the
      count of skipped clips).
    progress: show a progress bar (chief only).
    after_update: called with the model after every optimizer step, inside
      the compiled step (BYOL-A's moving-average target network).

  Returns:
    {'step': [...], 'loss': [...], 'examples_per_second': [...], 'model': the
    trained model, 'start_step': the step the run resumed from}.

  Raises:
    TrainingError: the loss became NaN/Inf, or reading the input failed
      (`INPUT_ERRORS`: a file vanished); the last checkpoint is kept.
  """
  train = params.train
  strategy = strategy or tf.distribute.get_strategy()
  chief = is_chief(strategy)
  with strategy.scope():
    if callable(model) and not isinstance(model, keras.Model):
      model = model()
    optimizer = make_optimizer(train)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
  manager, scratch = None, None
  if model_dir:
    folder = os.path.join(model_dir, model_dir_lib.CHECKPOINT_DIR)
    if not chief:
      scratch = tempfile.mkdtemp(prefix="mobile_ssl_worker_")
      folder = scratch
    manager = tf.train.CheckpointManager(checkpoint, folder,
                                         max_to_keep=max(1, train.keep_checkpoints))
    if chief and manager.latest_checkpoint:
      checkpoint.restore(manager.latest_checkpoint).expect_partial()
    elif not chief:
      main = tf.train.latest_checkpoint(os.path.join(model_dir, model_dir_lib.CHECKPOINT_DIR))
      if main:
        checkpoint.restore(main).expect_partial()
  start_step = int(step.numpy())
  if start_step and chief and progress:
    print(f"resuming from the checkpoint at step {start_step}", file=sys.stderr, flush=True)
  global_batch = train.batch_size
  iterator = iter(_distribute(strategy, dataset, global_batch, start_step))

  @tf.function
  def train_step(iterator):
    def step_fn(inputs, targets):
      with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        per_example = loss_fn(targets, outputs)
        loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch)
      grads = tape.gradient(loss, model.trainable_variables)
      optimizer.apply_gradients(zip(grads, model.trainable_variables))
      return loss

    inputs, targets = next(iterator)
    per_replica = strategy.run(step_fn, args=(inputs, targets))
    if after_update is not None:
      after_update(model)
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

  writer = log = None
  if model_dir and chief:
    writer = tf.summary.create_file_writer(os.path.join(model_dir, TENSORBOARD_DIR))
    log_path = os.path.join(model_dir, LOG_FILE)
    new_log = not os.path.exists(log_path)
    log = open(log_path, "a", newline="", buffering=1)
    log_writer = csv.writer(log)
    if new_log:
      log_writer.writerow(["step", "loss", "examples_per_second", "wall_seconds"])
  history = {"step": [], "loss": [], "examples_per_second": [], "start_step": start_step}
  # A live bar on a terminal; plain lines every log step in files and CI logs.
  show = progress and chief
  bar = progress_bar.bar(total=train.steps, initial=start_step, desc="train", unit="step",
                        leave=True, show=show)
  started = last_time = time.time()
  last_step = start_step
  try:
    while int(step.numpy()) < train.steps:
      try:
        loss = float(train_step(iterator))
      except INPUT_ERRORS as e:
        raise TrainingError(
            f"reading the input failed at step {int(step.numpy()) + 1}: {_first_line(e)}; "
            f"stopped, nothing saved after the last checkpoint (step "
            f"{latest_step(model_dir) if chief else '?'}). Run again to resume; a damaged "
            f"log-mel cache is filled again then.") from e
      if not math.isfinite(loss):
        raise TrainingError(
            f"loss is {loss} at step {int(step.numpy()) + 1}; stopped, nothing saved after the "
            f"last checkpoint (step {latest_step(model_dir) if chief else '?'}). Try a lower "
            f"--learning_rate.")
      step.assign_add(1)
      current = int(step.numpy())
      bar.update(1)
      if current % train.log_every_steps == 0 or current == train.steps:
        now = time.time()
        rate = (current - last_step) * global_batch / max(now - last_time, 1e-9)
        last_time, last_step = now, current
        extra = status() if status else {}
        bar.set_postfix(loss=f"{loss:.4f}", ex_per_s=f"{rate:.0f}", **extra)
        history["step"].append(current)
        history["loss"].append(loss)
        history["examples_per_second"].append(rate)
        if writer:
          with writer.as_default(step=current):
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("examples_per_second", rate)
            for key, value in extra.items():
              tf.summary.scalar(key, value)
          log_writer.writerow([current, f"{loss:.6g}", f"{rate:.1f}", f"{now - started:.1f}"])
        if show and bar.disable:
          print(f"step {current}/{train.steps} loss {loss:.4f} examples/s {rate:.0f} "
                + " ".join(f"{k} {v}" for k, v in extra.items()), file=sys.stderr, flush=True)
      if manager and (current % train.checkpoint_every_steps == 0 or current == train.steps):
        manager.save(checkpoint_number=current)
  finally:
    bar.close()
    if log:
      log.close()
    if writer:
      writer.flush()
    if scratch:
      shutil.rmtree(scratch, ignore_errors=True)
  history["model"] = model
  return history
