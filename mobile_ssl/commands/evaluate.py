r"""mobile-ssl-eval: downstream accuracy of encoders (linear probe or fine-tuning).

  mobile-ssl-eval --encoders=logmel_stats,untrained,supervised,runs/tg \
      --tasks=/data/fsdd/recordings:digit,SPC --output_dir=eval

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
import time

from absl import flags

from mobile_ssl.commands import cli
from mobile_ssl.core import atomic
from mobile_ssl.core import params as params_lib
from mobile_ssl.data import datasets
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import eval_report
from mobile_ssl.evaluation import suite
from mobile_ssl.training import trainer

PROG = "mobile-ssl-eval"


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py)."""
  where = cli.where(fv)
  flags.DEFINE_string("encoders", None,
                      "Comma-separated run directories and/or the baselines 'logmel_stats', "
                      "'untrained', 'supervised'.", **where)
  flags.DEFINE_string("names", "", "Comma-separated names for the table (default: dir basenames).", **where)
  flags.DEFINE_string("tasks", None, "Comma-separated task codes or DATASET:LABEL_KEY specs.", **where)
  flags.DEFINE_string("task_names", "",
                      "Comma-separated names for the table (default: code or folder:label).", **where)
  flags.DEFINE_string("output_dir", None, "Where results.csv, results.md and the PNGs go.", **where)
  flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's, ~/tensorflow_datasets).", **where)
  flags.DEFINE_string("cache_dir", "", "Embedding cache (default: OUTPUT_DIR/cache; 'none': off).", **where)
  flags.DEFINE_enum("mode", "linear", list(suite.MODES),
                    "linear: frozen encoder + softmax probe; finetune: end to end.", **where)
  flags.DEFINE_string("label_fraction", "1.0",
                      "Comma-separated fractions of the train clips (stratified) to train on.", **where)
  flags.DEFINE_string("shots_per_class", "",
                      "Comma-separated numbers of train clips per class (few-shot rows).", **where)
  cli.define_dataclass(fv, eval_params_lib.EvalParams)  # --hop_seconds, --batch_size, --seed, ...
  flags.DEFINE_float("width", params_lib.EncoderParams().width,
                     "Baselines' encoder width when no run directory is listed.", **where)
  flags.DEFINE_integer("embedding_dim", params_lib.EncoderParams().embedding_dim,
                       "Baselines' embedding size when no run directory is listed.", **where)
  cli.define_deterministic(fv)  # the supervised baseline and --mode=finetune train


def _numbers(fv: flags.FlagValues, flag: str, kind):
  try:
    return [kind(v) for v in datasets.split_list(fv[flag].value)]
  except ValueError:
    raise ValueError(f"--{flag}: expected comma-separated numbers, got "
                     f"{fv[flag].value!r}") from None


def evaluate_from_flags(fv: flags.FlagValues):
  """Runs the configured evaluation; returns (rows, output paths)."""
  encoders = datasets.split_list(fv.encoders)
  task_specs = datasets.split_list(fv.tasks)
  if not encoders or not task_specs:
    raise ValueError("--encoders and --tasks must name at least one each")
  cache_dir = fv.cache_dir or os.path.join(fv.output_dir, "cache")
  # Before any embedding: a folder under a file fails now, not at the first write.
  folders = {"output_dir": fv.output_dir} | ({} if cache_dir == "none" else {"cache_dir": cache_dir})
  for flag, folder in folders.items():
    try:
      atomic.creatable_folder(folder)
    except ValueError as e:
      raise ValueError(f"--{flag}={folder}: {e}") from None
  eval_params = eval_params_lib.EvalParams(
      **cli.dataclass_values(eval_params_lib.EvalParams, fv)).validate()
  budgets = downstream.budgets(_numbers(fv, "label_fraction", float),
                               _numbers(fv, "shots_per_class", int))
  baseline = params_lib.Params(encoder=params_lib.EncoderParams(
      width=fv.width, embedding_dim=fv.embedding_dim).validate())
  methods = suite.methods(encoders, datasets.split_list(fv.names), baseline)
  task_names = datasets.split_list(fv.task_names)
  if task_names and len(task_names) != len(task_specs):
    raise ValueError(f"--task_names has {len(task_names)} names for {len(task_specs)} --tasks")
  tasks = downstream.load_tasks(task_specs, fv.data_dir, task_names)
  rows = suite.evaluate(methods, tasks, fv.mode, budgets, eval_params,
                             cache_dir="" if cache_dir == "none" else cache_dir)
  return rows, eval_report.write(rows, fv.output_dir)


def main(argv, fv: flags.FlagValues) -> int:
  cli.check_no_arguments(PROG, argv)
  cli.quiet_logs(fv)
  cli.apply_deterministic(PROG, fv)
  started = time.time()
  try:
    rows, paths = evaluate_from_flags(fv)
  except (ValueError, trainer.TrainingError) as e:
    return cli.error(PROG, e)
  print(eval_report.markdown(rows))
  for kind, path in paths.items():
    print(f"{kind}: {path}")
  print(f"done in {time.time() - started:.0f} s")
  return 0


def run():
  cli.run(PROG, define_flags, main, required=["encoders", "tasks", "output_dir"])


if __name__ == "__main__":
  run()
