"""tf.data's file cache, written whole before a stream reads it: what a `--cache_dir` folder holds.

tf.data writes a file cache while a stream first runs, under a lockfile that
only a closed iterator removes. So a run killed during its first pass (kill
-9, out of memory, a preempted machine) left it behind, and the next run on
that folder stopped with "There appears to be a concurrent caching iterator
running - cache lockfile already exists"; two tf.data service workers on one
file system collided the same way, and stopped the training (session 55,
docs/benchmark.md, "The folder cache"). `fill` writes the files in one pass
before the stream starts, one process at a time, and the stream (or the
service's workers) then only reads them: a reader takes no lockfile.
`pipeline.cache` calls it for every file cache.
"""

import fcntl
import os
import re
import sys
import typing

import tensorflow as tf
import tqdm

_BAR_BATCH = 256  # clips counted per step of the fill's progress bar


def _leftovers(cache_path: str) -> typing.List[str]:
  """Files tf.data leaves at `cache_path` when its writer dies: '<path>_<shard>.lockfile' and
  '.tempstate<n>' files (exactly these names: not another cache's whose name extends this one)."""
  folder, base = os.path.split(os.path.abspath(cache_path))
  pattern = re.compile(re.escape(base) + r"_\d+\.(lockfile|(data-\d+-of-\d+|index)\.tempstate\d*)")
  return [os.path.join(folder, name) for name in os.listdir(folder) if pattern.fullmatch(name)]


def fill(ds: tf.data.Dataset, cache_path: str) -> None:
  """Writes `ds`'s tf.data cache files at `cache_path` in one pass, unless they are complete.

  One process at a time fills: an exclusive `flock` on '<path>.fill.lock',
  which the kernel releases when its process dies, so the writer's leftovers
  found under the lock are a dead run's and are removed. A process that
  waited finds the files complete and reads them.
  """
  index = cache_path + ".index"  # tf.data's name for a complete cache
  if os.path.exists(index):
    return
  os.makedirs(os.path.dirname(os.path.abspath(cache_path)), exist_ok=True)
  with open(cache_path + ".fill.lock", "a") as lock:
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    try:
      if os.path.exists(index):  # filled by the process this one waited for
        return
      for leftover in _leftovers(cache_path):
        os.remove(leftover)
      # The maps upstream run in parallel and nothing is held; a bar on a terminal
      # (a large pool takes minutes before the first step).
      counts = ds.cache(cache_path).map(lambda *_: 0).batch(_BAR_BATCH)
      with tqdm.tqdm(desc=f"log-mel cache {os.path.basename(cache_path)}", unit=" clips",
                     file=sys.stderr, disable=not sys.stderr.isatty(), dynamic_ncols=True,
                     leave=False) as bar:
        for batch in counts:
          bar.update(int(batch.shape[0]))
    finally:
      fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
