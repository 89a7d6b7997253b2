r"""mobile-ssl-train: pretrain (or train a baseline) encoder; resumable, distributed.

  mobile-ssl-train --task=temporal_gap --dataset=synthetic_audio --model_dir=runs/tg

`--dataset` takes any TFDS name (ours or the catalog's, `name@split` for a
split other than --split), a folder of audio files, or a comma-separated list
of them pooled into one stream. Writes MODEL_DIR/params.json first, checkpoints
while training, and MODEL_DIR/encoder.keras at the end. Re-running the same
command resumes from the newest checkpoint (also after kill -9).
"""

import dataclasses
import json
import os
import sys

from absl import app
from absl import flags
from absl import logging

from mobile_ssl import data
from mobile_ssl import datasets
from mobile_ssl import encoder as encoder_lib
from mobile_ssl import model_dir as model_dir_lib
from mobile_ssl import params as params_lib
from mobile_ssl import tasks
from mobile_ssl import trainer

_DEFAULTS = params_lib.Params()
FLAGS = flags.FLAGS
flags.DEFINE_enum("task", None, list(tasks.ALL), "What to train.")
flags.DEFINE_string("dataset", "synthetic_audio",
                    "TFDS name(s) or audio folder(s), comma-separated; 'name@split' picks a split.")
flags.DEFINE_string("split", "train", "Split to read when a dataset does not name one.")
flags.DEFINE_string("model_dir", None, "Run directory: params.json, checkpoints, encoder.keras.")
flags.DEFINE_string("data_dir", None, "TFDS data dir (default: TFDS's, ~/tensorflow_datasets).")
flags.DEFINE_integer("steps", _DEFAULTS.train.steps, "Training steps.")
flags.DEFINE_integer("batch_size", _DEFAULTS.train.batch_size, "Global batch size.")
flags.DEFINE_float("learning_rate", _DEFAULTS.train.learning_rate, "Adam learning rate.")
flags.DEFINE_integer("seed", _DEFAULTS.train.seed, "Seeds the initialization and the data.")
flags.DEFINE_float("width", _DEFAULTS.encoder.width, "Encoder width multiplier.")
flags.DEFINE_integer("embedding_dim", _DEFAULTS.encoder.embedding_dim, "Embedding size.")
flags.DEFINE_string("encoder_variant", _DEFAULTS.encoder.variant, "Encoder layer table.")
flags.DEFINE_integer("checkpoint_every_steps", _DEFAULTS.train.checkpoint_every_steps,
                     "Checkpoint interval.")
flags.DEFINE_integer("log_every_steps", _DEFAULTS.train.log_every_steps, "Log interval.")
flags.DEFINE_integer("shuffle_buffer", _DEFAULTS.train.shuffle_buffer, "Clips in the shuffle buffer.")
flags.DEFINE_integer("concat_clips", _DEFAULTS.train.concat_clips,
                     "Join this many shuffled clips into one recording (for very short clips).")
flags.DEFINE_string("cache_dir", "", "Cache clip log-mels: a folder, 'memory', or '' for none.")
flags.DEFINE_enum("strategy", _DEFAULTS.train.strategy, ["default", "mirrored", "multi_worker"],
                  "tf.distribute strategy; multi_worker reads TF_CONFIG.")
flags.DEFINE_enum("gap_features", _DEFAULTS.task.gap_features, ["concat_abs_diff", "concat"],
                  "TemporalGap pair features ('concat' is the paper's; see tasks/temporal_gap.py).")
flags.DEFINE_integer("context_slices", _DEFAULTS.task.context_slices, "Audio2Vec: P.")
flags.DEFINE_integer("gap_frames", _DEFAULTS.task.gap_frames, "Audio2Vec: G frames between slices.")
flags.DEFINE_float("triplet_margin", _DEFAULTS.task.triplet_margin, "Triplet margin.")
flags.DEFINE_enum("triplet_mining", _DEFAULTS.task.triplet_mining, ["semi_hard", "random"],
                  "Triplet negatives.")
flags.DEFINE_integer("positive_max_offset_frames", _DEFAULTS.task.positive_max_offset_frames,
                     "Triplet: max distance of the positive from the anchor.")
flags.DEFINE_float("positive_noise_stddev", _DEFAULTS.task.positive_noise_stddev,
                   "Triplet: noise added to the positive's log-mel.")
flags.DEFINE_float("contrastive_temperature", _DEFAULTS.task.contrastive_temperature,
                   "Contrastive: softmax temperature.")
flags.DEFINE_string("label_key", "", "Supervised: label feature (default: 'label' or the first).")
flags.DEFINE_bool("force", False, "Resume even though MODEL_DIR holds a run with other params.")

# Params that may change between a run and its resumption.
_RESUMABLE_CHANGES = ("train.steps", "train.log_every_steps", "train.checkpoint_every_steps",
                      "train.strategy")


