"""How data streams: TFDS split or audio folder -> log-mel -> 975 ms windows.

The training examples built on these streams: `task_stream`.

All of the hot path is TensorFlow ops mapped in parallel (`AUTOTUNE`), with
order kept (`deterministic=True`) and every random choice drawn by stateless
ops from a per-element (task examples: per-batch) seed, so a pipeline is
reproducible under `seed`.
Only non-16 kHz catalog datasets go through a NumPy resampler
(`tf.numpy_function`); our own builders store 16 kHz already.

Short clips: a clip shorter than one 975 ms slice is zero-padded to one slice
(`features.pad_to_slice`). Tasks that need more frames than a clip has skip it;
the task stream (`task_stream.task_dataset`) counts those in its
`SkipCounter`.
"""

import dataclasses
import hashlib
import typing

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow.python.util import deprecation  # silence(): TFDS's own deprecated op

from mobile_ssl.core import audio
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib

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
  `task_stream.task_dataset`), not a cache of this stream.
  """
  if not cache_path:
    return ds
  if cache_path != "memory":
    raise ValueError(f"cache_path must be 'memory' or empty, got {cache_path!r} (a folder "
                     "caches training streams: task_stream.task_dataset's cache_dir)")
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
