"""Flower ClientApp and ServerApp for federated pretraining through the trainable .tflite.

The client (`client_app`) is a device: it trains the global weights on its
own shard (mobile_ssl/federated/device.py: LiteRT, no TensorFlow) and returns only the
weights and a few counts. The server runs Flower's FedAvg (or FedAdam),
wrapped by `_Counting` so that a client that crashes, returns non-finite
weights or holds no usable audio is counted and left out of the average
instead of ending the run, and it checkpoints after every round through
mobile_ssl/federated/run_state.py, so a killed server resumes from its last round.

The same two apps run in Flower's simulation engine (`mobile-ssl-federated`,
mobile_ssl/federated/simulation.py) and as real `flower-superlink` / `flower-supernode`
processes (the deployment engine; tests/federated_deployment_test.py and
docs/federated.md). The client reads everything it needs from the message's
config and its node config (`partition-id`), so both engines send the same
messages.
"""

import logging
import os
import pathlib
import time
import typing

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAdam, FedAvg, FedAvgM

from mobile_ssl.core import params as params_lib
from mobile_ssl.federated import device
from mobile_ssl.federated import shards as shards_lib

LOG = logging.getLogger("mobile_ssl.federated")
client_app = ClientApp()
# Beside the trainable file: each device's optimizer state (a phone keeps it in its app).
DEVICE_STATE_DIR = "devices"


@client_app.train()
def _client_train(msg: Message, context: Context) -> Message:
  """One round on one device: global weights in, K local LiteRT steps, weights out."""
  config = msg.content["config"]
  partition = int(context.node_config["partition-id"])
  shards = shards_lib.partition(str(config["dataset"]), str(config["clients-by"]))
  if partition >= len(shards):
    raise ValueError(f"partition-id {partition}: the dataset has only {len(shards)} shards")
  params = params_lib.from_json(str(config["params-json"]))
  arrays = msg.content["arrays"]
  global_weights = {k: arrays[k].numpy() for k in arrays.keys()}
  round_number = int(config["round-offset"]) + int(config["server-round"])
  # This device's Adam state between rounds: local storage, never sent. A real device names
  # its own folder (node config `state-dir`); by default it sits beside the trainable file.
  state_dir = str(context.node_config.get("state-dir", "")) or os.path.join(
      os.path.dirname(str(config["model-path"])), DEVICE_STATE_DIR)
  os.makedirs(state_dir, exist_ok=True)
  result = device.local_training(str(config["model-path"]), shards[partition].files, params,
                                 global_weights, int(config["local-steps"]),
                                 seed=1000 * round_number + partition,
                                 first_step=(round_number - 1) * int(config["local-steps"]),
                                 optimizer_state_path=os.path.join(
                                     state_dir, f"partition_{partition}.npz"))
  metrics = MetricRecord({"num-examples": result["num_examples"], "loss": result["loss"],
                          "first-loss": result["first_loss"], "last-loss": result["last_loss"],
                          "skipped-files": result["skipped_files"],
                          "learning-rate": result["learning_rate"]})
  content = RecordDict({"arrays": ArrayRecord({k: Array(v) for k, v in result["weights"].items()}),
                        "metrics": metrics})
  return Message(content=content, reply_to=msg)


def _nbytes(arrays: ArrayRecord) -> int:
  return int(sum(len(a.data) for a in arrays.values()))


def rejection(weights: typing.Dict[str, np.ndarray],
              expected: typing.Dict[str, typing.Tuple[int, ...]]) -> typing.Optional[str]:
  """Why a client's update must not enter the average (None: it may).

  Non-finite values (a diverged or broken client) would make every
  weight NaN after averaging; a missing part or another shape cannot be averaged.
  """
  if set(weights) != set(expected):
    return f"parts {sorted(weights)}, expected {sorted(expected)}"
  for key, value in weights.items():
    if tuple(value.shape) != tuple(expected[key]):
      return f"{key}: shape {tuple(value.shape)}, expected {tuple(expected[key])}"
    if not np.all(np.isfinite(value)):
      return f"{key}: {int(np.size(value) - np.count_nonzero(np.isfinite(value)))} non-finite values"
  return None