def _flatten(values: dict, prefix: str = "") -> dict:
  out = {}
  for key, value in values.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def params_from_flags(num_classes: int = 0, label_key: str = "") -> params_lib.Params:
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
          label_key=label_key or d.task.label_key, num_classes=num_classes),
      train=dataclasses.replace(
          d.train, steps=FLAGS.steps, batch_size=FLAGS.batch_size,
          learning_rate=FLAGS.learning_rate, seed=FLAGS.seed,
          checkpoint_every_steps=FLAGS.checkpoint_every_steps,
          log_every_steps=FLAGS.log_every_steps, shuffle_buffer=FLAGS.shuffle_buffer,
          strategy=FLAGS.strategy, concat_clips=FLAGS.concat_clips))


def check_resumable(model_dir: str, params: params_lib.Params, force: bool) -> None:
  """Refuses to mix a new configuration into an existing run (unless forced)."""
  if not os.path.exists(model_dir_lib.params_path(model_dir)):
    return
  old = _flatten(json.loads(open(model_dir_lib.params_path(model_dir)).read()))
  new = _flatten(json.loads(params.to_json()))
  changed = sorted(k for k in set(old) | set(new)
                   if old.get(k) != new.get(k) and k not in _RESUMABLE_CHANGES)
  if changed and not force:
    details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:4])
    raise ValueError(f"{model_dir} holds a run with other params ({details}); use another "
                     "--model_dir, or --force to resume it with the new params")


def _sources(specs, default_split):
  out = []
  for spec in specs:
    name, split = datasets.parse_spec(spec)
    builder = datasets.builder(name, data_dir=FLAGS.data_dir)
    split = split or default_split
    if split not in builder.info.splits:
      raise ValueError(f"dataset {name!r} has no split {split!r}; it has "
                       f"{', '.join(builder.info.splits)}")
    out.append((builder, split))
  return out


def _label(sources):
  """(label key, class count) for the supervised task; one label space only."""
  builder = sources[0][0]
  key = FLAGS.label_key
  if not key:
    labelled = [k for k in builder.info.features.keys() if datasets.label_names(builder, k)]
    key = "label" if "label" in labelled else (labelled[0] if labelled else "")
  if not key:
    raise ValueError(f"--task=supervised: dataset {builder.name!r} has no class label")
  names = datasets.label_names(builder, key)
  for other, _ in sources[1:]:
    if datasets.label_names(other, key) != names:
      raise ValueError(f"--task=supervised: datasets disagree on the classes of {key!r}")
  return key, len(names)


def train_from_flags() -> str:
  """Runs the configured training; returns the path of the saved encoder."""
  if FLAGS.steps < 1 or FLAGS.batch_size < 1:
    raise ValueError("--steps and --batch_size must be >= 1")
  if FLAGS.learning_rate <= 0:
    raise ValueError("--learning_rate must be > 0")
  specs = datasets.split_list(FLAGS.dataset)
  if not specs:
    raise ValueError("--dataset is empty")
  task = None if FLAGS.task == "untrained" else tasks.get(FLAGS.task)
  sources = _sources(specs, FLAGS.split) if task else []
  label_key, num_classes = _label(sources) if task and task.needs_labels else ("", 0)
  params = params_from_flags(num_classes, label_key)
  check_resumable(FLAGS.model_dir, params, FLAGS.force)
  strategy = trainer.make_strategy(FLAGS.strategy)
  chief = trainer.is_chief(strategy)
  if chief:
    model_dir_lib.write_params(FLAGS.model_dir, params)
  if task is None:  # the 'untrained' baseline: the seeded random initialization
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=params.train.seed)
    return model_dir_lib.save_encoder(FLAGS.model_dir, encoder, params)

  need = task.min_frames(params)
  need_seconds = (need - 1) * params.features.stft_hop_seconds + params.features.stft_window_seconds
  for builder, split in sources:
    enough, examined = data.long_enough(builder, split, need, params)
    if not enough:
      raise ValueError(
          f"none of the first {examined} clips of {builder.name}/{split} lasts the {need_seconds:.2f} s "
          f"that --task={task.name} needs; join short clips with --concat_clips=N or use a task "
          "with less context")
  counter = data.SkipCounter()
  cache_dir = FLAGS.cache_dir
  if cache_dir and cache_dir != "memory":
    cache_dir = os.path.join(cache_dir, f"{params.train.concat_clips}x")

  def dataset(batch_size, pipeline_id, start_step):
    # A new seed after each resumption: fresh examples rather than a replay.
    seed = params.train.seed + 7919 * start_step + 104729 * pipeline_id
    return data.task_dataset(sources, task.make_examples, task.min_frames(params), params,
                             batch_size=batch_size, seed=seed, skip_counter=counter,
                             cache_dir=cache_dir or None,
                             label_key=label_key if task.needs_labels else None)

  def build():
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=params.train.seed)
    return task.build_model(encoder, params)

  history = trainer.fit(build, lambda t, o: task.loss(t, o, params), dataset, params,
                        model_dir=FLAGS.model_dir, strategy=strategy,
                        status=lambda: {"skipped_short_clips": counter.count})
  encoder = history["model"].get_layer(encoder_lib.NAME)
  print(f"{counter.count} clips shorter than --task={task.name} needs ({need_seconds:.2f} s) "
        "were skipped", file=sys.stderr)
  if chief:
    return model_dir_lib.save_encoder(FLAGS.model_dir, encoder, params)
  return ""


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
  flags.mark_flags_as_required(["task", "model_dir"])
  app.run(main)


if __name__ == "__main__":
  run()
