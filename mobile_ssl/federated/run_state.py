"""A federated run's directory: its settings, the trainable file, one checkpoint per round, resume.

Flower runs the rounds (mobile_ssl/federated/flower_app.py); this module owns what
is on disk, so a run killed at any moment restarts from its last finished
round with the same command. Layout inside --model_dir:

  params.json            the encoder and task params (model_dir.py), as a central run writes
  federated.json         the federated settings and, per round, clients used and failed,
                         mean loss, wall time and bytes sent each way
  trainable.tflite       the file every client trains (export/trainable.py)
  rounds/round_NNNN.npz  global weights ('encoder', 'pretext_head') after round N
  devices/partition_N.npz  each simulated device's own Adam state between rounds (written by
                         the clients, flower_app.py; what a phone would keep in its storage)
  encoder.keras          written after the last round: `mobile-ssl-eval --encoders=DIR`,
                         `export_tflite --encoder=DIR` and HEAR load it like a central run's

Every file is written atomically (mobile_ssl/core/atomic.py); the round's
checkpoint lands before federated.json names it, so the two cannot disagree.
"""

import dataclasses
import glob
import json
import logging
import os
import pathlib
import re
import typing
import zipfile

import numpy as np

from mobile_ssl.core import atomic
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import fields
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.export import trainable

LOG = logging.getLogger("mobile_ssl.federated")

STATE_FILE = "federated.json"
TRAINABLE_FILE = "trainable.tflite"
ROUNDS_DIR = "rounds"
KEEP_ROUNDS = 3
STRATEGIES = ("fedavg", "fedavgm", "fedadam")
# FedAvgM's momentum when --server_momentum is not given: three seeds each of
# 0.8 and 0.9 on FSDD, 0.8 ahead on digits 10-shot by 4.5 (docs/federated.md).
DEFAULT_SERVER_MOMENTUM = 0.8


@dataclasses.dataclass(frozen=True)
class FederatedParams:
  """What `mobile-ssl-federated` was asked to do; a resumed run must ask the same.

  Field metadata: the help of mobile-ssl-federated's flag of the same name
  (mobile_ssl/commands/cli.py); 'flag': None is not a flag.
  """

  dataset: str = dataclasses.field(default="", metadata={
      "help": "Audio folder whose shards the clients hold."})
  clients_by: str = dataclasses.field(default="speaker", metadata={
      "help": "One client per: speaker (FSDD names), folder (top-level sub-folder), or a "
              "number N of random shards."})
  rounds: int = dataclasses.field(default=10, metadata={
      "help": "Federated rounds (in total, across resumes)."})
  local_steps: int = dataclasses.field(default=5, metadata={
      "help": "Training steps per client per round."})
  train_batch: int = dataclasses.field(default=trainable.DEFAULT_TRAIN_BATCH, metadata={
      "help": "Windows per local step."})
  # FedAvgM with momentum 0.8 is the default since 2026-12-04: on FSDD's six speaker
  # clients it scored 94.0 / 63.8 / 97.1 / 81.6 (digits, 10-shot, speakers, 10-shot;
  # three seeds) where FedAvg scored 86.3 / 52.0 / 95.7 / 78.9 (docs/federated.md).
  strategy: str = dataclasses.field(default="fedavgm", metadata={
      "help": "Server aggregation: fedavgm (server learning rate and momentum on the "
              "averaged update), fedavg, fedadam.", "enum": STRATEGIES})
  # FedAvgM (Hsu et al. 2019): w <- w - lr * (momentum * m + (w - average)); 1.0 and 0.0
  # are plain FedAvg. Averaging six non-IID clients' K steps moves the weights about as
  # far as K central steps, not 6K: the server rate and momentum give the round its reach.
  server_learning_rate: float = dataclasses.field(default=1.0, metadata={
      "help": "fedavgm: the server's step on the averaged update (1.0: FedAvg's)."})
  # None: DEFAULT_SERVER_MOMENTUM with fedavgm, 0 (FedAvg's) with the others (`validate`).
  server_momentum: typing.Optional[float] = dataclasses.field(default=None, metadata={
      "help": "fedavgm: the server's momentum over rounds (default: 0.8 with fedavgm, "
              "0: none)."})
  # Clients a round waits for; 0: all shards (simulation) or all of them (deployment).
  # The deployment's pyproject.toml sets it; the simulation waits for every shard.
  min_clients: int = dataclasses.field(default=0, metadata={"flag": None})

  def validate(self) -> "FederatedParams":
    """A copy with the momentum's default filled in; ValueError naming the flag otherwise."""
    if self.server_momentum is None:
      return dataclasses.replace(self, server_momentum=DEFAULT_SERVER_MOMENTUM
                                 if self.strategy == "fedavgm" else 0.0).validate()
    if self.rounds < 1 or self.local_steps < 1:
      raise ValueError(f"--rounds and --local_steps must be >= 1, got {self.rounds}, "
                       f"{self.local_steps}")
    fields.check_choices(self)
    if self.train_batch < 2:
      raise ValueError(f"--train_batch must be >= 2, got {self.train_batch}")
    if self.server_learning_rate <= 0 or not 0 <= self.server_momentum < 1:
      raise ValueError(f"--server_learning_rate must be > 0 and --server_momentum in [0, 1), "
                       f"got {self.server_learning_rate}, {self.server_momentum}")
    if self.strategy != "fedavgm" and (self.server_learning_rate, self.server_momentum) != (1.0, 0.0):
      raise ValueError("--server_learning_rate and --server_momentum need --strategy=fedavgm")
    return self


