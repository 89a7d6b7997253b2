"""How data streams: TFDS split or audio folder -> log-mel -> slices or task examples.

All of the hot path is TensorFlow ops mapped in parallel (`AUTOTUNE`), with
order kept (`deterministic=True`) and every random choice drawn by stateless
ops from a per-element (task examples: per-batch) seed, so a pipeline is
reproducible under `seed`.
Only non-16 kHz catalog datasets go through a NumPy resampler
(`tf.numpy_function`); our own builders store 16 kHz already.

Short clips: a clip shorter than one 975 ms slice is zero-padded to one slice
(`features.pad_to_slice`). Tasks that need more frames than a clip has skip it;
`task_dataset` counts those in `SkipCounter`.
"""

import dataclasses
import hashlib
import os
import typing

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow.python.util import deprecation  # silence(): TFDS's own deprecated op

from mobile_ssl.core import audio
from mobile_ssl.core import augment
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import progress
from mobile_ssl.core.tasks import sampling
from mobile_ssl.data import clip_store

AUTOTUNE = tf.data.AUTOTUNE


def without_autotune(ds: tf.data.Dataset) -> tf.data.Dataset:
  """`ds` with tf.data's autotuner off; every stream here starts with it (`clips`).

  Options reach every dataset built on `ds`, so the two roots (`clips` and
  the label pass, `downstream.clip_labels_many`) switch it off for all of
  training, the probe's embedding pass and the export's passes. Two reasons:
    * Deleting an autotuned iterator waits for the autotuner's thread, which
      sleeps between rounds for up to 60 s and is not woken: the quickstart's
      pretrain and supervised stages sat idle for 29-44 s at their ends, and
      `bench/iterator_teardown.py` saw 600-step pretraining runs take 148 s
      twice in four with the autotuner on (102 and 107 s otherwise), never
      with it off (106, 109 s) (docs/evaluation.md, "Idle at the end of every
      training run").
    * Its timings are taken while the model's ops hold the cores, and there
      it sometimes settled in a state where the probe's embedding pass of the
      quickstart's encoders ran 40 % slower: 20.7-20.8 s in 3 of 5 passes
      with it, 14.6-15.1 s in all 5 without (docs/evaluation.md, "One graph
      for a pass's encoders, and tf.data's autotuner off").
  Off, each `AUTOTUNE` map and buffer keeps a fixed size. The elements and
  their order are the same either way (every map keeps its order).
  """
  options = tf.data.Options()
  options.autotune.enabled = False
  return ds.with_options(options)


def nested(example: dict, key: str):
  """A feature by its '/'-separated key: 'instrument/family' -> example['instrument']['family']."""
  for part in key.split("/"):
    example = example[part]
  return example


def clips(builder: tfds.core.DatasetBuilder, split: str, *,
          label_key: typing.Optional[str] = None, audio_key: str = "audio",
          shuffle_files: bool = False, seed: int = 0,
          feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
          with_ids: bool = False) -> tf.data.Dataset:
  """Clips of a prepared TFDS split as {'waveform': float32 [n] at 16 kHz, 'label'?, 'id'?}.

  Integer audio is scaled by 1/32768 (TFDS stores 16-bit PCM, sometimes as
  int64); float audio is used as it is. tf.data's autotuner is off for this
  stream and all built on it (`without_autotune`). `with_ids`: each clip's
  TFDS id (a string unique in the dataset), by which `label_pass`'s labels
  are matched to clips read in another order.
  """
  info = builder.info
  if audio_key not in info.features.keys():
    raise ValueError(f"dataset {builder.name!r} has no audio feature {audio_key!r}")
  audio_feature = info.features[audio_key]
  rate = getattr(audio_feature, "sample_rate", None) or feature_params.sample_rate_hz
  is_int = np.issubdtype(audio_feature.np_dtype, np.integer)
  read_config = tfds.ReadConfig(shuffle_seed=seed, try_autocache=False, add_tfds_id=with_ids)
  with deprecation.silence():  # TFDS makes ids with a deprecated op: see `label_pass`
    ds = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config)
  target = feature_params.sample_rate_hz

  def convert(example):
    waveform = tf.cast(example[audio_key], tf.float32)
    if is_int:
      waveform = waveform / audio.INT16_SCALE
    if len(waveform.shape) == 2:  # [samples, channels] -> mono
      waveform = tf.reduce_mean(waveform, axis=-1)
    if rate != target:
      waveform = tf.numpy_function(lambda w: audio.resample(w, rate, target), [waveform],
                                   tf.float32, stateful=False)
      waveform.set_shape([None])
    out = {"waveform": waveform}
    if label_key:
      out["label"] = tf.cast(nested(example, label_key), tf.int64)
    if with_ids:
      out["id"] = example["tfds_id"]
    return out

  return without_autotune(ds.map(convert, num_parallel_calls=AUTOTUNE, deterministic=True))


