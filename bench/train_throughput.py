r"""Training examples/s per task, and whether the input pipeline keeps up.

  python bench/train_throughput.py [--tasks=...] [--batch_size=64] [--steps=40] [--recipe=tuned]
      [--rounds=1]

For each task, the same training loop (`mobile_ssl.training.trainer.fit`, width 1.0,
batch 64) runs twice: on the real input pipeline from synthetic_audio
(decode -> log-mel -> task sampler) and on one cached batch repeated. The
ratio of step times (real / cached) is 1.0 when the pipeline is never the
bottleneck (goal <= 1.05). `--recipe` picks the defaults (`params.recipe`): the
tuned recipe's augmentations run in the input pipeline, so they count on the
real side. Timings skip the first steps (tracing, buffers). With `--cache`, a
first-epoch run fills the cache before the timed pairs, so that every real run
reads cached log-mels (before 2026-12-06 the first round's real run filled it,
and its ratio counted the uncached epoch); that run's step time is printed beside
the ratio as the uncached first epoch's. `--rounds=R`
runs the pair R times, the real side first in the first, third, ... round and
the cached side first in the others (an even R balances the order), and
reports the median of the R ratios (the upper middle one when R is even) with
each round's: one pair of runs drifts with the machine (single-round ratios of
one task ranged 0.85-1.21 on the 2-vCPU Xeon).
Not a test.
"""

import dataclasses
import sys
import time

from absl import app
from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import tasks
from mobile_ssl.data import datasets
from mobile_ssl.data import pipeline as data
from mobile_ssl.training import trainer

flags.DEFINE_string("data_dir", None, "TFDS data dir.")
flags.DEFINE_string("dataset", "synthetic_audio", "TFDS dataset to read the train split of.")
flags.DEFINE_list("tasks", list(tasks.TASKS), "Tasks to time.")
flags.DEFINE_integer("batch_size", 64, "Batch size.")
flags.DEFINE_integer("steps", 40, "Timed steps per run (after 10 warm-up steps).")
flags.DEFINE_float("width", 1.0, "Encoder width.")
flags.DEFINE_enum("recipe", "tuned", list(params_lib.RECIPES), "Defaults a run starts from.")
flags.DEFINE_integer("rounds", 1, "Real/cached pairs per task, the order alternating from "
                     "round to round; the ratio is their median.", lower_bound=1)
flags.DEFINE_string("cache", "", "Log-mel cache for the real pipeline: '', 'memory' or a folder.")
flags.register_validator("tasks", lambda names: set(names) <= set(tasks.TASKS),
                         f"--tasks takes names from {', '.join(tasks.TASKS)}")
FLAGS = flags.FLAGS
_WARMUP = 10


def _seconds_per_step(task, params, dataset, steps=None):
  params = dataclasses.replace(params, train=dataclasses.replace(
      params.train, steps=_WARMUP + (steps or FLAGS.steps), log_every_steps=1))
  times = []

  def status():
    times.append(time.perf_counter())
    return {}

  trainer.fit(lambda: task.build_model(encoder_lib.build_encoder(params.encoder, seed=0), params),
              lambda t, o: task.loss(t, o, params), dataset, params, status=status, progress=False)
  steps = np.diff(times[_WARMUP - 1:])
  return float(np.median(steps)), float(np.mean(steps))


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  builder = datasets.builder(FLAGS.dataset, data_dir=FLAGS.data_dir)
  base = params_lib.recipe(name=FLAGS.recipe)
  print(f"recipe {FLAGS.recipe}, width {FLAGS.width}, batch {FLAGS.batch_size}, "
        f"{FLAGS.steps} timed steps, cache {FLAGS.cache or 'none'}; "
        "s/step is the median (mean)")
  print(f"{'task':20s} {'examples/s':>10s} {'s/step real':>16s} {'s/step cached':>16s} "
        f"{'ratio':>6s} {'1st epoch':>16s}" + ("  ratio per round" if FLAGS.rounds > 1 else ""))
  num_clips = builder.info.splits["train"].num_examples
  for name in FLAGS.tasks:
    task = tasks.get(name)
    params = dataclasses.replace(
        base, encoder=dataclasses.replace(base.encoder, width=FLAGS.width),
        task=dataclasses.replace(base.task, name=name, num_classes=8, label_key="event"),
        train=dataclasses.replace(base.train, batch_size=FLAGS.batch_size))
    label_key = "event" if task.needs_labels else None

    def stream(cache):
      return data.task_dataset([(builder, "train")], task.make_examples,
                               task.min_frames(params), params, batch_size=FLAGS.batch_size,
                               seed=0, cache_dir=cache, label_key=label_key)

    # The repeated batch comes from an uncached copy of the stream (the same
    # first batch): reading one batch of the cached stream would start its
    # cache and throw it away.
    batch = next(iter(stream(None)), None)
    if batch is None:
      sys.exit(f"{FLAGS.dataset}[train] gives no {name} examples: its clips are shorter than "
               f"the task's context ({task.min_frames(params)} frames)")
    cached = tf.data.Dataset.from_tensors(batch).repeat()
    real = stream(FLAGS.cache or None)
    first_epoch = ""
    if FLAGS.cache:
      # One example per clip: after the warm-up this reads past the end of the
      # split, so the cache is complete when the run's iterator goes.
      epoch, _ = _seconds_per_step(task, params, real, -(-num_clips // FLAGS.batch_size) + 1)
      first_epoch = f"{epoch:7.3f}"
    pairs = []
    for round_ in range(FLAGS.rounds):
      # Every second round runs the cached side first, so a drift of the machine
      # within a round, or whatever the second run of a pair gains from the
      # first, falls on each side equally often.
      if round_ % 2:
        cached_step = _seconds_per_step(task, params, cached)
        pairs.append((_seconds_per_step(task, params, real), cached_step))
      else:
        real_step = _seconds_per_step(task, params, real)
        pairs.append((real_step, _seconds_per_step(task, params, cached)))
    ratios = [r[0] / c[0] for r, c in pairs]
    middle = pairs[int(np.argsort(ratios)[len(ratios) // 2])]
    (real_median, real_mean), (cached_median, cached_mean) = middle
    print(f"{name:20s} {FLAGS.batch_size / real_median:10.0f} "
          f"{real_median:7.3f} ({real_mean:.3f}) {cached_median:7.3f} ({cached_mean:.3f}) "
          f"{real_median / cached_median:6.2f} {first_epoch or '-':>16s}"
          + (f"  {' '.join(f'{r:.2f}' for r in ratios)}" if FLAGS.rounds > 1 else ""),
          flush=True)

if __name__ == "__main__":
  app.run(main)
