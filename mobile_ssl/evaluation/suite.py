"""Downstream evaluation: encoders x tasks x label budgets -> accuracy with 95 % intervals.

Two modes, as in the papers (Tagliasacchi et al. 2019, 2020):
  * linear: the encoder is frozen; every 975 ms window of a task's train and
    test splits is embedded once per encoder, whatever the label task
    (`window_embeddings`: cached as .npz, keyed by the encoder's weights, the
    front end, the dataset version, split and hop) and a softmax classifier is
    fitted on the train windows the label budget allows (`fit_probe`);
  * finetune: the encoder and a linear head are trained end to end on the
    train windows (`tasks.supervised` model, the project's one loop
    `trainer.fit`) for a fixed budget of steps, batch size and learning rate.
A clip's prediction averages its windows' class probabilities in both modes
(`probe.score`). The baselines are 'untrained' (the seeded random init of the
same architecture, frozen) and 'supervised' (the random init trained end to
end with the fine-tuning budget, in either mode).
"""

from concurrent import futures
import dataclasses
import os
import sys
import time
import typing

import keras
import numpy as np
import tensorflow as tf
import threadpoolctl

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import supervised
from mobile_ssl.data import downstream
from mobile_ssl.data import pipeline
from mobile_ssl.evaluation import logmel_stats
from mobile_ssl.evaluation import probe
from mobile_ssl.evaluation import window_embeddings
from mobile_ssl.training import trainer

UNTRAINED = "untrained"
SUPERVISED = "supervised"
LOGMEL_STATS = logmel_stats.NAME
BASELINES = (UNTRAINED, SUPERVISED, LOGMEL_STATS)
MODES = ("linear", "finetune")
# What a linear probe is fitted and scored on (`EvalParams.probe_on`).
PROBE_INPUTS = ("windows", "clips")
# Stored (int16) audio of the clips a fine-tuning budget allows, up to which
# their log-mels (about as large, more for clips padded to 975 ms) stay in memory.
MEMORY_CACHE_BYTES = 512 << 20


@dataclasses.dataclass(frozen=True)
class EvalParams:
  """How windows are cut and how end-to-end models are trained.

  Field metadata: the help of mobile-ssl-eval's flag of the same name
  (mobile_ssl/commands/cli.py); 'flag': None is not a flag.
  """
  hop_seconds: float = dataclasses.field(default=0.5, metadata={
      "help": "Hop between 975 ms windows."})
  batch_size: int = dataclasses.field(default=64, metadata={"help": "Windows per batch."})
  finetune_steps: int = dataclasses.field(default=1000, metadata={
      "help": "Steps of end-to-end training (finetune mode and 'supervised')."})
  learning_rate: float = dataclasses.field(default=1e-3, metadata={
      "help": "Adam learning rate (end to end)."})
  # Averaged per row: one draw of 10 shots per class moved FSDD rows by up to
  # 11 points (docs/evaluation.md, "Several draws of the shots").
  label_draws: int = dataclasses.field(default=5, metadata={
      "help": "Draws of the labelled train clips averaged in every row under a label budget "
              "(draw k uses --seed + k; all labels: one)."})
  # 'clips' fits on ~7x fewer rows for 5 s clips at hop 0.5 s: the quickstart's
  # probe stage (docs/evaluation.md, "The quickstart's probe on clip means").
  probe_on: str = dataclasses.field(default="windows", metadata={
      "help": "What the linear probe is fitted on: every window (the papers; a clip's "
              "prediction is the mean of its windows' probabilities) or 'clips', each clip's "
              "mean window embedding (as HEAR's scene tasks and BYOL-A).",
      "enum": PROBE_INPUTS})
  # Lower caps stop the fits earlier: the quickstart's 200 on clip means took
  # 0.4x the fitting time with its rows within a point (docs/evaluation.md,
  # "The quickstart's probe with lower iteration caps").
  probe_iterations: int = dataclasses.field(default=probe.MAX_ITERATIONS, metadata={
      "help": "Iteration cap of the linear probe's final L-BFGS fit (each weight decay of its "
              "grid gets 2/5 of it); fits that reach their minimum first stop there."})
  shuffle_buffer: int = dataclasses.field(default=2000, metadata={"flag": None})  # windows
  seed: int = dataclasses.field(default=0, metadata={
      "help": "Seeds baselines, label sampling and training."})

  def validate(self, feature_params=params_lib.FeatureParams()) -> "EvalParams":
    features.hop_frames(self.hop_seconds, feature_params)  # Whole STFT hops only.
    for name in ("batch_size", "finetune_steps", "label_draws", "probe_iterations"):
      if getattr(self, name) < 1:
        raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
    if not self.learning_rate > 0:
      raise ValueError(f"--learning_rate must be > 0, got {self.learning_rate}")
    params_lib.check_choices(self)  # --probe_on
    return self


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


