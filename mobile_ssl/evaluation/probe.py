"""Linear probe: a softmax classifier on frozen window embeddings, clip-level accuracy.

The classifier is multinomial logistic regression with L2 weight decay, fitted
to convergence by L-BFGS (the problem is convex, so there is no learning-rate
or epoch budget to tune). The decay is picked from a small grid on a held-out
tenth of the training clips (strongest decay first, each fit warm-started
from the last), then the model is refitted on all of them, starting from the
picked decay's fit. Each fit stops at the minimum or at an iteration cap
(`MAX_ITERATIONS` for the refit, 2/5 of it per decay of the grid), whichever
comes first; fits on thousands of rows of a weakly decayed, separable problem
reach the cap. A lower cap (`max_iterations`, mobile-ssl-eval's
--probe_iterations) is a faster, earlier-stopped probe: the quickstart uses
200 on clip means (docs/evaluation.md, "The quickstart's probe with lower
iteration caps").
Features are standardized with training statistics. A clip's prediction is the
mean of its windows' class probabilities (as in the papers); accuracy comes
with a 95 % bootstrap interval over test clips.

A fit is kept on disk when a cache folder is given (`train`'s `cache_dir`),
keyed by everything it depends on (the windows' embeddings, labels and clip
ids, classes, seed, fixed decay, grid and this module's version): a second
mobile-ssl-eval over the same encoders, or the export's probe check after the
quickstart's probe stage, then loads the fit instead of repeating it (a
1,536-value embedding on 20,000 windows takes about a minute to fit).

Fitting runs with one BLAS thread: on these small products OpenBLAS's threads
cost far more than they give, most of all on a busy machine with few cores
(the measurement: docs/evaluation.md, "How a number is made").
"""

import dataclasses
import hashlib
import os
import typing

import numpy as np
from scipy import optimize
import threadpoolctl

from mobile_ssl.core import atomic

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
# When a fit has converged. scipy's defaults (gtol 1e-5, ftol 2.2e-9) stop a
# weakly decayed fit on few clips after 5-30 steps, far from its minimum: a
# 10-shot probe's mean loss and gradient are tiny there, and how far the fit
# got then depended on where it started (warm from the next decay, or cold),
# moving 10-shot accuracies by up to 10 points with the same decay
# (docs/evaluation.md, "How a number is made"). With these a fit runs to its
# minimum (or to the float32 products' resolution) within the iteration cap;
# fits on tens of thousands of windows reach their caps first, as before.
GTOL, FTOL = 1e-9, 1e-15
# Accuracies are multiples of 1/clips: 3 of 300 clips is a drop of exactly
# 0.01, which float subtraction makes 0.0100000001; within a 1-point limit.
DROP_TOLERANCE = 1e-9
# Part of a cached fit's key: bump it when the fit itself changes.
VERSION = 3
# The refit's iteration cap; each decay of the grid gets GRID_SHARE of it
# (200 of 500: the caps of probe version 3).
MAX_ITERATIONS = 500
GRID_SHARE = 0.4
_FILE_PREFIX = "probe_"


@dataclasses.dataclass
class LinearModel:
  weights: np.ndarray  # [d, classes]
  bias: np.ndarray  # [classes]
  mean: np.ndarray  # [d]
  scale: np.ndarray  # [d]
  l2: float = 0.0  # the weight decay it was fitted with

  def probabilities(self, x: np.ndarray) -> np.ndarray:
    logits = ((x - self.mean) / self.scale) @ self.weights + self.bias
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def grid_iterations(max_iterations: int) -> int:
  """The cap of each decay's fit in the grid, from the refit's cap."""
  return max(1, round(GRID_SHARE * max_iterations))


def _fit(x: np.ndarray, y: np.ndarray, num_classes: int, l2: float,
         max_iterations: int = MAX_ITERATIONS, start: typing.Optional[np.ndarray] = None
         ) -> typing.Tuple[np.ndarray, np.ndarray]:
  n, d = x.shape
  onehot = np.eye(num_classes)[y]
  # The two products with x dominate; float32 halves their time, and the
  # loss, its gradient and the optimizer's state stay in float64. The
  # gradient's product reads a transposed copy: OpenBLAS multiplies a
  # contiguous [d, n] array about twice as fast as the transposed view of
  # x (2.4 against 4.9 ms on 2,400 x 1,536 clip means, same result to the
  # bit; docs/evaluation.md, "A transposed copy for the probe's gradient").
  x32 = np.asarray(x, np.float32)
  x32_t = np.ascontiguousarray(x32.T)

  def loss_and_grad(theta):
    w = theta[:d * num_classes].reshape(d, num_classes)
    b = theta[d * num_classes:]
    logits = (x32 @ w.astype(np.float32)).astype(np.float64) + b
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    loss = -np.sum(onehot * log_p) / n + 0.5 * l2 * np.sum(w * w)
    delta = (np.exp(log_p) - onehot) / n
    grad_w = (x32_t @ delta.astype(np.float32)).astype(np.float64) + l2 * w
    return loss, np.concatenate([grad_w.ravel(), delta.sum(axis=0)])

  theta0 = np.zeros(d * num_classes + num_classes) if start is None else start
  result = optimize.minimize(loss_and_grad, theta0, jac=True, method="L-BFGS-B",
                             options={"maxiter": max_iterations, "gtol": GTOL, "ftol": FTOL})
  return (result.x[:d * num_classes].reshape(d, num_classes), result.x[d * num_classes:])


