"""A training run from Params: pretext tasks and the supervised/untrained baselines.

`run` is what `mobile-ssl-train` (and the quickstart) execute: resolve the
datasets (building offline ones on first use), refuse to mix a different
configuration into an existing run directory, write params.json, train with
the one loop (mobile_ssl/training/trainer.py) and save the encoder as encoder.keras.
"""

import dataclasses
import json
import os
import pathlib
import sys
import typing

import keras
import numpy as np

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import fields
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import tasks
from mobile_ssl.data import data_service as data_service_lib
from mobile_ssl.data import datasets
from mobile_ssl.data import pipeline as data
from mobile_ssl.data import task_stream
from mobile_ssl.training import trainer

# --cache_dir default: memory when the pool's log-mels fit in AUTO_CACHE_BYTES,
# else files in DEFAULT_CACHE_DIR that persist across runs (keyed by the front
# end, `data.cache_key`): one file per clip, filled in one pass before the first
# step, one process at a time; a store a killed run left without its index is
# filled again by the next run (`mobile_ssl/data/clip_store.py`).
AUTO_CACHE = "auto"
AUTO_CACHE_BYTES = 4 << 30
DEFAULT_CACHE_DIR = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(
    os.path.expanduser("~"), ".cache"), "mobile_ssl", "log_mels")
# Log-mel bytes per stored audio byte: 64 float32 bins per 160 int16 samples.
_LOG_MEL_PER_AUDIO_BYTE = 64 * 4 / (160 * 2)

# Params that may change between a run and its resumption.
RESUMABLE_CHANGES = ("train.steps", "train.log_every_steps", "train.checkpoint_every_steps",
                     "train.strategy", "train.keep_checkpoints")


def _flatten(values: dict, prefix: str = "") -> dict:
  out = {}
  for key, value in values.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def check_resumable(model_dir: str, params: params_lib.Params, force: bool = False) -> None:
  """Refuses to mix a new configuration into an existing run (unless forced)."""
  path = model_dir_lib.params_path(model_dir)
  if not os.path.exists(path):
    return
  text = pathlib.Path(path).read_text(encoding="utf-8")
  try:
    # Through Params, so a field added since the run started reads as its default.
    text = params_lib.from_json(text).to_json()
  except (ValueError, TypeError):
    pass  # compared as written; the differences name what cannot be read
  old = _flatten(json.loads(text))
  new = _flatten(json.loads(params.to_json()))
  changed = sorted(k for k in set(old) | set(new)
                   if old.get(k) != new.get(k) and k not in RESUMABLE_CHANGES)
  if changed and not force:
    details = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed[:4])
    raise ValueError(f"{model_dir} holds a run with other params ({details}); use another "
                     "--model_dir, or --force to resume it with the new params")


def resolve_sources(specs: typing.Sequence[str], split: str = "train",
                    data_dir: typing.Optional[str] = None):
  """[(prepared builder, split)] for dataset specs ('name', 'name@split', folders)."""
  if not specs:
    raise ValueError("--dataset is empty")
  # TFDS slicing ('name@train[:25%]') selects part of a pool.
  return [datasets.builder_and_split(spec, split, data_dir) for spec in specs]


def resolve_label(sources, label_key: str = "") -> typing.Tuple[str, int]:
  """(label key, class count) for supervised training: 'label' or the first class label."""
  builder = sources[0][0]
  key = label_key
  if not key:
    labelled = [k for k in builder.info.features.keys() if datasets.label_names(builder, k)]
    key = "label" if "label" in labelled else (labelled[0] if labelled else "")
  if not key:
    raise ValueError(f"--task=supervised: dataset {builder.name!r} has no class label")
  names = datasets.label_names(builder, key)
  if len(names) < 2:
    raise ValueError(f"--task=supervised: label {key!r} of {builder.name!r} has "
                     f"{len(names)} class(es); at least 2 are needed")
  for other, _ in sources[1:]:
    if datasets.label_names(other, key) != names:
      raise ValueError(f"--task=supervised: the datasets disagree on the classes of {key!r}")
  return key, len(names)