def linear_accuracy(encoder, params: params_lib.Params, task: downstream.TaskData,
                    eval_params: EvalParams = EvalParams(),
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


def _train_stream(task: downstream.TaskData, params: params_lib.Params, allowed: np.ndarray,
                  eval_params: EvalParams) -> tf.data.Dataset:
  """Endless shuffled batches ({'log_mel': [B, 96, 64, 1]}, class index [B]) of allowed clips."""
  spec, fp, seed = task.spec, params.features, eval_params.seed
  table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
      tf.constant(task.classes, tf.int64), tf.range(task.num_classes, dtype=tf.int64)), -1)
  allowed_mask = tf.constant(allowed)

  def is_allowed(index, clip):
    del clip
    return tf.gather(allowed_mask, index)

  def drop_index(index, clip):
    del index
    return clip

  def example(window):
    return {"log_mel": tf.expand_dims(window["log_mel"], -1)}, table.lookup(window["label"])

  ds = pipeline.clips(task.builder, spec.train_split, label_key=spec.label_key,
                  audio_key=spec.audio_key, feature_params=fp)
  ds = pipeline.log_mels(ds.enumerate().filter(is_allowed).map(drop_index), fp)
  # Keep the allowed clips' log-mels in memory when they fit: with 10 shots
  # per class, every epoch would otherwise read and filter the whole split.
  stored = task.builder.info.splits[spec.train_split].num_bytes * float(np.mean(allowed))
  if 0 < stored <= MEMORY_CACHE_BYTES:
    ds = ds.cache()
  ds = ds.repeat().shuffle(min(1000, int(np.sum(allowed))), seed=seed)
  ds = pipeline.slices(ds, fp, eval_params.hop_seconds)
  ds = ds.shuffle(eval_params.shuffle_buffer, seed=seed)
  ds = ds.map(example, num_parallel_calls=pipeline.AUTOTUNE)
  return ds.batch(eval_params.batch_size, drop_remainder=True).prefetch(pipeline.AUTOTUNE)