def clip_predictions(model: LinearModel, x: np.ndarray, clips: np.ndarray):
  """(clip ids [m], predicted class [m]) from window embeddings and their clip ids."""
  return average_by_clip(model.probabilities(x), clips)


def sum_by_clip(values: np.ndarray, clips: np.ndarray):
  """(clip ids [m] sorted, float64 sum of each clip's rows [m, d], rows per clip [m]).

  Each clip's rows are summed as one contiguous block (windows come in clip
  order, so the stable sort is usually the identity and no copy is made):
  the same sequential float64 sums as `np.add.at`, which took 1.2 s on the
  quickstart's 20,315 x 1,536 train windows against 0.1 s here.
  """
  values, clips = np.asarray(values), np.asarray(clips)
  if len(clips) == 0:
    return clips[:0], np.zeros((0,) + values.shape[1:]), np.zeros(0, np.int64)
  order = np.argsort(clips, kind="stable")
  if np.all(order[1:] > order[:-1]):  # already in clip order
    order = slice(None)
  sorted_clips, values = clips[order], values[order]
  starts = np.flatnonzero(np.r_[True, sorted_clips[1:] != sorted_clips[:-1]])
  ends = np.r_[starts[1:], len(sorted_clips)]
  summed = np.empty((len(starts),) + values.shape[1:])
  for i, (start, end) in enumerate(zip(starts, ends)):
    summed[i] = values[start:end].sum(axis=0, dtype=np.float64)
  return sorted_clips[starts], summed, ends - starts


def average_by_clip(p: np.ndarray, clips: np.ndarray):
  """(clip ids [m], argmax of the clip's mean window probabilities [m])."""
  ids, summed, _ = sum_by_clip(p, clips)
  return ids, summed.argmax(axis=1)


def _clip_labels(clips: np.ndarray, labels: np.ndarray):
  ids, first = np.unique(clips, return_index=True)
  return ids, labels[first]


def train(x: np.ndarray, y: np.ndarray, clips: np.ndarray, num_classes: int,
          seed: int = 0, l2: typing.Optional[float] = None,
          start: typing.Optional[LinearModel] = None, cache_dir: str = "",
          max_iterations: int = MAX_ITERATIONS) -> LinearModel:
  """Fits the probe on window embeddings x [n, d], labels y [n], clip ids [n].

  `l2` fixes the weight decay instead of picking it from `L2_GRID`. Comparing
  two embeddings of the same audio (a .tflite against its Keras encoder) needs
  that: the pick is made on a tenth of the training clips (27 on FSDD), and a
  perturbation far below what a probe can use flips it and moves the test
  accuracy by several points either way (docs/export.md, "Validation"), which
  would drown the difference being measured. `start` (with `l2`): the fit
  begins at that model's weights, e.g. the Keras encoder's probe for its
  .tflite file's nearly equal embeddings; the minimum is the same, L-BFGS
  gets there in fewer steps. `cache_dir`: load the fit from there when the
  same one was made before, else make it and keep it there.
  `max_iterations`: the refit's iteration cap (`grid_iterations` of it per
  decay of the grid); at least 1.
  """
  if max_iterations < 1:
    raise ValueError(f"a probe needs at least 1 iteration, got {max_iterations}")
  path = ""
  if cache_dir:
    path = _cache_path(cache_dir, x, y, clips, num_classes, seed, l2, start, max_iterations)
    if os.path.exists(path):
      kept = atomic.read_arrays(path)
      return LinearModel(kept["weights"], kept["bias"], kept["mean"], kept["scale"],
                         float(kept["l2"]))
  with threadpoolctl.threadpool_limits(1, user_api="blas"):
    model = _train(x, y, clips, num_classes, seed, l2, start, max_iterations)
  if path:
    atomic.write_arrays(path, dataclasses.asdict(model))
  return model


def _cache_path(cache_dir, x, y, clips, num_classes, seed, l2, start, max_iterations) -> str:
  key = (VERSION, L2_GRID, num_classes, seed, l2, np.shape(x))
  if max_iterations != MAX_ITERATIONS:  # the default's keys are those of before the option
    key += (max_iterations,)
  digest = hashlib.sha1(repr(key).encode())
  for array in (x, y, clips) + ((start.weights, start.bias) if start is not None else ()):
    digest.update(np.ascontiguousarray(array).tobytes())
  return os.path.join(cache_dir, f"{_FILE_PREFIX}{digest.hexdigest()[:20]}.npz")


