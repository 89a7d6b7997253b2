"""The endless stream of pretext-task examples that training draws from.

`task_dataset` pools clips from one or more (builder, split) sources
(`pipeline.clips` -> `pipeline.log_mels`), keeps them where the run asks (in
this process's memory, in a `--cache_dir` clip store, per tf.data service
worker, or not at all), skips clips too short for the task (`SkipCounter`
counts them) and hands batches of clips to the task's `make_examples`, then
to the augmentations. Every random choice is drawn from the run's seed and
the batch index, so a stream is reproducible under `seed` (unless
`random_order`, for the tf.data service).

It was the second half of pipeline.py until 2026-12-07 (session 58): the
pipeline cuts clips into windows for every consumer, this module makes the
training examples.
"""

import os
import typing

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mobile_ssl.core import augment
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import progress
from mobile_ssl.core.tasks import sampling
from mobile_ssl.data import clip_store
from mobile_ssl.data import pipeline


class SkipCounter:
  """Counts clips read and clips too short for a task, while the pipeline runs.

  Counts grow with every pass over the data (a clip read twice counts twice),
  except with `task_dataset`'s memory cache and clip stores: there each clip
  is counted once, when the clips are gathered into memory or the store's
  index is read (`count_once`).
  """

  def __init__(self):
    self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="skipped_clips")
    self.read = tf.Variable(0, dtype=tf.int64, trainable=False, name="read_clips")

  def keep_if(self, enough: tf.Tensor) -> tf.Tensor:
    self.read.assign_add(1)
    self.variable.assign_add(tf.cast(tf.logical_not(enough), tf.int64))
    return enough

  def count_once(self, enough: np.ndarray) -> None:
    """Counts clips whose length check (`enough` [n] bool) was made outside the stream."""
    self.read.assign_add(len(enough))
    self.variable.assign_add(int(np.sum(~np.asarray(enough, bool))))

  @property
  def count(self) -> int:
    """Clips skipped so far."""
    return int(self.variable.numpy())

  @property
  def seen(self) -> int:
    """Clips read so far (kept or skipped)."""
    return int(self.read.numpy())


# Clips gathered per step of the memory hold: the progress bar's step (the
# gathered chunks are joined once at the end, as one batch of every clip was).
HOLD_CHUNK = 256


def _held_clips(ds: tf.data.Dataset, most: int, desc: str, chunk: int) -> typing.Optional[dict]:
  """Every clip of a log-mel stream of at most `most` clips, gathered.

  {'log_mel': [n, None, bins], 'label'?: [n]}, or None when the stream is
  empty. One pass, run by tf.data's own loop (its maps in parallel), in
  chunks of `chunk` clips joined at the end into one ragged tensor whose
  `flat_values` are all clips' frames end to end: the same tensor as one
  batch of every clip, at about the same peak memory (tf.data's batch also
  holds every clip before it copies them into the batch). The chunks drive a progress
  bar on a terminal, named `desc`: a pool of a few GB takes minutes here,
  before the first step.
  """
  chunks = []
  with progress.bar(desc=f"log-mels into memory {desc}".rstrip(), total=most,
                    unit=" clips") as bar:
    for held in ds.ragged_batch(max(chunk, 1)):
      chunks.append(held)
      bar.update(int(held["log_mel"].nrows()))
  if not chunks:
    return None
  if len(chunks) == 1:
    return chunks[0]
  return {key: tf.concat([c[key] for c in chunks], axis=0) for key in chunks[0]}


def _store_folder(builder: tfds.core.DatasetBuilder, split: str, cache_dir: str) -> str:
  """A split's clip store in a `--cache_dir` folder, shared by labelled and unlabelled runs.

  History: session 55 gave each label key a tf.data cache file of its own (a
  pretext run and a supervised run on one folder had shared one, and the
  second stopped with "Type mismatch: actual int64 vs. expect float");
  session 56 made them clip stores ('<tag>_<split>_<label key>.clips'), one
  per label key; since session 57 one store per split holds the log-mels and
  each label key's labels beside them (`clip_store.labels`). Folders of the
  older layouts are never read and may be deleted.
  """
  tag = f"{builder.name}_{builder.builder_config.name if builder.builder_config else ''}"
  return os.path.join(cache_dir, f"{tag}_{split}".replace("/", "_") + ".clips")


