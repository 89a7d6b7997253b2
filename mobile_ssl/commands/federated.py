r"""mobile-ssl-federated: federated pretraining with Flower's simulation engine; resumable.

  mobile-ssl-federated --dataset=/data/fsdd/recordings --clients_by=speaker \
      --rounds=20 --local_steps=5 --model_dir=runs/fed

Each client holds one shard of --dataset (one FSDD speaker, one sub-folder,
or one of N random shards), trains the run's trainable .tflite for
--local_steps steps in LiteRT (mobile_ssl/federated/device.py) and returns its weights;
the server averages them and steps with momentum 0.8 on the average (FedAvgM,
the default, measured best on FSDD: docs/federated.md; --strategy=fedavg
plain averaging, --strategy=fedadam server-side Adam) and checkpoints every
round. Re-running the same command after a crash or kill -9 resumes
from the last finished round. MODEL_DIR ends like a central run's
(params.json + encoder.keras), so mobile-ssl-eval, export_tflite and HEAR
take it unchanged; MODEL_DIR/federated.json has per-round clients, failures,
loss, wall time and bytes. Flower's simulation engine runs the clients as
Ray actors on this machine (--parallel_clients at a time).
"""

import json

from absl import flags

from mobile_ssl.commands import cli
from mobile_ssl.core import recipes
from mobile_ssl.federated import run_state
from mobile_ssl.federated import simulation

PROG = "mobile-ssl-federated"


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py)."""
  where = cli.where(fv)
  # --dataset, --clients_by, --rounds, --local_steps, --train_batch, --strategy.
  cli.define_dataclass(fv, run_state.FederatedParams)
  flags.DEFINE_string("model_dir", None, "Run directory (resumed when it holds this run).",
                      **where)
  flags.DEFINE_enum("recipe", "tuned", list(recipes.RECIPES),
                    "Encoder and task params to start from (core/recipes.py).", **where)
  flags.DEFINE_string("params_file", "", "A params.json to use instead of --recipe.", **where)
  flags.DEFINE_float("learning_rate", None, "Peak local learning rate of the schedule "
                     "(default: the recipe's).", **where)
  flags.DEFINE_integer("seed", 0, "Seeds the initialization.", **where)
  flags.DEFINE_integer("parallel_clients", 0, "Clients run at once (0: one per CPU core).",
                       **where)


def resolve_flags(fv: flags.FlagValues) -> tuple:
  """(Params, FederatedParams, number of clients) from parsed flags; ValueError on bad input."""
  fed = run_state.FederatedParams(**cli.dataclass_values(run_state.FederatedParams, fv))
  return simulation.resolve(fed, fv.model_dir, recipe=fv.recipe, params_file=fv.params_file,
                            learning_rate=fv.learning_rate, seed=fv.seed)


def main(argv, fv: flags.FlagValues) -> int:
  cli.check_no_arguments(PROG, argv)
  try:
    params, fed, clients = resolve_flags(fv)
    state = simulation.simulate(fv.model_dir, params, fed, clients, fv.parallel_clients)
  except (ValueError, RuntimeError) as e:
    return cli.error(PROG, e)
  rounds = state["rounds"]
  failed = sum(r["clients_failed"] for r in rounds)
  print(json.dumps({"model_dir": fv.model_dir, "clients": clients, "rounds": state["last_round"],
                    "client_failures": failed,
                    "last_loss": rounds[-1].get("loss") if rounds else None}, indent=2))
  return 0


def run():
  cli.run(PROG, define_flags, main)


if __name__ == "__main__":
  run()