class _Counting:
  """Strategy mixin: drops failed or non-finite replies, records each round's figures."""

  round_report: dict = {}

  def configure_train(self, server_round, arrays, config, grid):
    messages = list(super().configure_train(server_round, arrays, config, grid))
    self._expected = {k: tuple(arrays[k].shape) for k in arrays.keys()}
    self.round_report = {"started": time.time(), "clients_sampled": len(messages),
                         "bytes_down": len(messages) * _nbytes(arrays), "bytes_up": 0,
                         "clients_ok": 0, "clients_failed": 0, "failures": []}
    return messages

  def aggregate_train(self, server_round, replies):
    replies, good = list(replies), []
    report = self.round_report
    for msg in replies:
      if msg.has_error():
        # Flower wraps the client's exception in a traceback; its message is the last part.
        reason = msg.error.reason.split("Message: ")[-1].strip().rstrip("'>")
        report["failures"].append(f"node {msg.metadata.src_node_id}: {reason[-300:]}")
        continue
      arrays = next(iter(msg.content.array_records.values()))
      reason = rejection({k: arrays[k].numpy() for k in arrays.keys()}, self._expected)
      if reason:
        report["failures"].append(f"node {msg.metadata.src_node_id}: {reason}")
        continue
      report["bytes_up"] += _nbytes(arrays)
      good.append(msg)
    missing = report["clients_sampled"] - len(replies)
    report["failures"] += ["no reply (timeout or lost connection)"] * missing
    report["clients_ok"], report["clients_failed"] = len(good), len(report["failures"])
    if not good:
      LOG.warning("round %d: no usable client update; the global weights stay", server_round)
      return None, None
    arrays, metrics = super().aggregate_train(server_round, good)
    if metrics is not None:
      report.update({k.replace("-", "_"): float(v) for k, v in metrics.items()
                     if k != "num-examples"})
    return arrays, metrics

  def server_state(self) -> typing.Dict[str, np.ndarray]:
    """What the strategy itself keeps between rounds, by array key (none here)."""
    return {}

  def restore_server_state(self, state: typing.Dict[str, np.ndarray],
                           keys: typing.Sequence[str]) -> None:
    """Takes back `server_state()` of the last checkpointed round (resume); `keys`
    orders the global arrays as the strategy will hold them. ValueError when the
    state does not fit the weights (a strategy with state checks its keys)."""
    del state, keys


class CountingFedAvg(_Counting, FedAvg):
  """FedAvg (McMahan et al. 2017), weighted by examples, robust to failed clients."""


class CountingFedAvgM(_Counting, FedAvgM):
  """FedAvgM (Hsu et al. 2019): a server learning rate and momentum on the averaged update.

  Its momentum is saved with every round (run_state.save_round) and taken back
  on resume, so a resumed run keeps the momentum it had (it restarted from zero
  before 2026-12-04).
  """

  def server_state(self) -> typing.Dict[str, np.ndarray]:
    if self.momentum_vector is None or self.current_arrays is None:
      return {}
    # The momentum list follows the order of the global arrays' keys (FedAvgM.aggregate_train).
    return {k: np.asarray(v) for k, v in zip(self.current_arrays.keys(), self.momentum_vector)}

  def restore_server_state(self, state: typing.Dict[str, np.ndarray],
                           keys: typing.Sequence[str]) -> None:
    if state:
      if set(state) != set(keys):
        raise ValueError(f"holds {sorted(state)}, the weights {sorted(keys)}")
      # `keys`: the initial arrays' order, which FedAvgM keeps as the global arrays' order.
      self.momentum_vector = [np.asarray(state[k]) for k in keys]


class CountingFedAdam(_Counting, FedAdam):
  """FedAdam (Reddi et al. 2021): server-side Adam on the averaged update."""


def make_strategy(strategy: str, min_clients: int, server_learning_rate: float = 1.0,
                  server_momentum: float = 0.0):
  kwargs = dict(fraction_train=1.0, fraction_evaluate=0.0, min_train_nodes=min_clients,
                min_evaluate_nodes=0, min_available_nodes=min_clients)
  if strategy == "fedavgm":
    return CountingFedAvgM(server_learning_rate=server_learning_rate,
                           server_momentum=server_momentum, **kwargs)
  if strategy == "fedadam":
    return CountingFedAdam(eta=1e-2, eta_l=1e-2, **kwargs)
  return CountingFedAvg(**kwargs)


