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
from mobile_ssl.data import datasets
from mobile_ssl.core import params as params_lib
from mobile_ssl.training import pretraining
from mobile_ssl.core import tasks
from mobile_ssl.training import trainer

PROG = "mobile-ssl-train"
_DEFAULTS = params_lib.recipe()

# Flags that set one field of Params: (flag, section, field, help). Their
# defaults shown in --help are the tuned recipe's; a flag given on the command
# line overrides the recipe, a flag left out keeps the recipe's value.
PARAM_FLAGS = (
    ("steps", "train", "steps", "Training steps."),
    ("batch_size", "train", "batch_size", "Global batch size."),
    ("learning_rate", "train", "learning_rate", "Peak learning rate (Adam/AdamW)."),
    ("schedule", "train", "schedule", "'constant' or 'cosine' (warm-up, then cosine to 0)."),
    ("warmup_steps", "train", "warmup_steps", "Linear warm-up steps (cosine schedule)."),
    ("weight_decay", "train", "weight_decay", "Decoupled weight decay (AdamW); 0: Adam."),
    ("clip_norm", "train", "clip_norm", "Clip gradients to this global norm; 0: off."),
    ("seed", "train", "seed", "Seeds the initialization and the data."),
    ("checkpoint_every_steps", "train", "checkpoint_every_steps", "Checkpoint interval."),
    ("log_every_steps", "train", "log_every_steps", "Log interval."),
    ("shuffle_buffer", "train", "shuffle_buffer", "Clips in the shuffle buffer."),
    ("concat_clips", "train", "concat_clips",
     "Join this many shuffled clips into one recording (for very short clips); 0: as many "
     "as the task needs."),
    ("strategy", "train", "strategy",
     "tf.distribute strategy: default, mirrored, multi_worker (reads TF_CONFIG)."),
    ("width", "encoder", "width", "Encoder width multiplier."),
    ("embedding_dim", "encoder", "embedding_dim", "Embedding size."),
    ("encoder_variant", "encoder", "variant", "Encoder layer table: paper, fast."),
    ("pooling", "encoder", "pooling", "Pooling before the embedding layer: "
     + ", ".join(params_lib.POOLINGS) + " ('max' is the paper's)."),
    ("gap_features", "task", "gap_features",
     "TemporalGap pair features: concat_abs_diff, or the paper's concat."),
    ("context_slices", "task", "context_slices", "Audio2Vec: P."),
    ("gap_frames", "task", "gap_frames", "Audio2Vec: G frames between slices."),
    ("triplet_margin", "task", "triplet_margin", "Triplet margin."),
    ("triplet_mining", "task", "triplet_mining", "Triplet negatives: semi_hard, random."),
    ("positive_max_offset_frames", "task", "positive_max_offset_frames",
     "Triplet: max distance of the positive from the anchor."),
    ("positive_noise_stddev", "task", "positive_noise_stddev",
     "Triplet: noise added to the positive's log-mel."),
    ("contrastive_temperature", "task", "contrastive_temperature",
     "Contrastive: softmax temperature."),
    ("contrastive_max_offset_frames", "task", "contrastive_max_offset_frames",
     "Contrastive: max distance of the positive from the anchor (-1: anywhere)."),
    ("byol_ema_decay", "task", "byol_ema_decay", "BYOL-A: EMA decay of the target network."),
    ("label_key", "task", "label_key", "Supervised: label feature (default: 'label' or the first)."),
    ("gain_db", "augment", "gain_db", "Augmentation: random gain in +-dB."),
    ("mixup_ratio", "augment", "mixup_ratio",
     "Augmentation: BYOL-A mixup with other clips, ratio ~ U(0, this)."),
    ("crop_scale", "augment", "crop_scale",
     "Augmentation: random resized crop scale range 'low,high' (1,1: off)."),
    ("time_mask_frames", "augment", "time_mask_frames", "Augmentation: time mask up to N frames."),
    ("freq_mask_bins", "augment", "freq_mask_bins", "Augmentation: frequency mask up to N bins."),
)


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py)."""
  where = cli.where(fv)
  flags.DEFINE_enum("task", params_lib.DEFAULT_TASK, list(tasks.ALL),
                    "What to train (default: the best measured pretext task).", **where)
  flags.DEFINE_enum("recipe", "tuned", list(params_lib.RECIPES),
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
  for flag, section, field, help_text in PARAM_FLAGS:
    cli.define(fv, flag, getattr(getattr(_DEFAULTS, section), field), help_text)
  flags.DEFINE_bool("force", False, "Resume even though MODEL_DIR holds a run with other params.",
                    **where)


def _value(fv: flags.FlagValues, flag: str, default):
  value = fv[flag].value
  if isinstance(default, tuple):
    try:
      return tuple(float(v) for v in value)
    except ValueError:
      raise ValueError(f"--{flag}: expected comma-separated numbers, got {value}") from None
  return value


def params_from_flags(fv: flags.FlagValues) -> params_lib.Params:
  """The recipe's Params with the flags given on the command line applied."""
  params = dataclasses.replace(params_lib.recipe(fv.task, fv.recipe),
                               datasets=tuple(datasets.split_list(fv.dataset)))
  changes = {}
  for flag, section, field, _ in PARAM_FLAGS:
    if fv[flag].present:
      default = getattr(getattr(params, section), field)
      changes.setdefault(section, {})[field] = _value(fv, flag, default)
  for section, values in changes.items():
    params = dataclasses.replace(
        params, **{section: dataclasses.replace(getattr(params, section), **values)})
  params.encoder.validate()
  params.augment.validate()
  return params


def train_from_flags(fv: flags.FlagValues) -> str:
  """Runs the configured training; returns the path of the saved encoder."""
  result = pretraining.run(params_from_flags(fv), fv.model_dir, data_dir=fv.data_dir,
                           split=fv.split, force=fv.force, cache_dir=fv.cache_dir,
                           data_service=fv.data_service)
  return result["encoder_path"]


def main(argv, fv: flags.FlagValues) -> int:
  cli.check_no_arguments(PROG, argv)
  cli.quiet_logs(fv)
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
