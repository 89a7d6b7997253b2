"""Federated pretraining in Flower's simulation engine, resumable (the library of
`mobile-ssl-federated`, mobile_ssl/commands/federated.py).

Each client holds one shard of the dataset (`shards.partition`), trains the
run's trainable .tflite for a few local steps in LiteRT (`device.py`) and
returns its weights; the server (`flower_app.py`) averages them and
checkpoints every round (`run_state.py`), so a killed run resumes from its last
finished round. The clients run as Ray actors on this machine.
"""

import dataclasses
import json
import logging
import os
import pathlib
import typing

from mobile_ssl.core import params as params_lib
from mobile_ssl.federated import run_state
from mobile_ssl.federated import shards as shards_lib


def resolve(fed: run_state.FederatedParams, model_dir: str, recipe: str = "tuned",
            params_file: str = "", learning_rate: typing.Optional[float] = None,
            seed: int = 0) -> tuple:
  """(Params, validated FederatedParams, number of clients); ValueError on bad input.

  The encoder and task come from `params_file` (a params.json) or else the
  contrastive `recipe`; `learning_rate` (None: that of the params) and `seed`
  set the clients' local training.
  """
  if not fed.dataset:
    raise ValueError("--dataset is required (an audio folder)")
  if not model_dir:
    raise ValueError("--model_dir is required")
  if params_file:
    try:
      params = params_lib.from_json(pathlib.Path(params_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
      raise ValueError(f"--params_file={params_file}: {e}") from None
  else:
    params = run_state.default_params(recipe)
  train = dataclasses.replace(params.train, seed=seed)
  if learning_rate is not None:
    train = dataclasses.replace(train, learning_rate=learning_rate)
  fed = fed.validate()
  params = run_state.federated_params(dataclasses.replace(params, train=train), fed)
  clients = len(shards_lib.partition(fed.dataset, fed.clients_by))
  return params, fed, clients


def simulate(model_dir: str, params, fed, clients: int, parallel_clients: int = 0) -> dict:
  """Runs (or resumes) the run in Flower's simulation engine; returns federated.json's state."""
  from flwr.simulation import run_simulation  # pylint: disable=import-outside-toplevel
  from mobile_ssl.federated import flower_app  # pylint: disable=import-outside-toplevel
  cpus = os.cpu_count() or 1
  parallel = parallel_clients or cpus
  backend = {"client_resources": {"num_cpus": max(1, cpus // parallel), "num_gpus": 0.0},
             "init_args": {"num_cpus": cpus, "num_gpus": 0, "include_dashboard": False,
                           "logging_level": logging.WARNING}}
  server = flower_app.build_server_app(model_dir, params, fed, min_clients=clients)
  run_simulation(server_app=server, client_app=flower_app.client_app,
                 num_supernodes=clients, backend_config=backend)
  state_path = os.path.join(model_dir, run_state.STATE_FILE)
  state = json.loads(pathlib.Path(state_path).read_text(encoding="utf-8"))
  if state["last_round"] < fed.rounds or not os.path.isfile(os.path.join(model_dir,
                                                                          "encoder.keras")):
    raise RuntimeError(f"{model_dir}: the simulation stopped after round "
                       f"{state['last_round']} of {fed.rounds}; run the same command to resume")
  return state
