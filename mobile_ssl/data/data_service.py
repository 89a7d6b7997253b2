r"""Training input from the tf.data service: a dispatcher and workers in their own processes.

  mobile-ssl-data-service --role=dispatcher --port=5050
  mobile-ssl-data-service --role=worker --dispatcher=localhost:5050       # one per core/host
  mobile-ssl-train --dataset=... --model_dir=... --data_service=localhost:5050

Why: when decoding, log-mel and the task sampler cannot keep up with the
training step (bench/train_throughput.py), the same pipeline can run on other
processes or machines. The training process builds the pipeline as usual
(`task_stream.task_dataset`) and `distribute` ships its graph to the workers, which
read the dataset files themselves (they must see the same paths) and stream
batches back.

Mode 'parallel_epochs': every worker runs the whole (endless) pipeline. With
the same seeds every worker would produce the same batches, so the pipeline's
shuffles are left unseeded in this mode (`task_dataset(random_order=True)`):
each worker draws its own order. A run through the service is therefore not
reproducible batch for batch (the interleaving of workers depends on timing
anyway); per-example randomness is still drawn from stateless seeds.
"""

import socket
import typing
import urllib.parse

import tensorflow as tf

PROTOCOL = "grpc"
CONNECT_TIMEOUT_SECONDS = 5.0


def host_port(address: str) -> typing.Tuple[str, int]:
  """'grpc://host:port' or 'host:port' -> (host, port); ValueError naming --data_service."""
  parsed = urllib.parse.urlsplit(address if "://" in address else f"{PROTOCOL}://{address}")
  try:
    port = parsed.port
  except ValueError:
    port = None
  if parsed.scheme != PROTOCOL or not parsed.hostname or not port:
    raise ValueError(f"--data_service={address}: expected HOST:PORT of a tf.data service "
                     f"dispatcher (mobile-ssl-data-service --role=dispatcher)")
  return parsed.hostname, port


def check_dispatcher(address: str) -> str:
  """The dispatcher's 'grpc://host:port' once something listens there; else a ValueError.

  A client given an address where nothing listens retries forever: this turns
  a typo into a one-line error instead of a silent hang.
  """
  host, port = host_port(address)
  try:
    with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_SECONDS):
      pass
  except OSError as e:
    raise ValueError(f"--data_service={address}: no dispatcher at {host}:{port} ({e.strerror or e}); "
                     "start one with mobile-ssl-data-service --role=dispatcher") from None
  return f"{PROTOCOL}://{host}:{port}"


def distribute(ds: tf.data.Dataset, address: str) -> tf.data.Dataset:
  """`ds` produced by the service's workers instead of this process."""
  return ds.apply(tf.data.experimental.service.distribute(
      processing_mode="parallel_epochs", service=address))


def start_dispatcher(port: int = 0) -> tf.data.experimental.service.DispatchServer:
  """A dispatcher on `port` (0: any free port; its address is `server.target`)."""
  return tf.data.experimental.service.DispatchServer(
      tf.data.experimental.service.DispatcherConfig(port=port, protocol=PROTOCOL))


def start_worker(dispatcher: str, port: int = 0, host: str = "localhost"
                 ) -> tf.data.experimental.service.WorkerServer:
  """A worker that registers with `dispatcher` ('host:port') and serves on `port`."""
  dispatcher_host, dispatcher_port = host_port(dispatcher)
  config = tf.data.experimental.service.WorkerConfig(
      dispatcher_address=f"{dispatcher_host}:{dispatcher_port}",
      worker_address=f"{host}:%port%", port=port, protocol=PROTOCOL)
  return tf.data.experimental.service.WorkerServer(config)