def run_rounds(grid: Grid, model_dir: str, params: params_lib.Params, fed,
               min_clients: int, timeout_seconds: float = 3600) -> dict:
  """Runs the remaining rounds of a new or resumed run, then writes encoder.keras.

  Returns the final state (mobile_ssl/federated/run_state.py's federated.json).
  """
  from mobile_ssl.federated import run_state  # pylint: disable=import-outside-toplevel  (imports TF)
  fed = fed.validate()  # the momentum's default filled in
  done, weights, state = run_state.start_or_resume(model_dir, params, fed)
  remaining = fed.rounds - done
  LOG.info("federated run %s: %d of %d rounds done", model_dir, done, fed.rounds)
  if remaining > 0:
    strategy = make_strategy(fed.strategy, min_clients, fed.server_learning_rate,
                             fed.server_momentum)
    config = ConfigRecord({
        "dataset": os.path.abspath(fed.dataset), "clients-by": fed.clients_by,
        "local-steps": fed.local_steps, "round-offset": done, "params-json": params.to_json(),
        "model-path": os.path.abspath(run_state.trainable_path(model_dir))})

    def checkpoint(server_round: int, arrays: ArrayRecord):
      if server_round == 0:
        return None
      report = dict(strategy.round_report)
      report["wall_seconds"] = round(time.time() - report.pop("started"), 3)
      number = done + server_round
      weights_now = {k: arrays[k].numpy() for k in arrays.keys()}
      run_state.save_round(model_dir, number, weights_now, state, report,
                           server_state=strategy.server_state())
      LOG.info("round %d: %d ok, %d failed, loss %s, %.1f s", number, report["clients_ok"],
               report["clients_failed"], report.get("loss"), report["wall_seconds"])
      return MetricRecord({"clients-ok": report["clients_ok"]})

    saved = run_state.read_server_state(model_dir, done)
    try:
      strategy.restore_server_state(saved, list(weights))
    except ValueError as e:
      raise ValueError(f"{run_state.server_state_path(model_dir, done)}: {e}") from None
    if saved:
      LOG.info("resumed the strategy's state of round %d (%s)", done, ", ".join(sorted(saved)))
    initial = ArrayRecord({k: Array(np.asarray(v, np.float32)) for k, v in weights.items()})
    strategy.start(grid=grid, initial_arrays=initial, num_rounds=remaining,
                   timeout=timeout_seconds, train_config=config, evaluate_fn=checkpoint)
  done, weights, state = run_state.start_or_resume(model_dir, params, fed)
  run_state.finish(model_dir, params, weights)
  return state


def build_server_app(model_dir: str, params: params_lib.Params, fed, min_clients: int,
                     timeout_seconds: float = 3600) -> ServerApp:
  """A ServerApp bound to one run (what the simulation engine runs in-process)."""
  app = ServerApp()

  @app.main()
  def _main(grid: Grid, context: Context) -> None:
    del context
    run_rounds(grid, model_dir, params, fed, min_clients, timeout_seconds)

  return app


server_app = ServerApp()


@server_app.main()
def _deployment_main(grid: Grid, context: Context) -> None:
  """The ServerApp of a `flwr run` (deployment engine), configured by the run config.

  Keys: model-dir, dataset, clients-by, rounds, local-steps, min-clients,
  strategy, server-learning-rate, server-momentum, params-file (a params.json; default: `run_state.default_params()`).
  """
  from mobile_ssl.federated import run_state  # pylint: disable=import-outside-toplevel
  cfg = context.run_config
  params_file = str(cfg.get("params-file", ""))
  params = (params_lib.from_json(pathlib.Path(params_file).read_text(encoding="utf-8")) if params_file
            else run_state.default_params())
  fed = run_state.FederatedParams(
      dataset=str(cfg["dataset"]), clients_by=str(cfg["clients-by"]), rounds=int(cfg["rounds"]),
      local_steps=int(cfg["local-steps"]), strategy=str(cfg.get("strategy", "fedavgm")),
      server_learning_rate=float(cfg.get("server-learning-rate", 1.0)),
      server_momentum=(float(cfg["server-momentum"]) if "server-momentum" in cfg else None),
      min_clients=int(cfg["min-clients"]))
  run_rounds(grid, str(cfg["model-dir"]), run_state.federated_params(params, fed), fed,
             fed.min_clients, float(cfg.get("timeout-seconds", 600)))
