r"""mobile-ssl-federated: federated pretraining with Flower's simulation engine; resumable.

  mobile-ssl-federated --dataset=/data/fsdd/recordings --clients_by=speaker \
      --rounds=20 --local_steps=5 --model_dir=runs/fed

Each client holds one shard of --dataset (one FSDD speaker, one sub-folder,
or one of N random shards), trains the run's trainable .tflite for
--local_steps steps in LiteRT (mobile_ssl/device.py) and returns its weights;
the server averages them (FedAvg, or --strategy=fedadam) and checkpoints
every round. Re-running the same command after a crash or kill -9 resumes
from the last finished round. MODEL_DIR ends like a central run's
(params.json + encoder.keras), so mobile-ssl-eval, export_tflite and HEAR
take it unchanged; MODEL_DIR/federated.json has per-round clients, failures,
loss, wall time and bytes. Flower's simulation engine runs the clients as
Ray actors on this machine (--parallel_clients at a time).
"""

import dataclasses
import json
import logging
import os
import sys

from absl import app
from absl import flags

from mobile_ssl import federated
from mobile_ssl import params as params_lib
from mobile_ssl import shards as shards_lib


def define_flags(flag_values=None) -> None:
  fv = flags.FLAGS if flag_values is None else flag_values
  if "clients_by" in fv:
    return
  where = {"flag_values": fv}
  d = federated.FederatedParams()
  flags.DEFINE_string("dataset", None, "Audio folder whose shards the clients hold.", **where)
  flags.DEFINE_string("clients_by", d.clients_by, "One client per: speaker (FSDD names), "
                      "folder (top-level sub-folder), or a number N of random shards.", **where)
  flags.DEFINE_integer("rounds", d.rounds, "Federated rounds (in total, across resumes).", **where)
  flags.DEFINE_integer("local_steps", d.local_steps, "Training steps per client per round.",
                       **where)
  flags.DEFINE_integer("train_batch", d.train_batch, "Windows per local step.", **where)
  flags.DEFINE_enum("strategy", d.strategy, list(federated.STRATEGIES), "Server aggregation.",
                    **where)
  flags.DEFINE_string("model_dir", None, "Run directory (resumed when it holds this run).",
                      **where)
  flags.DEFINE_enum("recipe", "tuned", list(params_lib.RECIPES),
                    "Encoder and task params to start from (params.py).", **where)
  flags.DEFINE_string("params_file", "", "A params.json to use instead of --recipe.", **where)
  flags.DEFINE_float("learning_rate", None, "Local Adam learning rate (default: the recipe's).",
                     **where)
  flags.DEFINE_integer("seed", 0, "Seeds the initialization.", **where)
  flags.DEFINE_integer("parallel_clients", 0, "Clients run at once (0: one per CPU core).",
                       **where)


def resolve(fv) -> tuple:
  """(Params, FederatedParams, number of clients) from parsed flags; ValueError on bad input."""
  if not fv.dataset:
    raise ValueError("--dataset is required (an audio folder)")
  if not fv.model_dir:
    raise ValueError("--model_dir is required")
  if fv.params_file:
    try:
      params = params_lib.from_json(open(fv.params_file, encoding="utf-8").read())
    except (OSError, ValueError) as e:
      raise ValueError(f"--params_file={fv.params_file}: {e}") from None
  else:
    params = params_lib.recipe("contrastive", fv.recipe)
  train = dataclasses.replace(params.train, seed=fv.seed)
  if fv.learning_rate is not None:
    train = dataclasses.replace(train, learning_rate=fv.learning_rate)
  params = federated.federated_params(dataclasses.replace(params, train=train))
  fed = federated.FederatedParams(
      dataset=fv.dataset, clients_by=fv.clients_by, rounds=fv.rounds, local_steps=fv.local_steps,
      train_batch=fv.train_batch, strategy=fv.strategy).validate()
  clients = len(shards_lib.partition(fv.dataset, fv.clients_by))
  return params, fed, clients


def simulate(model_dir: str, params, fed, clients: int, parallel_clients: int = 0) -> dict:
  """Runs (or resumes) the run in Flower's simulation engine; returns federated.json's state."""
  from flwr.simulation import run_simulation  # pylint: disable=import-outside-toplevel
  from mobile_ssl import federated_app  # pylint: disable=import-outside-toplevel
  cpus = os.cpu_count() or 1
  parallel = parallel_clients or cpus
  backend = {"client_resources": {"num_cpus": max(1, cpus // parallel), "num_gpus": 0.0},
             "init_args": {"num_cpus": cpus, "num_gpus": 0, "include_dashboard": False,
                           "logging_level": logging.WARNING}}
  server = federated_app.build_server_app(model_dir, params, fed, min_clients=clients)
  run_simulation(server_app=server, client_app=federated_app.client_app,
                 num_supernodes=clients, backend_config=backend)
  state_path = os.path.join(model_dir, federated.STATE_FILE)
  state = json.loads(open(state_path, encoding="utf-8").read())
  if state["last_round"] < fed.rounds or not os.path.isfile(os.path.join(model_dir,
                                                                          "encoder.keras")):
    raise RuntimeError(f"{model_dir}: the simulation stopped after round "
                       f"{state['last_round']} of {fed.rounds}; run the same command to resume")
  return state


def main(argv, flag_values=None) -> int:
  fv = flags.FLAGS if flag_values is None else flag_values
  if len(argv) > 1:
    print(f"mobile-ssl-federated: unexpected arguments {argv[1:]}", file=sys.stderr)
    sys.exit(1)
  try:
    params, fed, clients = resolve(fv)
    state = simulate(fv.model_dir, params, fed, clients, fv.parallel_clients)
  except (ValueError, RuntimeError) as e:
    print(f"mobile-ssl-federated: {e}", file=sys.stderr)
    sys.exit(1)
  rounds = state["rounds"]
  failed = sum(r["clients_failed"] for r in rounds)
  print(json.dumps({"model_dir": fv.model_dir, "clients": clients, "rounds": state["last_round"],
                    "client_failures": failed,
                    "last_loss": rounds[-1].get("loss") if rounds else None}, indent=2))
  return 0


def run():
  define_flags()
  app.run(main)


if __name__ == "__main__":
  run()