MAX_CONCAT = 32


def concat_count(builder, split: str, params: params_lib.Params) -> int:
  """How many consecutive clips to join so that 90 % of recordings fit the task.

  Judged on the clips' own lengths (before the padding to one slice): FSDD's
  ~0.4 s clips need about 6 per recording for TemporalGap's 1.95 s, and none
  for the one-slice tasks (contrastive, BYOL-A, triplet).
  """
  need_frames = tasks.get(params.task.name).min_frames(params)
  fp = params.features
  if need_frames <= fp.slice_frames:
    return 1  # every clip is padded to one slice: joining would only mix clips
  need = features.num_samples(need_frames, fp)
  lengths = np.asarray(data.clip_samples(builder, split, fp), np.int64)
  for count in range(1, MAX_CONCAT + 1):
    groups = len(lengths) // count
    if groups == 0:
      break
    joined = lengths[:groups * count].reshape(groups, count).sum(axis=1)
    if np.mean(joined >= need) >= 0.9:
      return count
  return MAX_CONCAT


def seconds_of(frames: int, feature_params: params_lib.FeatureParams) -> float:
  return (frames - 1) * feature_params.stft_hop_seconds + feature_params.stft_window_seconds


def run(params: params_lib.Params, model_dir: str, *, data_dir: typing.Optional[str] = None,
        split: str = "train", force: bool = False, cache_dir: str = "",
        progress: bool = True, data_service: str = "") -> dict:
  """Trains `params.task.name` on `params.datasets` into `model_dir`.

  Args:
    cache_dir: where clip log-mels are cached: 'memory', a folder (files
      keyed by dataset, split, label key, front end and clip joining, so they
      persist across runs and never serve another front end; filled before
      the first step, and with `data_service` read by the workers, which
      must see the same folder), AUTO_CACHE or ''.
    data_service: HOST:PORT of a tf.data service dispatcher: the input
      pipeline then runs on its workers (mobile_ssl/data/data_service.py).

  Returns:
    {'encoder_path', 'params' (as written), 'history' (None for 'untrained'),
    'skipped_short_clips'}; 'encoder_path' is '' on non-chief workers.

  Raises:
    ValueError: bad datasets, labels, clips all too short, or a run directory
      holding other params; trainer.TrainingError: a NaN loss.
  """
  if params.train.steps < 1 or params.train.batch_size < 1:
    raise ValueError("--steps and --batch_size must be >= 1")
  if params.train.learning_rate <= 0:
    raise ValueError("--learning_rate must be > 0")
  params.features.validate()
  params.encoder.validate()
  params.augment.validate()
  params.task.validate()
  fields.check_choices(params.train)
  task = None if params.task.name == "untrained" else tasks.get(params.task.name)
  sources = resolve_sources(params.datasets, split, data_dir) if task else []
  if task and task.needs_labels:
    key, count = resolve_label(sources, params.task.label_key)
    params = dataclasses.replace(params, task=dataclasses.replace(
        params.task, label_key=key, num_classes=count))
  # The strategy first: multi-worker collectives must be set up before any TF op runs.
  strategy = trainer.make_strategy(params.train.strategy)
  if task and params.train.concat_clips == 0:  # 'auto': as many as the first source needs
    count = concat_count(sources[0][0], sources[0][1], params)
    params = dataclasses.replace(params, train=dataclasses.replace(params.train,
                                                                   concat_clips=count))
    if count > 1 and progress:
      need = seconds_of(task.min_frames(params), params.features)
      how = (f"looping each clip to {need:.2f} s (at least {count} times, --concat_mode=loop)"
             if params.train.concat_mode == "loop" else f"joining {count} clips per recording")
      print(f"clips are shorter than --task={task.name} needs: {how} (--concat_clips)",
            file=sys.stderr)
  check_resumable(model_dir, params, force)
  chief = trainer.is_chief(strategy)
  if chief:
    model_dir_lib.write_params(model_dir, params)
  if task is None:  # the 'untrained' baseline: the seeded random initialization
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=params.train.seed)
    return {"encoder_path": model_dir_lib.save_encoder(model_dir, encoder, params),
            "params": params, "history": None, "skipped_short_clips": 0}

  need = task.min_frames(params)
  for builder, source_split in sources:
    enough, examined = data.long_enough(builder, source_split, need, params)
    if not enough:
      raise ValueError(
          f"none of the first {examined} clips of {builder.name}/{source_split} lasts the "
          f"{seconds_of(need, params.features):.2f} s that --task={task.name} needs; join short "
          "clips with --concat_clips=N or use a task with less context")
  service = data_service_lib.check_dispatcher(data_service) if data_service else ""
  # The service serializes the pipeline: no counter variable inside it.
  counter = None if service else task_stream.SkipCounter()
  if cache_dir == AUTO_CACHE:
    stored = sum(b.info.splits[s].num_bytes for b, s in sources)
    cache_dir = ("memory" if stored * _LOG_MEL_PER_AUDIO_BYTE <= AUTO_CACHE_BYTES
                 else DEFAULT_CACHE_DIR)
  if cache_dir and cache_dir != "memory":
    cache_dir = os.path.join(cache_dir, data.cache_key(params))
    if progress and trainer.is_chief(strategy):
      print(f"log-mel cache: {cache_dir}", file=sys.stderr)
  label_key = params.task.label_key if task.needs_labels else None

  def dataset(batch_size, pipeline_id, start_step):
    # A new seed after each resumption: fresh examples rather than a replay.
    seed = params.train.seed + 7919 * start_step + 104729 * pipeline_id
    ds = task_stream.task_dataset(sources, task.make_examples, need, params,
                                  batch_size=batch_size, seed=seed, skip_counter=counter,
                                  cache_dir=cache_dir or None, label_key=label_key,
                                  random_order=bool(service))
    return data_service_lib.distribute(ds, service) if service else ds

  def build():
    # A task's own layers (the supervised classifier, decoders, projection heads) draw
    # their initialization from Keras's global generator, unseeded in a new process:
    # seeded here, so a run starts from its seed's weights (--deterministic needs it).
    # It seeds TensorFlow's global seed too, which tf.data's seeded shuffles combine
    # with their own: another order than before, the same in every run.
    keras.utils.set_random_seed(params.train.seed)
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=params.train.seed)
    return task.build_model(encoder, params)

  history = trainer.fit(build, lambda t, o: task.loss(t, o, params), dataset, params,
                        model_dir=model_dir, strategy=strategy, progress=progress,
                        status=lambda: {"skipped_short_clips": counter.count if counter else 0},
                        after_update=(None if task.after_update is None else
                                      lambda model: task.after_update(model, params)))
  if progress and chief and counter:
    share = f" ({100 * counter.count / counter.seen:.0f} %)" if counter.seen else ""
    print(f"skipped {counter.count} of the {counter.seen} clips read{share}: shorter than "
          f"--task={task.name} needs ({seconds_of(need, params.features):.2f} s)",
          file=sys.stderr)
  path = ""
  if chief:
    encoder = history["model"].get_layer(encoder_lib.NAME)
    path = model_dir_lib.save_encoder(model_dir, encoder, params)
  return {"encoder_path": path, "params": params, "history": history,
          "skipped_short_clips": counter.count if counter else 0}


def is_complete(model_dir: str, params: params_lib.Params) -> bool:
  """True when `model_dir` holds a finished run of exactly these params."""
  if not os.path.exists(model_dir_lib.encoder_path(model_dir)):
    return False
  try:
    check_resumable(model_dir, params)
    written = model_dir_lib.read_params(model_dir)
  except ValueError:
    return False
  if written.train.steps != params.train.steps:
    return False
  return params.task.name == "untrained" or trainer.latest_step(model_dir) >= params.train.steps
