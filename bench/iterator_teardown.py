r"""How long a training run's end waits for its input iterator, with tf.data's autotuner on and off.

  python bench/iterator_teardown.py --data_dir=<tfds> [--steps=600] [--runs=2] [--modes=on,off]

Runs the quickstart's pretraining (triplet on synthetic_audio, the tuned
recipe, batch 64, log-mels in memory) for `--steps` steps through
`pretraining.run`, and prints the seconds from the call to the end of
training, the seconds before the first step, the longest stretch between two
logged steps, and what `trainer.fit` spends between closing its progress bar
and returning (deleting its input iterator, when nothing else holds it).
'off' is the stream as built (every stream starts with the autotuner off,
`pipeline.without_autotune`); 'on' builds it as before that change.

With the autotuner on, deleting the iterator waits for the autotuner's thread,
which sleeps between its rounds (up to 60 s) and is not woken: how long
depends on where in its sleep the end falls, from nothing to most of a
minute, so each mode runs `--runs` times. Each run is a process of its own.
Not a test.
"""

import subprocess
import sys
import time

from absl import app
from absl import flags

flags.DEFINE_string("data_dir", None, "TFDS data dir holding the dataset.")
flags.DEFINE_string("dataset", "synthetic_audio", "The quickstart's --dataset.")
flags.DEFINE_integer("steps", 600, "Training steps of each run (the quickstart's 600).")
flags.DEFINE_integer("runs", 2, "Runs per mode.")
flags.DEFINE_list("modes", ["on", "off"], "Autotuner modes to time, each in its own process.")

FLAGS = flags.FLAGS

_CHILD = r"""
import csv, os, sys, tempfile, time
import tqdm
from mobile_ssl.commands import quickstart
from mobile_ssl.data import pipeline
from mobile_ssl.training import pretraining, trainer

mode, steps, data_dir, dataset = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None, sys.argv[4]
if mode == "on":  # the streams as they were built before the autotuner went off
  pipeline.without_autotune = lambda ds: ds
closed = []
close = tqdm.tqdm.close  # every bar's; the training bar is the last closed
def timed_close(bar):
  closed.append(time.time())
  return close(bar)
tqdm.tqdm.close = timed_close
fit = trainer.fit
def timed_fit(*args, **kwargs):
  history = fit(*args, **kwargs)
  returned.append(time.time())
  return history
returned = []
trainer.fit = timed_fit
qp = quickstart.QuickstartParams(dataset=dataset, data_dir=data_dir, steps=steps)
params = quickstart._run_params(qp, "triplet")
with tempfile.TemporaryDirectory() as model_dir:
  started = time.time()
  pretraining.run(params, model_dir, data_dir=data_dir, cache_dir="memory")
  with open(os.path.join(model_dir, trainer.LOG_FILE)) as f:
    wall = [0.0] + [float(row["wall_seconds"]) for row in csv.DictReader(f)]
gap = max(b - a for a, b in zip(wall[:-1], wall[1:]))
print(f"autotuner {mode}: {closed[-1] - started:.0f} s from the call to the end of training "
      f"({closed[-1] - wall[-1] - started:.1f} s before the first step, the longest "
      f"{params.train.log_every_steps} steps {gap:.1f} s); from the end of training to "
      f"trainer.fit's return: {returned[-1] - closed[-1]:.2f} s", flush=True)
"""


def main(argv):
  del argv
  for mode in FLAGS.modes:
    if mode not in ("on", "off"):
      raise app.UsageError(f"--modes takes 'on' and 'off', got {mode!r}")
  for run in range(FLAGS.runs):
    for mode in FLAGS.modes:
      started = time.time()
      out = subprocess.run([sys.executable, "-c", _CHILD, mode, str(FLAGS.steps),
                            FLAGS.data_dir or "", FLAGS.dataset], capture_output=True,
                           text=True)
      lines = [l for l in out.stdout.splitlines() if l.startswith("autotuner")]
      if out.returncode or not lines:
        sys.exit(f"run {run + 1} with the autotuner {mode} failed:\n{out.stderr[-2000:]}")
      print(f"{lines[0]} (process {time.time() - started:.0f} s)", flush=True)


if __name__ == "__main__":
  app.run(main)
