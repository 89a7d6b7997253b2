"""Downstream evaluation: encoders x tasks x label budgets -> accuracy with 95 % intervals.

mobile-ssl-eval's table. Two modes, as in the papers (Tagliasacchi et al.
2019, 2020):
  * linear (linear_eval.py): the encoder is frozen; every 975 ms window of a
    task's train and test splits is embedded once per encoder, whatever the
    label task (`window_embeddings`: cached as .npz, keyed by the encoder's
    weights, the front end, the dataset version, split and hop), and a
    softmax classifier is fitted on the train windows the label budget
    allows; all of a table's probes are fitted one per CPU (`fit_all`);
  * finetune (finetune.py): the encoder and a linear head are trained end to
    end on the train windows (`tasks.supervised` model, the project's one
    loop `trainer.fit`) for a fixed budget of steps, batch size and learning
    rate.
A clip's prediction averages its windows' class probabilities in both modes
(`probe.score`). The baselines are 'untrained' (the seeded random init of the
same architecture, frozen), 'supervised' (the random init trained end to end
with the fine-tuning budget, in either mode) and 'logmel_stats' (the
classical floor, always probed). The settings are `EvalParams`
(eval_params.py).
"""

import dataclasses
import os
import sys
import time
import typing

import keras
import numpy as np

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import finetune as finetune_lib
from mobile_ssl.evaluation import linear_eval
from mobile_ssl.evaluation import logmel_stats
from mobile_ssl.evaluation import probe
from mobile_ssl.evaluation import window_embeddings

UNTRAINED = "untrained"
SUPERVISED = "supervised"
LOGMEL_STATS = logmel_stats.NAME
BASELINES = (UNTRAINED, SUPERVISED, LOGMEL_STATS)
MODES = ("linear", "finetune")


@dataclasses.dataclass(frozen=True)
class Method:
  """An encoder to evaluate: a run directory, or a baseline built from `params`."""
  name: str
  kind: str  # 'run' | UNTRAINED | SUPERVISED | LOGMEL_STATS
  params: params_lib.Params
  model_dir: str = ""
  # The copy `methods` loaded to check the run (at most one): the first
  # `encoder` call takes it instead of loading the file a second time (0.2 s
  # a run directory in the quickstart's probe stage, docs/evaluation.md).
  loaded: typing.List[keras.Model] = dataclasses.field(
      default_factory=list, compare=False, repr=False)

  def encoder(self, seed: int) -> keras.Model:
    """A fresh copy (fine-tuning changes the weights it is given)."""
    if self.kind == "run":
      return self.loaded.pop() if self.loaded else model_dir_lib.load_encoder(self.model_dir)[0]
    if self.kind == LOGMEL_STATS:
      return logmel_stats.build(self.params.features)
    return encoder_lib.build_encoder(self.params.encoder, self.params.features, seed=seed)


def methods(specs: typing.Sequence[str], names: typing.Sequence[str] = (),
            baseline_params: typing.Optional[params_lib.Params] = None) -> typing.List[Method]:
  """Run directories and the baselines 'untrained'/'supervised'/'logmel_stats', checked up front.

  Baselines take the architecture of the first run directory listed, else
  `baseline_params` (default: `Params()`, width 1.0).
  """
  if names and len(names) != len(specs):
    raise ValueError(f"--names has {len(names)} names for {len(specs)} --encoders")
  runs, loaded = {}, {}
  for spec in specs:
    if spec not in BASELINES:
      # A clear error now rather than after hours; the model is kept for `encoder`.
      loaded[spec], runs[spec] = model_dir_lib.load_encoder(spec)
  base = next(iter(runs.values()), None) or baseline_params or params_lib.Params()
  out = []
  for i, spec in enumerate(specs):
    name = names[i] if names else os.path.basename(os.path.normpath(spec))
    kind = spec if spec in BASELINES else "run"
    out.append(Method(name, kind, runs.get(spec, base), "" if kind != "run" else spec,
                      [loaded.pop(spec)] if spec in loaded else []))
  if len({m.name for m in out}) != len(out):
    raise ValueError(f"method names must be unique, got {[m.name for m in out]}; use --names")
  return out