def finetune(encoder: keras.Model, params: params_lib.Params, task: downstream.TaskData,
             budget: downstream.Budget, eval_params: EvalParams, progress: bool = True) -> dict:
  """Trains encoder + linear head end to end, then scores its clip predictions."""
  allowed = downstream.select_clips(task.train_labels, budget, eval_params.seed)
  run_params = dataclasses.replace(
      params,
      task=dataclasses.replace(params.task, name="supervised", label_key=task.spec.label_key,
                               num_classes=task.num_classes),
      train=dataclasses.replace(params.train, steps=eval_params.finetune_steps,
                                batch_size=eval_params.batch_size,
                                learning_rate=eval_params.learning_rate, seed=eval_params.seed,
                                log_every_steps=max(1, eval_params.finetune_steps // 10)))
  keras.utils.set_random_seed(eval_params.seed)  # The head's initialization.
  model = supervised.build_model(encoder, run_params)
  trainer.fit(model, lambda t, o: supervised.loss(t, o, run_params),
              _train_stream(task, run_params, allowed, eval_params), run_params,
              progress=progress)
  ds = pipeline.slice_dataset(task.builder, task.spec.test_split, batch_size=eval_params.batch_size,
                          feature_params=params.features, hop_seconds=eval_params.hop_seconds,
                          label_key=task.spec.label_key, audio_key=task.spec.audio_key)
  fp = params.features
  predict = tf.function(
      lambda x: tf.nn.softmax(model({"log_mel": tf.expand_dims(x, -1)}, training=False)),
      input_signature=[tf.TensorSpec([None, fp.slice_frames, fp.num_mel_bins], tf.float32)])
  probabilities, labels, clips = [], [], []
  for batch in ds:
    probabilities.append(predict(batch["log_mel"]).numpy())
    labels.append(batch["label"].numpy())
    clips.append(batch["clip"].numpy())
  result = probe.score(np.concatenate(probabilities), task.index(np.concatenate(labels)),
                       np.concatenate(clips), eval_params.seed)
  return result | {"train_clips": int(allowed.sum())}


def _embed_methods(methods_: typing.Sequence[Method], encoders: dict,
                   task: downstream.TaskData, split: str, eval_params: EvalParams,
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


def draw_seeds(budget: downstream.Budget, eval_params: EvalParams) -> typing.List[int]:
  """The seeds of a row's draws of labelled clips: `seed` for all labels, else label_draws."""
  if budget.is_full:
    return [eval_params.seed]
  return [eval_params.seed + k for k in range(eval_params.label_draws)]


def _combined(results: typing.Sequence[dict], seed: int) -> dict:
  """One row's result from its draws' results (`probe.summarize`)."""
  return probe.summarize(np.stack([r["correct"] for r in results]), seed) | {
      "train_clips": results[0]["train_clips"]}


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


def _linear_results(jobs, cache_dir: str, workers: int, log: typing.Callable[[str], None],
                    probe_on: str = "windows", max_iterations: int = probe.MAX_ITERATIONS
                    ) -> typing.List[dict]:
  """`linear`'s results for [(task, method, budget, [train, test windows], seed, draw)].

  Fitted `workers` at a time: the largest fits start first, so no core is
  left with a long one at the end; a draw of several is logged as its fit
  ends. `workers` 0: one per CPU, fewer when the memory available would not
  hold that many of the largest fit.
  """
  def run(job):
    task, method, budget, (train, test), seed, draw = job
    started = time.time()
    result = linear(train, test, task, budget, seed, cache_dir=cache_dir, probe_on=probe_on,
                    max_iterations=max_iterations)
    result["seconds"] = time.time() - started
    if draw:
      _log_row(_row(task, method, budget, "linear", result, result["seconds"], probe_on,
                    max_iterations), budget, log, draw)
    return result

  order = sorted(range(len(jobs)), key=lambda i: -jobs[i][3][0]["embeddings"].size)
  if not workers and jobs:
    largest = jobs[order[0]][3][0]["embeddings"].size * 4  # float32 bytes
    workers = max(1, min(len(os.sched_getaffinity(0)),
                         _available_memory() // (FIT_MEMORY_FACTOR * largest)))
  workers = min(len(jobs), workers)
  if workers <= 1:
    done = [run(jobs[i]) for i in order]
  else:
    # Set here, not only in each fit: the limit is process-wide and every fit
    # restores what it found, so the threads must all find one thread.
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
      with futures.ThreadPoolExecutor(workers) as pool:
        done = list(pool.map(run, [jobs[i] for i in order]))
  results = [None] * len(jobs)
  for i, result in zip(order, done):
    results[i] = result
  return results


def evaluate(method_list: typing.Sequence[Method], task_list: typing.Sequence[downstream.TaskData],
             mode: str = "linear", budget_list: typing.Sequence[downstream.Budget] = (
                 downstream.Budget(),),
             eval_params: EvalParams = EvalParams(), cache_dir: str = "",
             log: typing.Callable[[str], None] = lambda line: print(line, file=sys.stderr),
             workers: int = 0) -> typing.List[dict]:
  """Every method on every task under every budget -> one result row each.

  The linear probes are fitted `workers` at a time (0: one per CPU this
  process may use, fewer when the memory available would not hold them: a
  fit peaks at about 8x its train windows' float32 bytes), each with one BLAS
  thread: a fit is a chain of dependent L-BFGS steps whose products are too
  small to split well across cores (docs/evaluation.md, "How a number is
  made"), so the cores serve separate fits. The rows are the same as one at a
  time; 'seconds' is the row's own fitting time.

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
  linear_jobs = [job + (seed, f", draw {k + 1} of {len(seeds)}" if len(seeds) > 1 else "")
                 for job, seeds in zip(jobs, draws) if job[3] is not None
                 for k, seed in enumerate(seeds)]
  fitted = iter(_linear_results(linear_jobs, cache_dir, workers, log, eval_params.probe_on,
                                eval_params.probe_iterations))
  rows = []
  for (task, method, budget, frozen), seeds in zip(jobs, draws):
    results = []
    for k, seed in enumerate(seeds):
      if frozen is not None:
        results.append(next(fitted))
        continue
      # An end-to-end draw is a whole repetition: its own init, shots and order.
      started = time.time()
      result = finetune(method.encoder(seed), method.params, task, budget,
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