def checkpoint_path(model_dir: str, round_number: int) -> str:
  return os.path.join(model_dir, ROUNDS_DIR, f"round_{round_number:04d}.npz")


def server_state_path(model_dir: str, round_number: int) -> str:
  """The strategy's own state after round N (FedAvgM's momentum), beside its weights."""
  return os.path.join(model_dir, ROUNDS_DIR, f"server_{round_number:04d}.npz")


def read_server_state(model_dir: str, round_number: int) -> typing.Dict[str, np.ndarray]:
  """The strategy state saved with round N; empty when there is none (FedAvg, round 0,
  or a run from before 2026-12-04, whose FedAvgM momentum then starts from zero)."""
  path = server_state_path(model_dir, round_number)
  if not os.path.isfile(path):
    return {}
  try:
    return atomic.read_arrays(path)
  except (OSError, ValueError, zipfile.BadZipFile) as e:
    # Like a device's optimizer file: the weights are what matter; the momentum restarts.
    LOG.warning("%s: unreadable (%s); the strategy's state starts afresh", path, e)
    return {}


def trainable_path(model_dir: str) -> str:
  return os.path.join(model_dir, TRAINABLE_FILE)


def _read_state(model_dir: str) -> typing.Optional[dict]:
  path = os.path.join(model_dir, STATE_FILE)
  if not os.path.exists(path):
    return None
  try:
    return json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}: not valid JSON ({e})") from None


def _write_state(model_dir: str, state: dict) -> None:
  atomic.write_text(os.path.join(model_dir, STATE_FILE), json.dumps(state, indent=2) + "\n")


def start_or_resume(model_dir: str, params: params_lib.Params, fed: FederatedParams
                    ) -> typing.Tuple[int, typing.Dict[str, np.ndarray], dict]:
  """(last finished round, its global weights, the state) of a new or resumed run.

  A new run writes params.json, the trainable file and round 0 (the
  initialization). A resumed run must have been started with the same
  params and settings.

  Raises:
    ValueError: the directory holds a different run, or none of its checkpoints.
  """
  fed = fed.validate()
  state = _read_state(model_dir)
  settings = dataclasses.asdict(fed)
  if state is not None:
    stored = model_dir_lib.read_params(model_dir)
    if stored != params:
      # A run started under an earlier default (or another --params_file) resumes
      # with its own params.json; anything else needs a new directory.
      raise ValueError(f"{model_dir}: holds a federated run with other params; resume it with "
                       f"--params_file={model_dir_lib.params_path(model_dir)} and its "
                       f"--seed, or use a new --model_dir")
    if state["settings"] != settings:
      raise ValueError(f"{model_dir}: holds a federated run with other settings "
                       f"({state['settings']}); use a new --model_dir")
    done = state["last_round"]
    path = checkpoint_path(model_dir, done)
    if not os.path.isfile(path):
      raise ValueError(f"{path}: missing; {STATE_FILE} says round {done} finished")
    return done, atomic.read_arrays(path), state
  os.makedirs(os.path.join(model_dir, ROUNDS_DIR), exist_ok=True)
  model_dir_lib.write_params(model_dir, params)
  encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=params.train.seed)
  dim = params.encoder.output_dim(params.features)
  pretext = trainable.initial_pretext_weights(dim, params.train.seed,
                                            params.task.contrastive_init_scale)
  atomic.write_bytes(trainable_path(model_dir), trainable.build_trainable(
      encoder, params, pretext, train_batch=fed.train_batch))
  weights = {"encoder": trainable.flat_encoder(encoder, params),
             "pretext_head": np.concatenate([w.ravel() for w in pretext])}
  state = {"settings": settings, "last_round": 0, "rounds": []}
  save_round(model_dir, 0, weights, state, None)
  return 0, weights, state


