r"""mobile-ssl-train: pretrain (or train a baseline) encoder; resumable, distributed.

  mobile-ssl-train --dataset=/path/to/my/audio --model_dir=runs/mine   # the tuned recipe
  mobile-ssl-train --task=temporal_gap --recipe=paper --dataset=synthetic_audio --model_dir=runs/tg

`--dataset` takes any TFDS name (ours or the catalog's, `name@split` for a
split other than --split), a folder of audio files, or a comma-separated list
of them pooled into one stream. Writes MODEL_DIR/params.json first, checkpoints
while training, and MODEL_DIR/encoder.keras at the end. Re-running the same
command resumes from the newest checkpoint (also after kill -9).
"""

import dataclasses

from absl import flags

from mobile_ssl.commands import cli
from mobile_ssl.core import atomic
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import tasks
from mobile_ssl.data import datasets
from mobile_ssl.training import pretraining
from mobile_ssl.training import trainer

PROG = "mobile-ssl-train"
_DEFAULTS = recipes.recipe()

# The Params sections whose fields are flags, one flag per field (metadata in
# core/params.py and core/training_params.py; cli.define_dataclass). Their
# defaults shown in --help are the tuned recipe's; a flag given on the command
# line overrides the recipe, a flag left out keeps the recipe's value.
FLAG_SECTIONS = ("train", "encoder", "task", "augment")


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py)."""
  where = cli.where(fv)
  flags.DEFINE_enum("task", recipes.DEFAULT_TASK, list(tasks.ALL),
                    "What to train (default: the best measured pretext task).", **where)
  flags.DEFINE_enum("recipe", "tuned", list(recipes.RECIPES),
                    "Defaults to start from: the measured 'tuned' recipe, or the 'paper's "
                    "configuration; flags given override either.", **where)
  flags.DEFINE_string("dataset", "synthetic_audio",
                      "TFDS name(s) or audio folder(s), comma-separated; 'name@split' picks "
                      "a split.",
                      **where)
  flags.DEFINE_string("split", "train", "Split to read when a dataset does not name one.", **where)
  flags.DEFINE_string("model_dir", None, "Run directory: params.json, checkpoints, encoder.keras.",
                      **where)
  flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's, ~/tensorflow_datasets).",
                      **where)
  flags.DEFINE_string("cache_dir", pretraining.AUTO_CACHE,
                      "Cache clip log-mels: a folder (files keyed by front end, reused by "
                      "later runs), 'memory', '' for none, or 'auto' (memory when the pool's "
                      f"log-mels fit in a few GB, else {pretraining.DEFAULT_CACHE_DIR}).",
                      **where)
  flags.DEFINE_string("data_service", "", "HOST:PORT of a tf.data service dispatcher "
                      "(mobile-ssl-data-service): run the input pipeline on its workers.",
                      **where)
  for section in FLAG_SECTIONS:
    defaults = getattr(_DEFAULTS, section)
    cli.define_dataclass(fv, type(defaults), defaults)
  flags.DEFINE_bool("force", False, "Resume even though MODEL_DIR holds a run with other params.",
                    **where)
  cli.define_deterministic(fv)


def params_from_flags(fv: flags.FlagValues) -> params_lib.Params:
  """The recipe's Params with the flags given on the command line applied."""
  params = dataclasses.replace(recipes.recipe(fv.task, fv.recipe),
                               datasets=tuple(datasets.split_list(fv.dataset)))
  sections = {}
  for section in FLAG_SECTIONS:
    values = getattr(params, section)
    sections[section] = dataclasses.replace(
        values, **cli.dataclass_values(type(values), fv, present_only=True))
  params = dataclasses.replace(params, **sections)
  params.encoder.validate()
  params.augment.validate()
  params.task.validate()
  return params


def train_from_flags(fv: flags.FlagValues) -> str:
  """Runs the configured training; returns the path of the saved encoder."""
  if fv.cache_dir not in ("", "memory", pretraining.AUTO_CACHE):
    # Before the run folder is made: a folder under a file fails now, in one line.
    try:
      atomic.creatable_folder(fv.cache_dir)
    except ValueError as e:
      raise ValueError(f"--cache_dir={fv.cache_dir}: {e}") from None
  result = pretraining.run(params_from_flags(fv), fv.model_dir, data_dir=fv.data_dir,
                           split=fv.split, force=fv.force, cache_dir=fv.cache_dir,
                           data_service=fv.data_service)
  return result["encoder_path"]


def main(argv, fv: flags.FlagValues) -> int:
  cli.check_no_arguments(PROG, argv)
  cli.quiet_logs(fv)
  cli.apply_deterministic(PROG, fv)
  try:
    path = train_from_flags(fv)
  except (ValueError, trainer.TrainingError) as e:
    return cli.error(PROG, e)
  if path:
    print(f"encoder saved to {path}")
  return 0


def run():
  cli.run(PROG, define_flags, main, required=["model_dir"])


if __name__ == "__main__":
  run()