def _embed_methods(methods_: typing.Sequence[Method], encoders: dict,
                   task: downstream.TaskData, split: str,
                   eval_params: eval_params_lib.EvalParams,
                   cache_dir: str, embedded: dict, log: typing.Callable[[str], None]) -> None:
  """Fills `embedded[(method name, split key)]`: one pass over the audio per front end."""
  key = window_embeddings.split_key(task, split, eval_params.hop_seconds)
  todo = [m for m in methods_ if (m.name, key) not in embedded]
  for method in methods_:
    if (method.name, key) in embedded:
      log(f"{method.name} / {task.name} / {split}: "
          f"{len(embedded[(method.name, key)]['clips'])} windows from memory")
  for fp in dict.fromkeys(m.params.features for m in todo):  # one pass per front end
    group = [m for m in todo if m.params.features == fp]
    started = time.time()
    outs = window_embeddings.keras_windows_many(
        [encoders[m.name] for m in group], fp, task, split, eval_params.hop_seconds, cache_dir,
        desc=f"{task.name} {split}")
    seconds = time.time() - started
    for method, out in zip(group, outs):
      embedded[(method.name, key)] = out
      log(f"{method.name} / {task.name} / {split}: {len(out['clips'])} windows "
          f"{'from the cache' if out['cached'] else 'embedded'} "
          f"({len(group)} encoders in one pass, {seconds:.1f} s)")


def _row(task: downstream.TaskData, method: Method, budget: downstream.Budget, mode: str,
         result: dict, seconds: float, probe_on: str = "windows",
         probe_iterations: int = probe.MAX_ITERATIONS) -> dict:
  return {"task": task.name, "method": method.name, "mode": mode,
          "label_fraction": budget.label_fraction if not budget.shots_per_class else "",
          "shots_per_class": budget.shots_per_class or "",
          "accuracy": result["accuracy"], "ci_low": result["ci_low"],
          "ci_high": result["ci_high"], "clips": result["clips"],
          "classes": task.num_classes, "train_clips": result["train_clips"],
          "unseen_test_clips": task.unseen_test_clips, "seconds": round(seconds, 1),
          "draws": result["draws"], "draw_sd": result["draw_sd"],
          "probe_on": probe_on if mode == "linear" else "",
          "probe_iterations": probe_iterations if mode == "linear" else ""}


def _log_row(row: dict, budget: downstream.Budget, log: typing.Callable[[str], None],
             draw: str = "") -> None:
  spread = (f", mean of {row['draws']} draws (sd {row['draw_sd']:.3f})" if row["draws"] > 1
            else "")
  log(f"{row['method']} / {row['task']} / {row['mode']} {budget.label or 'all labels'}{draw}: "
      f"accuracy {row['accuracy']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] "
      f"on {row['clips']} clips{spread} ({row['seconds']} s)")


def draw_seeds(budget: downstream.Budget,
               eval_params: eval_params_lib.EvalParams) -> typing.List[int]:
  """The seeds of a row's draws of labelled clips: `seed` for all labels, else label_draws."""
  if budget.is_full:
    return [eval_params.seed]
  return [eval_params.seed + k for k in range(eval_params.label_draws)]


def _combined(results: typing.Sequence[dict], seed: int) -> dict:
  """One row's result from its draws' results (`probe.summarize`)."""
  return probe.summarize(np.stack([r["correct"] for r in results]), seed) | {
      "train_clips": results[0]["train_clips"]}