def save_round(model_dir: str, round_number: int, weights: typing.Dict[str, np.ndarray],
               state: dict, record: typing.Optional[dict],
               server_state: typing.Optional[typing.Dict[str, np.ndarray]] = None) -> None:
  """Writes round N's checkpoint (and the strategy's state, when it has one), then the
  state naming it; keeps the newest KEEP_ROUNDS of each."""
  if server_state:
    atomic.write_arrays(server_state_path(model_dir, round_number), server_state)
  atomic.write_arrays(checkpoint_path(model_dir, round_number), weights)
  state["last_round"] = round_number
  if record is not None:
    state["rounds"].append(dict(record, round=round_number))
  _write_state(model_dir, state)
  pattern = re.compile(r"(?:round|server)_(\d+)\.npz$")
  for path in glob.glob(os.path.join(model_dir, ROUNDS_DIR, "*_*.npz")):
    match = pattern.search(path)
    if match and int(match[1]) <= round_number - KEEP_ROUNDS:
      os.remove(path)


def finish(model_dir: str, params: params_lib.Params,
           weights: typing.Dict[str, np.ndarray]) -> str:
  """Writes encoder.keras from the global weights: the run directory is then a normal one."""
  encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=params.train.seed)
  trainable.set_flat_encoder(encoder, params, weights["encoder"])
  return model_dir_lib.save_encoder(model_dir, encoder, params)


# The mel axis's stretch of the federated default's resized crop (see below).
FREQ_CROP_SCALE = (0.8, 1.25)


def default_params(recipe: str = "tuned") -> params_lib.Params:
  """What a federated run trains when no params file is given.

  The tuned contrastive recipe (cosine similarity, temperature 0.2) with the
  512-value `time_mean_max` read-out. The 1,536-value `multi_mean_std`
  read-out of mobile-ssl-train's tuned recipe would make the head's matrix
  1,536 x 1,536 (2.4 M weights, 9.4 MB sent per client and round, 24x the
  encoder); pass its params.json as the params file to train it anyway.
  Until 2026-12-04 the default was COLA's bilinear similarity: its logits
  start near 50 and Adam's steps on the 512 x 512 matrix push them further,
  so a client's first few hundred steps only bring the loss down to ln B,
  and six clients averaged take a sixth of the central run's sequential
  steps; at 38,400 pairs cosine scored 86.3 on FSDD digits where bilinear
  scored 78.0 (docs/federated.md).
  """
  params = recipes.recipe("contrastive", recipe)
  if recipe != "tuned":
    return params
  # The resized crop stretches the mel axis mildly (0.8-1.25x). mobile-ssl-train's
  # recipe crops time only since 2026-12-04; federated, that gained digits but
  # lost 3.2 points on speakers 10-shot where central gained 2.7: with one
  # speaker per client, the mel stretch is what makes a client's views differ
  # as speakers do. BYOL-A's 0.6-1.5x (the default until 2026-12-05) missed
  # the goal of staying within 3 points of central by 0.6 on speakers 10-shot;
  # 0.8-1.25x was within 3 points of central with the same params on every
  # column over three seeds (docs/federated.md).
  augment = dataclasses.replace(params.augment, freq_crop_scale=FREQ_CROP_SCALE)
  return dataclasses.replace(
      params, encoder=dataclasses.replace(params.encoder, pooling="time_mean_max"),
      augment=augment)


def federated_params(params: params_lib.Params,
                     fed: typing.Optional[FederatedParams] = None) -> params_lib.Params:
  """The run's Params: the contrastive task the trainable file trains, named as such.

  With `fed`, the schedule is laid over the run: `train.steps` becomes
  rounds x local steps (the steps each client takes in all; devices read
  their rate by the global step, core/schedule.py) and the warm-up keeps
  its share of the recipe's run (100 of 3,200 steps: 1/32 of the rounds).
  """
  params = dataclasses.replace(params, task=dataclasses.replace(params.task, name="contrastive"))
  if fed is None:
    return params
  steps = fed.rounds * fed.local_steps
  warmup = round(params.train.warmup_steps * steps / max(1, params.train.steps))
  return dataclasses.replace(params, train=dataclasses.replace(
      params.train, steps=steps, warmup_steps=warmup))
