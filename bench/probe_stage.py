r"""Seconds of the quickstart's probe stage on the runs of an earlier quickstart.

  python bench/probe_stage.py --quickstart_dir=quickstart [--data_dir=DIR] [--batch_windows=N]

Repeats exactly the probe call of `mobile-ssl-quickstart` (stage 4): the run
directories it trained (pretext task, supervised, untrained) and the
logmel_stats floor, a linear probe on every label of the dataset, with an
empty cache folder that the stage writes its embeddings and fits to, as the
quickstart's writes its eval_cache (`--nowrite_cache`: no cache, as this
script ran before session 41). Only public API, so it runs against another
checkout too (`PYTHONPATH=../other_checkout python bench/probe_stage.py ...`)
for a before/after on the same runs and machine (`--batch_windows` acts only on
checkouts from session 43 on, which read the batch size when a pass starts).
Not a test.
"""

import json
import os
import tempfile
import time

from absl import app
from absl import flags
from absl import logging

from mobile_ssl.data import downstream
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import suite
from mobile_ssl.evaluation import window_embeddings

flags.DEFINE_string("quickstart_dir", "quickstart", "Output folder of a finished quickstart.")
flags.DEFINE_string("data_dir", None, "TFDS data dir.")
flags.DEFINE_string("dataset", "synthetic_audio", "The quickstart's --dataset.")
flags.DEFINE_string("task", "triplet", "The quickstart's --task.")
flags.DEFINE_float("hop_seconds", eval_params_lib.EvalParams.hop_seconds,
                   "Hop between probe windows.")
flags.DEFINE_enum("probe_on", "clips", list(eval_params_lib.PROBE_INPUTS),
                  "The quickstart's --probe_on: fit on clip means (its default) or every window.")
flags.DEFINE_integer("probe_iterations", 200,
                     "The quickstart's --probe_iterations (its default 200; mobile-ssl-eval's 500).")
flags.DEFINE_integer("batch_windows", 0,
                     "Windows per encoder call in the embedding pass (0: the library's "
                     "window_embeddings.BATCH_WINDOWS, 256 since session 43, 1,024 before).")
flags.register_validator("batch_windows", lambda n: n >= 0,
                         message="--batch_windows must be >= 0 (0: the library's size)")
flags.DEFINE_bool("write_cache", True,
                  "Write the embeddings and fits to an empty temporary cache folder, as the "
                  "quickstart's stage writes its eval_cache.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  with open(os.path.join(FLAGS.quickstart_dir, "stages.json")) as f:
    stages = json.load(f)
  labels = stages["data"]["labels"]
  out = lambda name: os.path.join(FLAGS.quickstart_dir, name)
  runs = {FLAGS.task: out(f"pretrain_{FLAGS.task}"), "supervised": out("supervised"),
          "untrained": out("untrained")}
  dataset = FLAGS.dataset
  if FLAGS.batch_windows:  # read when each pass starts (the library's default)
    window_embeddings.BATCH_WINDOWS = FLAGS.batch_windows
  started = time.time()
  specs = [f"{dataset}:{k}" for k in labels]
  # A checkout from before load_tasks (session 41) loads them one by one.
  tasks = (downstream.load_tasks(specs, FLAGS.data_dir, labels)
           if hasattr(downstream, "load_tasks") else
           [downstream.load_task(s, FLAGS.data_dir, name=k) for s, k in zip(specs, labels)])
  methods = suite.methods(list(runs.values()) + [suite.LOGMEL_STATS],
                               list(runs) + [suite.LOGMEL_STATS])
  # A checkout from before --probe_iterations has no such field (its cap was 500).
  caps = ({"probe_iterations": FLAGS.probe_iterations}
          if hasattr(eval_params_lib.EvalParams, "probe_iterations") else {})
  with tempfile.TemporaryDirectory(prefix="probe_stage_cache_") as cache_dir:
    rows = suite.evaluate(methods, tasks, eval_params=eval_params_lib.EvalParams(
        hop_seconds=FLAGS.hop_seconds, probe_on=FLAGS.probe_on, **caps),
                          cache_dir=cache_dir if FLAGS.write_cache else "",
                          log=lambda line: print(line, flush=True))
    seconds = time.time() - started
  for row in rows:
    print(f"{row['method']:14s} {row['task']:8s} {100 * row['accuracy']:5.1f}")
  print(f"probe stage: {seconds:.1f} s ({len(methods)} encoders x {len(tasks)} tasks, "
        f"batches of {window_embeddings.BATCH_WINDOWS} windows, "
        f"evaluation from {os.path.dirname(os.path.abspath(suite.__file__))})")


if __name__ == "__main__":
  app.run(main)
