"""Linear evaluation: a probe fitted on a frozen encoder's window embeddings of a task.

The 'linear' mode of mobile-ssl-eval (Tagliasacchi et al. 2019, 2020): every
975 ms window of a task's train and test splits is embedded once
(`window_embeddings`), a softmax classifier is fitted on the train windows a
label budget allows (`fit_probe`; the maths in probe.py) and scored on every
test clip (`linear`). `linear_accuracy` does both for one encoder, Keras or a
.tflite window runner: the export's probe check scores its files through it,
and the classifier export fits its head with `fit_probe`. `fit_all` fits many
probes, one per CPU in threads (the suite's rows).
"""

from concurrent import futures
import os
import time
import typing

import numpy as np
import threadpoolctl

from mobile_ssl.core import params as params_lib
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import probe
from mobile_ssl.evaluation import window_embeddings


def linear_accuracy(encoder, params: params_lib.Params, task: downstream.TaskData,
                    eval_params: eval_params_lib.EvalParams = eval_params_lib.EvalParams(),
                    budget: downstream.Budget = downstream.Budget(), cache_dir: str = "",
                    name: str = "embed", l2: typing.Optional[float] = None,
                    start: typing.Optional[probe.LinearModel] = None,
                    train_window_stride: int = 1) -> dict:
  """`linear` on a task's train and test splits embedded by `encoder`.

  The number mobile-ssl-eval reports in its linear row for the same encoder
  (with `l2` None: the probe picks its weight decay). `encoder` is a Keras
  encoder or a window runner such as a `TFLiteEmbedder`
  (`window_embeddings.embed_split`): export/probe_accuracy.py scores .tflite
  files through here. `train_window_stride` > 1: the probe is fitted on every
  so many windows of each train clip (`window_embeddings.every_nth_window`), the
  export check's bounded set; the test split is always whole.
  """
  train, test = [window_embeddings.embed_split(
      encoder, params.features, task, split, eval_params.hop_seconds, cache_dir,
      desc=f"{name} {task.name} {split}", window_stride=stride)
      for split, stride in ((task.spec.train_split, train_window_stride),
                            (task.spec.test_split, 1))]
  return linear(train, test, task, budget, eval_params.seed, l2, start, cache_dir,
                eval_params.probe_on, eval_params.probe_iterations) | {
      "train_windows": int(len(train["clips"])), "test_windows": int(len(test["clips"]))}


def fit_probe(train: dict, task: downstream.TaskData,
              budget: downstream.Budget = downstream.Budget(), seed: int = 0,
              l2: typing.Optional[float] = None, start: typing.Optional[probe.LinearModel] = None,
              cache_dir: str = "", max_iterations: int = probe.MAX_ITERATIONS
              ) -> typing.Tuple[probe.LinearModel, np.ndarray]:
  """The linear probe on the train windows (`embed_split`'s dict) a budget allows.

  The one fit of mobile-ssl-eval's probe; the classifier export fits its head
  here too. `l2`, `start`, `cache_dir`, `max_iterations`: as `probe.train`'s. Returns (the
  probe, the mask of train clips the budget allowed).
  """
  allowed = downstream.select_clips(task.train_labels, budget, seed)
  keep = allowed[train["clips"]]
  model = probe.train(train["embeddings"][keep], task.index(train["labels"][keep]),
                      train["clips"][keep], task.num_classes, seed=seed, l2=l2, start=start,
                      cache_dir=cache_dir, max_iterations=max_iterations)
  return model, allowed


def linear(train: dict, test: dict, task: downstream.TaskData, budget: downstream.Budget,
           seed: int = 0, l2: typing.Optional[float] = None,
           start: typing.Optional[probe.LinearModel] = None, cache_dir: str = "",
           probe_on: str = "windows", max_iterations: int = probe.MAX_ITERATIONS) -> dict:
  """Linear probe on the train windows the budget allows; scores on all test clips.

  `probe_on` 'clips': on each clip's mean window embedding instead
  (`window_embeddings.clip_means`), train and test alike. `max_iterations`:
  the probe's iteration cap (`probe.train`).

  Returns `probe.score`'s dict with 'train_clips', 'l2' (the probe's weight
  decay: picked, or `l2`), 'predictions' (clip id -> predicted class) and
  'model' (the fitted `probe.LinearModel`).
  """
  if probe_on == "clips":
    train, test = window_embeddings.clip_means(train), window_embeddings.clip_means(test)
  model, allowed = fit_probe(train, task, budget, seed, l2, start, cache_dir, max_iterations)
  probabilities = model.probabilities(test["embeddings"].astype(np.float64))
  result = probe.score(probabilities, task.index(test["labels"]), test["clips"], seed)
  ids, predicted = probe.average_by_clip(probabilities, test["clips"])  # what score scored
  return result | {"train_clips": int(allowed.sum()), "l2": model.l2, "model": model,
                   "predictions": dict(zip(ids.tolist(), predicted.tolist()))}


# Peak memory of one probe fit over its train windows' float32 bytes (7.7
# measured with tracemalloc on 20,315 x 1,536 windows, the gradient's
# transposed copy included; 6.8 before it), rounded up.
FIT_MEMORY_FACTOR = 8


def _available_memory() -> int:
  """Bytes the kernel says can be allocated without swapping (MemAvailable)."""
  try:
    with open("/proc/meminfo") as f:
      for line in f:
        if line.startswith("MemAvailable:"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")



def fit_all(jobs: typing.Sequence[tuple], cache_dir: str = "", workers: int = 0,
            probe_on: str = "windows", max_iterations: int = probe.MAX_ITERATIONS,
            on_fitted: typing.Optional[typing.Callable[[int, dict], None]] = None
            ) -> typing.List[dict]:
  """`linear`'s results for [(task, budget, (train, test windows), seed)], in the jobs' order.

  Fitted `workers` at a time: the largest fits start first, so no core is
  left with a long one at the end. `workers` 0: one per CPU, fewer when the
  memory available would not hold that many of the largest fit (a fit peaks
  at about `FIT_MEMORY_FACTOR` x its train windows' float32 bytes). Each fit
  has one BLAS thread: a fit is a chain of dependent L-BFGS steps whose
  products are too small to split well across cores (docs/evaluation.md, "How
  a number is made"), so the cores serve separate fits and the results are
  the same as one at a time. A result's 'seconds' is its own fitting time;
  `on_fitted(job index, result)` is called as each fit ends (from the thread
  that fitted it), e.g. to log a draw.
  """
  def run(i):
    task, budget, (train, test), seed = jobs[i]
    started = time.time()
    result = linear(train, test, task, budget, seed, cache_dir=cache_dir, probe_on=probe_on,
                    max_iterations=max_iterations)
    result["seconds"] = time.time() - started
    if on_fitted is not None:
      on_fitted(i, result)
    return result

  order = sorted(range(len(jobs)), key=lambda i: -jobs[i][2][0]["embeddings"].size)
  if not workers and jobs:
    largest = jobs[order[0]][2][0]["embeddings"].size * 4  # float32 bytes
    workers = max(1, min(len(os.sched_getaffinity(0)),
                         _available_memory() // (FIT_MEMORY_FACTOR * largest)))
  workers = min(len(jobs), workers)
  if workers <= 1:
    done = [run(i) for i in order]
  else:
    # Set here, not only in each fit: the limit is process-wide and every fit
    # restores what it found, so the threads must all find one thread.
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
      with futures.ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(run, order))
  results = [None] * len(jobs)
  for i, result in zip(order, done):
    results[i] = result
  return results
