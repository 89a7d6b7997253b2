r"""mobile-ssl-train: pretrain (or train a baseline) encoder; resumable, distributed.

  mobile-ssl-train --task=temporal_gap --dataset=synthetic_audio --model_dir=runs/tg

`--dataset` takes any TFDS name (ours or the catalog's, `name@split` for a
split other than --split), a folder of audio files, or a comma-separated list
of them pooled into one stream. Writes MODEL_DIR/params.json first, checkpoints
while training, and MODEL_DIR/encoder.keras at the end. Re-running the same
command resumes from the newest checkpoint (also after kill -9).
"""

import dataclasses
import sys

from absl import app
from absl import flags
from absl import logging

from mobile_ssl import datasets
from mobile_ssl import params as params_lib
from mobile_ssl import pretraining
from mobile_ssl import tasks
from mobile_ssl import trainer

_DEFAULTS = params_lib.Params()
FLAGS = flags.FLAGS


def define_flags(module_name=None) -> None:
  """Defines the flags (in `run`, not at import: CLIs share flag names, and absl
  refuses a name defined twice; `module_name` makes --helpshort list them)."""
  if "model_dir" in FLAGS:
    return
  where = {"module_name": module_name or __name__}
  flags.DEFINE_enum("task", None, list(tasks.ALL), "What to train.", **where)
  flags.DEFINE_string("dataset", "synthetic_audio",
                      "TFDS name(s) or audio folder(s), comma-separated; 'name@split' picks "
                      "a split.",
                      **where)
  flags.DEFINE_string("split", "train", "Split to read when a dataset does not name one.", **where)
  flags.DEFINE_string("model_dir", None, "Run directory: params.json, checkpoints, encoder.keras.",
                      **where)
  flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's, ~/tensorflow_datasets).",
                      **where)
  flags.DEFINE_integer("steps", _DEFAULTS.train.steps, "Training steps.", **where)
  flags.DEFINE_integer("batch_size", _DEFAULTS.train.batch_size, "Global batch size.", **where)
  flags.DEFINE_float("learning_rate", _DEFAULTS.train.learning_rate, "Adam learning rate.", **where)
  flags.DEFINE_integer("seed", _DEFAULTS.train.seed, "Seeds the initialization and the data.",
                       **where)
  flags.DEFINE_float("width", _DEFAULTS.encoder.width, "Encoder width multiplier.", **where)
  flags.DEFINE_integer("embedding_dim", _DEFAULTS.encoder.embedding_dim, "Embedding size.", **where)
  flags.DEFINE_string("encoder_variant", _DEFAULTS.encoder.variant, "Encoder layer table.", **where)
  flags.DEFINE_integer("checkpoint_every_steps", _DEFAULTS.train.checkpoint_every_steps,
                       "Checkpoint interval.", **where)
  flags.DEFINE_integer("log_every_steps", _DEFAULTS.train.log_every_steps, "Log interval.", **where)
  flags.DEFINE_integer("shuffle_buffer", _DEFAULTS.train.shuffle_buffer,
                       "Clips in the shuffle buffer.",
                       **where)
  flags.DEFINE_integer("concat_clips", _DEFAULTS.train.concat_clips,
                       "Join this many shuffled clips into one recording (for very short clips).",
                       **where)
  flags.DEFINE_string("cache_dir", "", "Cache clip log-mels: a folder, 'memory', or '' for none.",
                      **where)
  flags.DEFINE_enum("strategy", _DEFAULTS.train.strategy, ["default", "mirrored", "multi_worker"],
                    "tf.distribute strategy; multi_worker reads TF_CONFIG.", **where)
  flags.DEFINE_enum("gap_features", _DEFAULTS.task.gap_features, ["concat_abs_diff", "concat"],
                    "TemporalGap pair features ('concat' is the paper's; see "
                    "tasks/temporal_gap.py).",
                    **where)
  flags.DEFINE_integer("context_slices", _DEFAULTS.task.context_slices, "Audio2Vec: P.", **where)
  flags.DEFINE_integer("gap_frames", _DEFAULTS.task.gap_frames,
                       "Audio2Vec: G frames between slices.",
                       **where)
  flags.DEFINE_float("triplet_margin", _DEFAULTS.task.triplet_margin, "Triplet margin.", **where)
  flags.DEFINE_enum("triplet_mining", _DEFAULTS.task.triplet_mining, ["semi_hard", "random"],
                    "Triplet negatives.", **where)
  flags.DEFINE_integer("positive_max_offset_frames", _DEFAULTS.task.positive_max_offset_frames,
                       "Triplet: max distance of the positive from the anchor.", **where)
  flags.DEFINE_float("positive_noise_stddev", _DEFAULTS.task.positive_noise_stddev,
                     "Triplet: noise added to the positive's log-mel.", **where)
  flags.DEFINE_float("contrastive_temperature", _DEFAULTS.task.contrastive_temperature,
                     "Contrastive: softmax temperature.", **where)
  flags.DEFINE_string("label_key", "", "Supervised: label feature (default: 'label' or the first).",
                      **where)
  flags.DEFINE_bool("force", False, "Resume even though MODEL_DIR holds a run with other params.",
                    **where)


def params_from_flags() -> params_lib.Params:
  """Maps the flags onto `Params` (defaults come from the dataclasses only)."""
  d = _DEFAULTS
  return dataclasses.replace(
      d,
      datasets=tuple(datasets.split_list(FLAGS.dataset)),
      encoder=dataclasses.replace(d.encoder, variant=FLAGS.encoder_variant, width=FLAGS.width,
                                  embedding_dim=FLAGS.embedding_dim).validate(),
      task=dataclasses.replace(
          d.task, name=FLAGS.task, gap_features=FLAGS.gap_features,
          context_slices=FLAGS.context_slices,
          gap_frames=FLAGS.gap_frames, triplet_margin=FLAGS.triplet_margin,
          triplet_mining=FLAGS.triplet_mining,
          positive_max_offset_frames=FLAGS.positive_max_offset_frames,
          positive_noise_stddev=FLAGS.positive_noise_stddev,
          contrastive_temperature=FLAGS.contrastive_temperature,
          label_key=FLAGS.label_key),
      train=dataclasses.replace(
          d.train, steps=FLAGS.steps, batch_size=FLAGS.batch_size,
          learning_rate=FLAGS.learning_rate, seed=FLAGS.seed,
          checkpoint_every_steps=FLAGS.checkpoint_every_steps,
          log_every_steps=FLAGS.log_every_steps, shuffle_buffer=FLAGS.shuffle_buffer,
          strategy=FLAGS.strategy, concat_clips=FLAGS.concat_clips))


def train_from_flags() -> str:
  """Runs the configured training; returns the path of the saved encoder."""
  result = pretraining.run(params_from_flags(), FLAGS.model_dir, data_dir=FLAGS.data_dir,
                           split=FLAGS.split, force=FLAGS.force, cache_dir=FLAGS.cache_dir)
  return result["encoder_path"]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not FLAGS["verbosity"].present:
    logging.set_verbosity(logging.WARNING)  # TFDS logs every file it opens at INFO
  try:
    path = train_from_flags()
  except (ValueError, trainer.TrainingError) as e:
    print(f"mobile-ssl-train: error: {e}", file=sys.stderr)
    return 2
  if path:
    print(f"encoder saved to {path}")
  return 0


def run():
  define_flags(module_name=sys.argv[0])
  flags.mark_flags_as_required(["task", "model_dir"])
  app.run(main)


if __name__ == "__main__":
  run()