def _none_long_enough(builder: tfds.core.DatasetBuilder, split: str,
                      min_frames: int) -> ValueError:
  return ValueError(f"{builder.name}/{split}: no clip lasts the {min_frames} log-mel frames the "
                    "task needs")


def task_dataset(sources: typing.Sequence[typing.Tuple[tfds.core.DatasetBuilder, str]],
                 make_examples: typing.Callable, min_frames: int,
                 params: params_lib.Params, *, batch_size: int, seed: int,
                 skip_counter: typing.Optional[SkipCounter] = None,
                 cache_dir: typing.Optional[str] = None,
                 label_key: typing.Optional[str] = None,
                 random_order: bool = False) -> tf.data.Dataset:
  """An endless, shuffled stream of batched pretext-task examples.

  Clips are drawn one by one (shuffled, pooled over the sources) and go to
  the task in batches: `make_examples` cuts the crops of a whole batch in one
  call (`sampling.ClipBatch`), and the augmentations run on the batch it
  returns. With the memory cache the stream of clips is a stream of indices
  into the log-mels of every clip, held in this process as one tensor, so no
  clip is copied to make a batch (docs/benchmark.md, "Crops cut per batch").

  Args:
    sources: (prepared builder, split) pairs pooled into one stream, each
      drawn in proportion to its number of clips.
    make_examples: task function (`sampling.ClipBatch`, params, seed [2]) ->
      batched (inputs, targets).
    min_frames: log-mel frames a clip needs for the task; shorter clips are
      skipped and counted in `skip_counter`.
    params: run parameters (features, task, train.shuffle_buffer, ...).
    batch_size: global batch size; the last partial batch is dropped.
    seed: seeds file order, shuffling, mixing and every batch's randomness.
    skip_counter: where skipped clips are counted.
    cache_dir: 'memory' computes the log-mels of every clip long enough for
      the task when this is called and holds them in RAM (raises ValueError
      when a source has none); with `random_order` (the tf.data service,
      which ships this pipeline's graph to its workers) each worker caches
      them with tf.data's memory cache instead. A folder keeps every clip's
      log-mels there, one file per clip, for any task of the same front end
      (a store per split, `_store_folder`), filled in one pass when this is
      called (`clip_store.fill`; a label key's labels are matched to it once,
      `clip_store.labels`); the stream is then one of clip indices,
      as with the memory cache, reading the clips each batch draws (tf.data
      service workers read them too, so they must see the same folder). None
      caches nothing.
    label_key: label to keep (supervised task).
    random_order: leave file order and shuffles unseeded (each iterator, e.g.
      each tf.data service worker, draws its own order); per-batch
      randomness still comes from `seed`.
  """
  order_seed = (lambda value: None) if random_order else (lambda value: value)
  hold = cache_dir == "memory" and not random_order

  def keep(x):  # long enough for the task (counted when a counter is given)
    enough = tf.shape(x["log_mel"])[0] >= min_frames
    return skip_counter.keep_if(enough) if skip_counter is not None else enough

  # A folder's store holds the log-mels and TFDS ids; labels join them by id.
  stored = bool(cache_dir) and cache_dir != "memory"
  streams, weights, held, held_count = [], [], [], 0
  for i, (builder, split) in enumerate(sources):
    ds = pipeline.clips(builder, split, label_key=None if stored else label_key, shuffle_files=True,
               seed=order_seed(seed + i), feature_params=params.features, with_ids=stored)
    ds = pipeline.concatenate_clips(ds, params.train.concat_clips, params.train.concat_mode,
                           features.num_samples(min_frames, params.features))
    ds = pipeline.log_mels(ds, params.features)
    read_clip = None  # a clip store's reader: index -> the clip's bytes
    # Recordings the stream gives: joining runs of clips makes fewer (the progress bars' total).
    recordings = builder.info.splits[split].num_examples
    if params.train.concat_clips > 1 and params.train.concat_mode == "join":
      recordings //= params.train.concat_clips
    if hold:
      # Filtered first: the length check runs once per clip, and only clips the task can
      # use are held. The stream is then one of indices into everything held.
      clips_held = _held_clips(ds.filter(keep), recordings, f"{builder.name}/{split}",
                               HOLD_CHUNK)
      if clips_held is None:
        raise _none_long_enough(builder, split, min_frames)
      held.append(clips_held)
      first, held_count = held_count, held_count + int(clips_held["log_mel"].nrows())
      ds = tf.data.Dataset.range(first, held_count)
    elif cache_dir == "memory":  # the tf.data service: each worker caches its own clips
      ds = ds.filter(keep).cache()
    elif stored:
      # A store is shared by every task of the same front end (`cache_key`), so it holds
      # every clip; the task's length check reads its index.
      folder = _store_folder(builder, split, cache_dir)
      store = clip_store.fill(ds, folder, f"{builder.name}/{split}", recordings)
      stored_labels = None if not label_key else clip_store.labels(
          folder, store, label_key,
          lambda: pipeline.label_pass(builder, split, [label_key], with_ids=True))
      enough = store["lengths"] >= min_frames
      if skip_counter is not None:
        skip_counter.count_once(enough)
      if not enough.any():
        raise _none_long_enough(builder, split, min_frames)
      read_clip = clip_store.read(folder, store, stored_labels)
      ds = tf.data.Dataset.from_tensor_slices(np.flatnonzero(enough).astype(np.int64))
    else:
      ds = ds.filter(keep)
    ds = ds.shuffle(params.train.shuffle_buffer, seed=order_seed(seed + i),
                    reshuffle_each_iteration=True)
    if read_clip is not None:  # only the clips drawn are read, after the shuffle
      ds = ds.map(read_clip, num_parallel_calls=pipeline.AUTOTUNE, deterministic=True)
    streams.append(ds.repeat())
    weights.append(float(builder.info.splits[split].num_examples))
  if len(streams) == 1:
    mixed = streams[0]
  else:
    mixed = tf.data.Dataset.sample_from_datasets(
        streams, weights=[w / sum(weights) for w in weights], seed=order_seed(seed))

  if hold:
    pool = tf.concat([h["log_mel"] for h in held], axis=0)
    frames, row_splits = pool.flat_values, tf.cast(pool.row_splits, tf.int32)
    starts, lengths = row_splits[:-1], row_splits[1:] - row_splits[:-1]
    labels = tf.concat([h["label"] for h in held], axis=0) if label_key else None

    def clip_batch(indices):
      return sampling.ClipBatch(frames, tf.gather(starts, indices), tf.gather(lengths, indices),
                                None if labels is None else tf.gather(labels, indices))

    batches = mixed.batch(batch_size, drop_remainder=True)
  elif stored:  # clip stores, one front end: one bins count
    def clip_batch(batch):
      return clip_store.clip_batch(batch, params.features.num_mel_bins)

    batches = mixed.batch(batch_size, drop_remainder=True)
  else:
    def clip_batch(batch):
      return sampling.ClipBatch.from_ragged(batch["log_mel"], batch.get("label"))

    batches = mixed.ragged_batch(batch_size, drop_remainder=True)

  def examples(index, batch):
    inputs, targets = make_examples(clip_batch(batch), params,
                                    tf.stack([tf.cast(seed, tf.int64), index]))
    if params.augment.enabled:
      # On the batch, so mixup can take its background from other clips of the pool.
      inputs = augment.augment_inputs(inputs, params,
                                      tf.stack([tf.cast(seed, tf.int64) + 1, index]))
    return inputs, targets

  ds = batches.enumerate().map(examples, num_parallel_calls=pipeline.AUTOTUNE, deterministic=True)
  # The held clips' index stream starts from `range`, not from `clips`: the autotuner
  # is switched off here for it too.
  return pipeline.without_autotune(ds.prefetch(pipeline.AUTOTUNE))