def evaluate(method_list: typing.Sequence[Method], task_list: typing.Sequence[downstream.TaskData],
             mode: str = "linear", budget_list: typing.Sequence[downstream.Budget] = (
                 downstream.Budget(),),
             eval_params: eval_params_lib.EvalParams = eval_params_lib.EvalParams(),
             cache_dir: str = "",
             log: typing.Callable[[str], None] = lambda line: print(line, file=sys.stderr),
             workers: int = 0) -> typing.List[dict]:
  """Every method on every task under every budget -> one result row each.

  The linear probes are fitted `workers` at a time, each with one BLAS
  thread (`linear_eval.fit_all`; 0: one per CPU this process may use, fewer
  when the memory available would not hold them). The rows are the same as
  one at a time; 'seconds' is the row's own fitting (or training) time.

  A row under a label budget is the mean of `eval_params.label_draws` draws
  of its labelled clips (draw k: seed + k; `probe.summarize`); draw 1 is the
  single draw of a one-draw evaluation. With all labels there is one.

  Returns:
    dicts with task, method, mode, label_fraction, shots_per_class,
    accuracy, ci_low, ci_high, clips (test), classes, train_clips,
    unseen_test_clips, seconds, draws, draw_sd, probe_on and probe_iterations
    (linear rows: `eval_params.probe_on` and `.probe_iterations`; '' for
    end-to-end rows).
  """
  if mode not in MODES:
    raise ValueError(f"--mode must be one of {MODES}, got {mode!r}")
  rows = []
  frozen_encoders = {}  # loaded once per method: frozen encoders are not modified
  # Label-free window embeddings per (method, dataset split): every label
  # task of a dataset reuses its splits' embeddings.
  embedded = {}
  for method in method_list:
    eval_params.validate(method.params.features)
  # logmel_stats has nothing to train: always probed, also in finetune mode.
  end_to_end = {m.name: mode == "finetune" and m.kind != LOGMEL_STATS or m.kind == SUPERVISED
                for m in method_list}
  frozen_methods = [m for m in method_list if not end_to_end[m.name]]
  jobs = []  # (task, method, budget, its frozen train and test windows or None)
  for task in task_list:
    splits = (task.spec.train_split, task.spec.test_split)
    for method in frozen_methods:
      if method.name not in frozen_encoders:
        frozen_encoders[method.name] = method.encoder(eval_params.seed)
    for split in splits:
      _embed_methods(frozen_methods, frozen_encoders, task, split, eval_params, cache_dir,
                     embedded, log)
    for method in method_list:
      frozen = None
      if not end_to_end[method.name]:
        frozen = [window_embeddings.with_labels(
            embedded[(method.name, window_embeddings.split_key(task, split,
                                                               eval_params.hop_seconds))],
            task, split) for split in splits]
      jobs.extend((task, method, budget, frozen) for budget in budget_list)
  draws = [draw_seeds(job[2], eval_params) for job in jobs]
  linear_jobs = [(job, seed, f", draw {k + 1} of {len(seeds)}" if len(seeds) > 1 else "")
                 for job, seeds in zip(jobs, draws) if job[3] is not None
                 for k, seed in enumerate(seeds)]

  def log_draw(i, result):  # a draw of several is logged as its fit ends
    (task, method, budget, _), _, draw = linear_jobs[i]
    if draw:
      _log_row(_row(task, method, budget, "linear", result, result["seconds"],
                    eval_params.probe_on, eval_params.probe_iterations), budget, log, draw)

  fitted = iter(linear_eval.fit_all(
      [(task, budget, frozen, seed) for (task, _, budget, frozen), seed, _ in linear_jobs],
      cache_dir, workers, eval_params.probe_on, eval_params.probe_iterations, log_draw))
  rows = []
  for (task, method, budget, frozen), seeds in zip(jobs, draws):
    results = []
    for k, seed in enumerate(seeds):
      if frozen is not None:
        results.append(next(fitted))
        continue
      # An end-to-end draw is a whole repetition: its own init, shots and order.
      started = time.time()
      result = finetune_lib.finetune(method.encoder(seed), method.params, task, budget,
                                     dataclasses.replace(eval_params, seed=seed))
      result["seconds"] = time.time() - started
      results.append(result)
      if len(seeds) > 1:
        _log_row(_row(task, method, budget, "finetune", result, result["seconds"]), budget, log,
                 f", draw {k + 1} of {len(seeds)}")
    mode = "linear" if frozen is not None else "finetune"
    rows.append(_row(task, method, budget, mode, _combined(results, eval_params.seed),
                     sum(r["seconds"] for r in results), eval_params.probe_on,
                     eval_params.probe_iterations))
    _log_row(rows[-1], budget, log)
  try:
    window_embeddings.wait_for_cache_writes()
  except (OSError, ValueError) as e:  # the rows stand; only the cache is missing
    log(f"the embedding cache could not be written: {e}")
  return rows
