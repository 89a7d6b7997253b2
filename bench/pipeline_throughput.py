r"""Log-mel slices per second from synthetic_audio: uncached, then cached.

  python bench/pipeline_throughput.py [--data_dir=DIR] [--batches=300]

Streams the train split through `mobile_ssl.data.pipeline.slice_dataset` (decode int16
-> float -> log-mel -> 975 ms slices, batches of 64) and times it after one
warm-up batch. The cached run fills an in-memory log-mel cache with one full
pass, then times a second pass. Also times the float32 STFT for comparison
with the default float64 one (see mobile_ssl/core/features.py). Not a test.
"""

import dataclasses
import os
import time

from absl import app
from absl import flags
from absl import logging

from mobile_ssl.core import params as params_lib
from mobile_ssl.data import datasets
from mobile_ssl.data import pipeline

flags.DEFINE_string("data_dir", None, "TFDS data dir.")
flags.DEFINE_string("dataset", "synthetic_audio", "Dataset to stream.")
flags.DEFINE_integer("batches", 300, "Batches of 64 slices to time per run.")
FLAGS = flags.FLAGS


def _time(ds, batches):
  iterator = iter(ds)
  next(iterator)  # warm-up: tracing, file opening
  count, start = 0, time.perf_counter()
  for _ in range(batches):
    try:
      count += int(next(iterator)["log_mel"].shape[0])
    except StopIteration:
      break
  return count, time.perf_counter() - start


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  builder = datasets.builder(FLAGS.dataset, data_dir=FLAGS.data_dir)
  print(f"{FLAGS.dataset}: {builder.info.splits['train'].num_examples} train clips, "
        f"{os.cpu_count()} CPUs")
  base = params_lib.FeatureParams()
  results = {}
  for label, fp in (("uncached, float64 STFT (default)", base),
                    ("uncached, float32 STFT", dataclasses.replace(base, stft_dtype="float32"))):
    ds = pipeline.slice_dataset(builder, "train", batch_size=64, feature_params=fp).repeat()
    n, seconds = _time(ds, FLAGS.batches)
    results[label] = n / seconds
    print(f"{label:36s} {n / seconds:9.0f} slices/s ({n} slices in {seconds:.1f} s)")
  cached = pipeline.slice_dataset(builder, "train", batch_size=64, cache_path="memory")
  start = time.perf_counter()
  filled = sum(int(b["log_mel"].shape[0]) for b in cached)  # one pass fills the cache
  print(f"{'filling the in-memory cache':36s} {filled / (time.perf_counter() - start):9.0f} "
        f"slices/s ({filled} slices)")
  n, seconds = _time(cached.repeat(), FLAGS.batches)
  results["cached"] = n / seconds
  print(f"{'cached (in memory)':36s} {n / seconds:9.0f} slices/s ({n} slices in {seconds:.1f} s)")
  print(f"cached / uncached (default): {results['cached'] / results['uncached, float64 STFT (default)']:.1f}x")


if __name__ == "__main__":
  app.run(main)
