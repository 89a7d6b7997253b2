r"""mobile-ssl-eval: downstream accuracy of encoders (linear probe or fine-tuning).

  mobile-ssl-eval --encoders=logmel_stats,untrained,supervised,runs/tg \
      --tasks=/path/to/fsdd/recordings:digit,SPC --output_dir=eval

`--encoders` lists run directories of mobile-ssl-train and the baselines
'logmel_stats' (the classical floor: log-mel and MFCC statistics, probed like
an encoder), 'untrained' (the seeded random init of the same architecture) and
'supervised' (that init trained end to end on each task with the fine-tuning
budget). `DATASET:LABEL@GROUP` (e.g. FSDD's `digit@speaker`) holds out whole
groups: the test clips come from groups never seen in training. `--tasks` takes task codes (MUS, SPC, ..., SYN_EVENT) or
DATASET:LABEL_KEY, the dataset a TFDS name or a folder of audio files.
Writes OUTPUT_DIR/results.csv, results.md and PNG plots, then prints the
Markdown table and the paths. Embeddings are cached in OUTPUT_DIR/cache, so a
re-run (or another budget) does not embed again.
"""

import os
import sys
import time

from absl import app
from absl import flags
from absl import logging

from mobile_ssl import datasets
from mobile_ssl import downstream
from mobile_ssl import evaluation
from mobile_ssl import params as params_lib
from mobile_ssl import report
from mobile_ssl import trainer

_DEFAULTS = evaluation.EvalParams()
FLAGS = flags.FLAGS


def define_flags() -> None:
  """Defines the flags of this CLI.

  Called by `run`, not at import: this module and mobile_ssl.train share flag
  names (--seed, --batch_size, ...), and absl refuses a flag defined by two
  modules, so both can be imported in one process only this way.
  """
  flags.DEFINE_string("encoders", None,
                      "Comma-separated run directories and/or the baselines 'logmel_stats', "
                      "'untrained', 'supervised'.")
  flags.DEFINE_string("names", "", "Comma-separated names for the table (default: dir basenames).")
  flags.DEFINE_string("tasks", None, "Comma-separated task codes or DATASET:LABEL_KEY specs.")
  flags.DEFINE_string("task_names", "",
                      "Comma-separated names for the table (default: code or folder:label).")
  flags.DEFINE_string("output_dir", None, "Where results.csv, results.md and the PNGs go.")
  flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's, ~/tensorflow_datasets).")
  flags.DEFINE_string("cache_dir", "", "Embedding cache (default: OUTPUT_DIR/cache; 'none': off).")
  flags.DEFINE_enum("mode", "linear", list(evaluation.MODES),
                    "linear: frozen encoder + softmax probe; finetune: end to end.")
  flags.DEFINE_float("hop_seconds", _DEFAULTS.hop_seconds, "Hop between 975 ms windows.")
  flags.DEFINE_string("label_fraction", "1.0",
                      "Comma-separated fractions of the train clips (stratified) to train on.")
  flags.DEFINE_string("shots_per_class", "",
                      "Comma-separated numbers of train clips per class (few-shot rows).")
  flags.DEFINE_integer("seed", _DEFAULTS.seed, "Seeds baselines, label sampling and training.")
  flags.DEFINE_integer("finetune_steps", _DEFAULTS.finetune_steps,
                       "Steps of end-to-end training (finetune mode and 'supervised').")
  flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size, "Windows per batch.")
  flags.DEFINE_float("learning_rate", _DEFAULTS.learning_rate, "Adam learning rate (end to end).")
  flags.DEFINE_float("width", params_lib.EncoderParams().width,
                     "Baselines' encoder width when no run directory is listed.")
  flags.DEFINE_integer("embedding_dim", params_lib.EncoderParams().embedding_dim,
                       "Baselines' embedding size when no run directory is listed.")


def _numbers(flag: str, kind):
  try:
    return [kind(v) for v in datasets.split_list(FLAGS[flag].value)]
  except ValueError:
    raise ValueError(f"--{flag}: expected comma-separated numbers, got "
                     f"{FLAGS[flag].value!r}") from None


def evaluate_from_flags():
  """Runs the configured evaluation; returns (rows, output paths)."""
  encoders = datasets.split_list(FLAGS.encoders)
  task_specs = datasets.split_list(FLAGS.tasks)
  if not encoders or not task_specs:
    raise ValueError("--encoders and --tasks must name at least one each")
  eval_params = evaluation.EvalParams(
      hop_seconds=FLAGS.hop_seconds, batch_size=FLAGS.batch_size,
      finetune_steps=FLAGS.finetune_steps, learning_rate=FLAGS.learning_rate,
      seed=FLAGS.seed).validate()
  budgets = downstream.budgets(_numbers("label_fraction", float),
                               _numbers("shots_per_class", int))
  baseline = params_lib.Params(encoder=params_lib.EncoderParams(
      width=FLAGS.width, embedding_dim=FLAGS.embedding_dim).validate())
  methods = evaluation.methods(encoders, datasets.split_list(FLAGS.names), baseline)
  task_names = datasets.split_list(FLAGS.task_names)
  if task_names and len(task_names) != len(task_specs):
    raise ValueError(f"--task_names has {len(task_names)} names for {len(task_specs)} --tasks")
  tasks = [downstream.load_task(spec, FLAGS.data_dir, task_names[i] if task_names else "")
           for i, spec in enumerate(task_specs)]
  cache_dir = FLAGS.cache_dir or os.path.join(FLAGS.output_dir, "cache")
  rows = evaluation.evaluate(methods, tasks, FLAGS.mode, budgets, eval_params,
                             cache_dir="" if cache_dir == "none" else cache_dir)
  return rows, report.write(rows, FLAGS.output_dir)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # TFDS logs every file it opens at INFO
  started = time.time()
  try:
    rows, paths = evaluate_from_flags()
  except (ValueError, trainer.TrainingError) as e:
    print(f"mobile-ssl-eval: error: {e}", file=sys.stderr)
    return 2
  print(report.markdown(rows))
  for kind, path in paths.items():
    print(f"{kind}: {path}")
  print(f"done in {time.time() - started:.0f} s")
  return 0


def run():
  define_flags()
  flags.mark_flags_as_required(["encoders", "tasks", "output_dir"])
  app.run(main)


if __name__ == "__main__":
  run()
