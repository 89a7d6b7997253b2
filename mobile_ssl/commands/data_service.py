"""mobile-ssl-data-service: a tf.data service dispatcher or worker in its own process.

  mobile-ssl-data-service --role=dispatcher --port=5050
  mobile-ssl-data-service --role=worker --dispatcher=localhost:5050       # one per core/host
  mobile-ssl-train --dataset=... --model_dir=... --data_service=localhost:5050

Why and how: mobile_ssl/data/data_service.py.
"""

from absl import flags

from mobile_ssl.commands import cli
from mobile_ssl.data import data_service

PROG = "mobile-ssl-data-service"


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py)."""
  where = cli.where(fv)
  flags.DEFINE_enum("role", None, ["dispatcher", "worker"], "Which server to run.", **where)
  flags.DEFINE_integer("port", 0, "Port to serve on (0: any free port, printed at start).",
                       **where)
  flags.DEFINE_string("dispatcher", "", "Worker: the dispatcher's HOST:PORT.", **where)
  flags.DEFINE_string("host", "localhost", "Worker: the host name clients reach it by.", **where)


def main(argv, fv: flags.FlagValues) -> int:
  cli.check_no_arguments(PROG, argv)
  try:
    if fv.role == "dispatcher":
      server = data_service.start_dispatcher(fv.port)
      print(f"dispatcher serving at {server.target}", flush=True)
    else:
      if not fv.dispatcher:
        raise ValueError("--role=worker needs --dispatcher=HOST:PORT")
      data_service.check_dispatcher(fv.dispatcher)
      server = data_service.start_worker(fv.dispatcher, fv.port, fv.host)
      print(f"worker registered with {fv.dispatcher}", flush=True)
  except ValueError as e:
    return cli.error(PROG, str(e).replace("--data_service", "--dispatcher"))
  server.join()
  return 0


def run():
  cli.run(PROG, define_flags, main, required=["role"])


if __name__ == "__main__":
  run()