def _train(x, y, clips, num_classes, seed, fixed_l2=None, start_model=None,
           max_iterations=MAX_ITERATIONS):
  if num_classes < 2 or len(np.unique(y)) < 2:
    raise ValueError(f"a probe needs at least 2 classes in the training data, got "
                     f"{len(np.unique(y))}")
  x = np.asarray(x, np.float64)
  mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
  z = (x - mean) / scale
  rng = np.random.default_rng(seed)
  clip_ids = np.unique(clips)
  held = set(rng.choice(clip_ids, size=max(1, len(clip_ids) // 10), replace=False).tolist())
  is_held = np.array([c in held for c in clips])
  best_l2 = L2_GRID[0] if fixed_l2 is None else fixed_l2
  start = None
  if fixed_l2 is not None and start_model is not None:
    start = np.concatenate([start_model.weights.ravel(), start_model.bias])
  if fixed_l2 is None and len(clip_ids) >= 10 and is_held.any() and (~is_held).any():
    # The regularization path, strongest decay first: each fit starts from
    # the previous solution, which it is close to, so L-BFGS needs a fraction
    # of the iterations a cold start takes. Ties go to the weakest decay.
    accuracy, solutions = {}, {}
    for l2 in sorted(L2_GRID, reverse=True):
      w, b = _fit(z[~is_held], y[~is_held], num_classes, l2,
                  max_iterations=grid_iterations(max_iterations), start=start)
      start = solutions[l2] = np.concatenate([w.ravel(), b])
      model = LinearModel(w, b, np.zeros_like(mean), np.ones_like(scale))
      ids, pred = clip_predictions(model, z[is_held], clips[is_held])
      _, truth = _clip_labels(clips[is_held], y[is_held])
      accuracy[l2] = float(np.mean(pred == truth))
    best_l2 = max(L2_GRID, key=lambda l2: (accuracy[l2], -l2))
    start = solutions[best_l2]  # the refit on all clips starts from its 90 % fit
  w, b = _fit(z, y, num_classes, best_l2, max_iterations=max_iterations, start=start)
  return LinearModel(w, b, mean, scale, best_l2)


def bootstrap_interval(correct: np.ndarray, seed: int = 0, samples: int = 1000,
                       level: float = 0.95) -> typing.Tuple[float, float]:
  """Percentile bootstrap interval of the mean of a per-clip vector.

  The vector is 0/1 per clip, or each clip's mean over several draws of the
  training clips (`summarize`).
  """
  correct = np.asarray(correct, np.float64)
  rng = np.random.default_rng(seed)
  means = rng.choice(correct, size=(samples, len(correct)), replace=True).mean(axis=1)
  tail = (1 - level) / 2 * 100
  return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def evaluate(model: LinearModel, x: np.ndarray, y: np.ndarray, clips: np.ndarray,
             seed: int = 0) -> dict:
  """Clip-level accuracy, its 95 % bootstrap interval and the number of clips."""
  if len(x) == 0:
    raise ValueError("the test split is empty")
  return score(model.probabilities(np.asarray(x, np.float64)), y, clips, seed)


def clip_correct(probabilities: np.ndarray, y: np.ndarray, clips: np.ndarray) -> np.ndarray:
  """[clips] bool, in clip id order: whether each clip's mean window probability is right.

  A label outside 0..classes-1 (e.g. -1 for a class unseen in training) is
  never predicted, so its clip counts as an error.
  """
  if len(probabilities) == 0:
    raise ValueError("the test split is empty")
  _, pred = average_by_clip(np.asarray(probabilities, np.float64), clips)
  _, truth = _clip_labels(clips, y)
  return pred == truth


def summarize(correct: np.ndarray, seed: int = 0) -> dict:
  """Accuracy of [draws, clips] per-clip results: the mean over draws, and its interval.

  One draw is one choice of the labelled training clips (a few-shot row is
  only as good as the shots it happened to get: on FSDD's 10-shot tasks one
  draw moved a row by up to 11 points, docs/evaluation.md, "Several draws of
  the shots"). 'accuracy' is the mean over draws; the 95 % interval
  bootstraps the test clips' mean correctness over the draws; 'draw_sd' is
  the standard deviation of the draws' accuracies (0 for one draw).
  """
  correct = np.atleast_2d(np.asarray(correct, np.float64))
  per_draw = correct.mean(axis=1)
  low, high = bootstrap_interval(correct.mean(axis=0), seed)
  return {"accuracy": float(per_draw.mean()), "ci_low": low, "ci_high": high,
          "clips": int(correct.shape[1]), "draws": int(correct.shape[0]),
          "draw_sd": float(per_draw.std(ddof=1)) if len(per_draw) > 1 else 0.0}


def score(probabilities: np.ndarray, y: np.ndarray, clips: np.ndarray, seed: int = 0) -> dict:
  """`evaluate` for any classifier's window probabilities [n, classes]: one draw.

  Used for fine-tuned models too, so both modes score clips the same way.
  Returns `summarize`'s dict plus 'correct' ([clips] bool, `clip_correct`),
  from which several draws are summarized.
  """
  correct = clip_correct(probabilities, y, clips)
  return summarize(correct[None], seed) | {"correct": correct}
