r"""Seconds of the clip sums behind clip means and clip votes, against np.add.at.

  python bench/clip_sums.py [--windows=20315] [--clips=2400] [--dim=1536] [--repeats=3]

`probe.sum_by_clip` sums each clip's windows as one block; its peer is
`np.add.at` on the same windows, as it was before. Random float32 windows
shaped like the quickstart's train split (windows in clip order, as
`window_embeddings` gives them), both timed in one run, interleaved, the
median of `--repeats`. Checks that the two give the same sums, bit for bit,
and prints the ratio. Not a test.
"""

import time

from absl import app
from absl import flags
import numpy as np

from mobile_ssl.evaluation import probe

flags.DEFINE_integer("windows", 20315, "Window embeddings.", lower_bound=1)
flags.DEFINE_integer("clips", 2400, "Clips they belong to.", lower_bound=1)
flags.DEFINE_integer("dim", 1536, "Embedding size.", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Timings of each; the median is reported.", lower_bound=1)
FLAGS = flags.FLAGS


def add_at(values, clips):
  ids, inverse, counts = np.unique(clips, return_inverse=True, return_counts=True)
  summed = np.zeros((len(ids), values.shape[1]))
  np.add.at(summed, inverse, values)
  return ids, summed, counts


def main(argv):
  del argv
  rng = np.random.default_rng(0)
  clips = np.sort(rng.integers(0, FLAGS.clips, FLAGS.windows))
  values = rng.standard_normal((FLAGS.windows, FLAGS.dim)).astype(np.float32)
  runs = {"probe.sum_by_clip": probe.sum_by_clip, "peer: np.add.at": add_at}
  seconds = {name: [] for name in runs}
  outputs = {}
  for _ in range(FLAGS.repeats):
    for name, run in runs.items():
      started = time.perf_counter()
      outputs[name] = run(values, clips)
      seconds[name].append(time.perf_counter() - started)
  same = all(np.array_equal(a, b) for a, b in zip(*outputs.values()))
  print(f"{FLAGS.windows} x {FLAGS.dim} windows of {len(np.unique(clips))} clips, "
        f"median of {FLAGS.repeats}")
  for name, values_ in seconds.items():
    print(f"{name:20s} {np.median(values_):7.3f} s")
  ratio = np.median(seconds["probe.sum_by_clip"]) / np.median(seconds["peer: np.add.at"])
  print(f"sum_by_clip / np.add.at: {ratio:.3f}; identical sums: {same}")


if __name__ == "__main__":
  app.run(main)