def label_pass(builder: tfds.core.DatasetBuilder, split: str, label_keys: typing.Sequence[str],
               audio_key: str = "audio", with_ids: bool = False) -> typing.Dict[str, np.ndarray]:
  """{label key: int64 labels [clips]} of a split, in `clips`' unshuffled order.

  The audio is not decoded, so this is a fast pass even over a large split
  (FSDD's 2,700 train clips with ids: 0.3 s). `with_ids`: also 'id', each
  clip's TFDS id (`clips(with_ids=True)`). TFDS 4.9 makes the ids with
  `tf.data.experimental.Counter`, and TensorFlow then logs a deprecation
  warning about TFDS's own code in every run; it is silenced here.
  """
  keys = list(dict.fromkeys(label_keys))
  with deprecation.silence():
    ds = builder.as_dataset(split=split, shuffle_files=False,
                            read_config=tfds.ReadConfig(try_autocache=False,
                                                        add_tfds_id=with_ids),
                            decoders={audio_key: tfds.decode.SkipDecoding()})

  def pick(example):
    out = {k: tf.cast(nested(example, k), tf.int64) for k in keys}
    if with_ids:
      out["id"] = example["tfds_id"]
    return out

  batches = list(without_autotune(ds.map(pick)).batch(4096).as_numpy_iterator())
  empty = {k: np.zeros(0, np.int64) for k in keys} | ({"id": np.zeros(0, "S1")} if with_ids
                                                       else {})
  return {k: np.concatenate([b[k] for b in batches]) for k in empty} if batches else empty


