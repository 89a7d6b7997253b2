"""Linear-probe accuracy of exported files, computed exactly as mobile-ssl-eval computes it.

There is one probe path: `mobile_ssl.evaluation.linear_eval.linear_accuracy` (every
975 ms window of the task's train and test splits at hop 0.5 s through
`window_embeddings.embed_split`, the class mapping of `downstream.load_task`
(`TaskData.index`: sparse label values such as speaker ids become classes
0..C-1), `probe.train`, clip prediction = mean of window probabilities, 95 %
bootstrap interval). A .tflite goes through it as a window runner
(`mobile_ssl.export.tflite_embedder.TFLiteEmbedder`: a log-mel file gets the very log-mel
windows the Keras encoder gets, one invoke per window as on a phone), so the
Keras number here is mobile-ssl-eval's linear row, and the .tflite number is
the same measurement of the file that ships. With `train_window_stride` N > 1
(export_tflite's `--probe_window_stride`; 1 by default) both probes are fitted
on every Nth window of each train clip instead, so the file embeds 1/N of the
train split; the Keras number is then that probe's. `export_tflite --probe_task`,
the benchmark's accuracy column and bench/export_table.py all use `compare`
or `accuracy`.
"""

import typing

from mobile_ssl.core import params as params_lib
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import linear_eval
from mobile_ssl.export import tflite_embedder as embedder_lib


def compare(encoders: typing.Dict[str, typing.Any], params: params_lib.Params,
            task: downstream.TaskData, seed: int = 0, cache_dir: str = "",
            probe_on: str = "windows",
            probe_iterations: int = eval_params_lib.EvalParams.probe_iterations,
            train_window_stride: int = 1) -> dict:
  """Linear-probe accuracy per encoder, each probe trained on its own embeddings.

  The first encoder is the reference (the Keras encoder): its probe picks the
  weight decay as mobile-ssl-eval does, and every other probe is fitted with
  that same decay (`probe.train`'s `l2` says why), so a difference is the
  embeddings' and not a different hyperparameter pick.

  Args:
    encoders: name -> Keras encoder or window runner (a TFLiteEmbedder); the
      first is the reference.
    params: the run's params (front end for the windows).
    task: from `downstream.load_task`.
    seed: the probe's seed.
    cache_dir: mobile-ssl-eval's cache: Keras embeddings and probe fits made
      before (e.g. by the quickstart's probe stage) are loaded, not redone.
    probe_on: `eval_params_lib.EvalParams.probe_on` ('windows' or 'clips').
    probe_iterations: `eval_params_lib.EvalParams.probe_iterations`, the probes' cap.
    train_window_stride: every probe is fitted on every so many windows of each
      train clip (`window_embeddings.every_nth_window`; 1: all, mobile-ssl-eval's
      row), so a window runner embeds only those; the test split is whole.

  Returns:
    {'task', 'accuracy': {name: float}, 'ci': {name: [low, high]},
     'agreement': {name: share of test clips predicted as the reference
     predicts them}, 'l2', 'classes', 'train_windows', 'test_clips'}.
  """
  eval_params = eval_params_lib.EvalParams(seed=seed, probe_on=probe_on,
                                 probe_iterations=probe_iterations).validate(params.features)
  results, l2, start = {}, None, None
  for name, encoder in encoders.items():
    results[name] = linear_eval.linear_accuracy(encoder, params, task, eval_params, name=name,
                                          l2=l2, start=start, cache_dir=cache_dir,
                                          train_window_stride=train_window_stride)
    if start is None:
      l2, start = results[name]["l2"], results[name]["model"]
  first = next(iter(results.values()))
  reference = first["predictions"]
  agreement = {n: float(sum(r["predictions"][c] == p for c, p in reference.items())
                        / max(len(reference), 1)) for n, r in results.items()}
  return {"task": task.spec.code, "accuracy": {n: r["accuracy"] for n, r in results.items()},
          "ci": {n: [r["ci_low"], r["ci_high"]] for n, r in results.items()},
          "agreement": agreement, "l2": l2,
          "classes": task.num_classes, "train_windows": first["train_windows"],
          "test_clips": first["clips"]}


def accuracy(path: str, task_spec: str, data_dir: typing.Optional[str] = None,
             seed: int = 0, task: typing.Optional[downstream.TaskData] = None) -> dict:
  """Linear-probe accuracy of the .tflite encoder at `path` on a task (code or DATASET:LABEL).

  The front end is the file's own (its metadata; the default one without).

  Returns:
    {'task', 'accuracy', 'ci_low', 'ci_high', 'clips', 'train_clips'}.
  """
  task = task or downstream.load_task(task_spec, data_dir)
  lite = embedder_lib.TFLiteEmbedder(path, workers=0)
  params = params_lib.Params(features=lite.feature_params)
  result = linear_eval.linear_accuracy(lite, params, task, eval_params_lib.EvalParams(seed=seed))
  return {k: result[k] for k in ("accuracy", "ci_low", "ci_high", "clips", "train_clips")} | {
      "task": task.name}