def concatenate_clips(ds: tf.data.Dataset, count: int, mode: str = "join",
                      min_samples: int = 0) -> tf.data.Dataset:
  """Joins each run of `count` consecutive clips into one longer recording.

  For pretraining on corpora of very short clips (FSDD's are ~0.5 s): with
  shuffled input the joined clips are random neighbours. Labels are dropped.
  `mode` 'loop': each clip repeated instead, one recording per clip, so every
  slice of a context is cut from the same sound: `count` times, or as many
  as it takes to reach `min_samples` (a task's context; a shorter clip
  would be dropped, and dropping the short ones would bias the pool).
  """
  if count <= 1:
    return ds
  if mode == "loop":
    def loop(x):
      length = tf.maximum(tf.shape(x["waveform"])[0], 1)
      times = tf.maximum(count, -(-min_samples // length))
      return {"waveform": tf.tile(x["waveform"], [times])}
    return ds.map(loop, num_parallel_calls=AUTOTUNE)
  waveforms = ds.map(lambda x: x["waveform"])
  joined = waveforms.ragged_batch(count, drop_remainder=True)

  def flatten(batch):  # ragged for clips of varying length, dense otherwise
    flat = batch.flat_values if isinstance(batch, tf.RaggedTensor) else tf.reshape(batch, [-1])
    return {"waveform": flat}

  return joined.map(flatten, num_parallel_calls=AUTOTUNE)


def log_mels(ds: tf.data.Dataset, feature_params: params_lib.FeatureParams) -> tf.data.Dataset:
  """{'waveform', ...} -> {'log_mel': [frames, bins], ...}, short clips padded."""

  def compute(example):
    out = {k: v for k, v in example.items() if k != "waveform"}
    waveform = features.pad_to_slice(example["waveform"], feature_params)
    out["log_mel"] = features.log_mel_spectrogram(waveform, feature_params)
    return out

  return ds.map(compute, num_parallel_calls=AUTOTUNE, deterministic=True)


def cache(ds: tf.data.Dataset, cache_path: typing.Optional[str]) -> tf.data.Dataset:
  """Caches in memory ('memory') or not at all (None/'').

  A training stream's folder cache is a clip store (`clip_store`,
  `task_dataset`), not a cache of this stream.
  """
  if not cache_path:
    return ds
  if cache_path != "memory":
    raise ValueError(f"cache_path must be 'memory' or empty, got {cache_path!r} (a folder "
                     "caches training streams: task_dataset's cache_dir)")
  return ds.cache()


def cache_key(params: params_lib.Params) -> str:
  """A folder name for on-disk log-mel caches: the front end and the clip joining.

  The cached log-mels depend on nothing else, so a folder cache is reused by
  every run with the same front end, and a changed front end never reads it.
  """
  # A looped clip is repeated to the task's context, so the task is part of it.
  joining = (params.train.concat_clips,) + ((
      params.train.concat_mode, dataclasses.asdict(params.task))
      if params.train.concat_mode != "join" else ())
  digest = hashlib.sha1(repr((dataclasses.asdict(params.features),) + joining
                             ).encode()).hexdigest()[:12]
  loop = "_loop" if params.train.concat_mode == "loop" else ""
  return f"logmel_{digest}_concat{params.train.concat_clips}{loop}"


def slices(ds: tf.data.Dataset, feature_params: params_lib.FeatureParams,
           hop_seconds: float = 0.5) -> tf.data.Dataset:
  """Clip log-mels -> one element per 975 ms slice, in clip order.

  Each element: {'log_mel': [96, 64], 'timestamp': centre in s, 'clip': clip
  index, 'label'?}. Clips were padded to at least one slice by `log_mels`.
  The one cut of log-mel windows: training, fine-tuning and the probe's
  embedding pass (`window_embeddings`) all take their windows from here. Each
  clip is cut in a parallel map and `unbatch` (a C++ loop) splits the slices.
  """
  features.hop_frames(hop_seconds, feature_params)  # Validates the hop.

  def cut(index, example):
    frames, stamps = features.frame_log_mel(example["log_mel"], hop_seconds, feature_params)
    count = tf.shape(frames)[0]
    out = {"log_mel": frames, "timestamp": stamps, "clip": tf.fill([count], index)}
    if "label" in example:
      out["label"] = tf.fill([count], example["label"])
    return out

  return ds.enumerate().map(cut, num_parallel_calls=AUTOTUNE, deterministic=True).unbatch()


def waveform_windows(builder: tfds.core.DatasetBuilder, split: str,
                     feature_params: params_lib.FeatureParams, hop_seconds: float,
                     audio_key: str = "audio") -> typing.Iterator[np.ndarray]:
  """Per clip of a split, in clip order: its waveform windows [k, slice_samples] float32.

  Cut by `features.frame_waveform`, as `Embedder.embed` cuts a file; the
  same windows as `slices` cuts from the clip's log-mel. For what takes
  waveform windows: a .tflite with waveform input, int8 calibration and
  export validation.
  """
  ds = clips(builder, split, audio_key=audio_key, feature_params=feature_params)
  for clip in ds.as_numpy_iterator():
    yield features.frame_waveform(clip["waveform"], hop_seconds, feature_params)[0]


def slice_dataset(builder: tfds.core.DatasetBuilder, split: str, *, batch_size: int,
                  feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
                  hop_seconds: float = 0.5, label_key: typing.Optional[str] = None,
                  audio_key: str = "audio", cache_path: typing.Optional[str] = None,
                  shuffle_buffer: int = 0, seed: int = 0) -> tf.data.Dataset:
  """A TFDS split or built folder as batched log-mel slices.

  Returns:
    dicts of batched 'log_mel' [B, 96, 64], 'timestamp' [B], 'clip' [B] and
    'label' [B] when `label_key` is given; the last batch may be smaller.
  """
  ds = clips(builder, split, label_key=label_key, audio_key=audio_key, seed=seed,
             feature_params=feature_params)
  ds = cache(log_mels(ds, feature_params), cache_path)
  ds = slices(ds, feature_params, hop_seconds)
  if shuffle_buffer:
    ds = ds.shuffle(shuffle_buffer, seed=seed)
  return ds.batch(batch_size).prefetch(AUTOTUNE)


def clip_samples(builder: tfds.core.DatasetBuilder, split: str,
                 feature_params: params_lib.FeatureParams, sample: int = 200) -> typing.List[int]:
  """Samples (at the front end's rate, before any padding) of the first `sample` clips."""
  ds = clips(builder, split, feature_params=feature_params)
  return [int(n) for n in ds.take(sample).map(lambda x: tf.shape(x["waveform"])[0])
          .as_numpy_iterator()]


def sample_frames(builder: tfds.core.DatasetBuilder, split: str, params: params_lib.Params,
                  sample: int = 200, min_frames: int = 0) -> typing.List[int]:
  """Log-mel frames of the first `sample` clips (after padding and `concat_clips`).

  `min_frames`: the task's, which a looped clip is repeated to reach.
  """
  ds = concatenate_clips(clips(builder, split, feature_params=params.features),
                         params.train.concat_clips, params.train.concat_mode,
                         features.num_samples(min_frames, params.features))
  slice_samples = params.features.slice_samples
  lengths = ds.take(sample).map(lambda x: tf.maximum(tf.shape(x["waveform"])[0], slice_samples))
  return [int(features.num_frames(n, params.features)) for n in lengths.as_numpy_iterator()]


def long_enough(builder: tfds.core.DatasetBuilder, split: str, min_frames: int,
                params: params_lib.Params, sample: int = 200) -> typing.Tuple[int, int]:
  """(clips long enough for a task, clips examined) among the first `sample`.

  A task stream whose clips are all too short would wait forever for an
  example; the training CLI checks each source with this first.
  """
  frames = sample_frames(builder, split, params, sample, min_frames)
  return sum(f >= min_frames for f in frames), len(frames)


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
    ds = clips(builder, split, label_key=None if stored else label_key, shuffle_files=True,
               seed=order_seed(seed + i), feature_params=params.features, with_ids=stored)
    ds = concatenate_clips(ds, params.train.concat_clips, params.train.concat_mode,
                           features.num_samples(min_frames, params.features))
    ds = log_mels(ds, params.features)
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
          lambda: label_pass(builder, split, [label_key], with_ids=True))
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
      ds = ds.map(read_clip, num_parallel_calls=AUTOTUNE, deterministic=True)
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

  ds = batches.enumerate().map(examples, num_parallel_calls=AUTOTUNE, deterministic=True)
  # The held clips' index stream starts from `range`, not from `clips`: the autotuner
  # is switched off here for it too.
  return without_autotune(ds.prefetch(AUTOTUNE))
