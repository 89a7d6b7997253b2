"""Every 975 ms window of a split, embedded once per encoder and cached on disk.

The one embedding pass of the linear probe: `embed_split` (one encoder, Keras
or .tflite) and `keras_windows_many` (several Keras encoders in one pass, for
mobile-ssl-eval). mobile-ssl-eval, the export's probe check, the quickstart's
probe stage and the classifier export all come through here, so their
windows, labels and clip ids are the same. Built for throughput (docs/evaluation.md,
"Embedding throughput", has the measurements):
  * each clip's log-mel is computed once, in parallel tf.data maps, and its
    windows are cut from it (`pipeline.slices`) and re-batched by
    `unbatch().batch()`, a C++ loop, instead of one small dataset per clip;
  * the encoders run on `BATCH_WINDOWS` windows per call, BN folded into the
    convs, all of a pass in one traced graph (`inference.joint_embed_function`),
    while tf.data prepares the next batch;
  * embeddings do not depend on the label: a split is embedded once per
    encoder and every label task of that dataset reuses it (`evaluate` keeps
    them in memory; `cache_dir` keeps them on disk, keyed by the encoder's
    checksum (weights and front end), the dataset, split and hop), and labels
    are attached from the task's per-clip labels (`TaskData.split_labels`,
    in the same clip order as `pipeline.clips`);
  * the cache files are written by one background thread while the next
    pass or the probe fits run (`wait_for_cache_writes`).
Window runners (`mobile_ssl.export.tflite_embedder.TFLiteEmbedder`) are not cached: they get
the same windows, as log-mel or as waveform frames (`pipeline.waveform_windows`),
one invoke per window, `RUNNER_BATCH_WINDOWS` windows per call; with a window
stride (the export's probe check) only the kept windows are run.
"""

import collections
from concurrent import futures
import dataclasses
import hashlib
import json
import os
import threading
import typing

import keras
import numpy as np
import tensorflow as tf

from mobile_ssl.core import atomic
from mobile_ssl.core import inference
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import progress
from mobile_ssl.data import downstream
from mobile_ssl.data import pipeline
from mobile_ssl.evaluation import probe

# Windows per encoder call; the last batch of a split is smaller. The embeddings are
# the same to the bit at any size. Timed on batches already in memory, 1,024 was a
# few % faster than 256 (docs/evaluation.md, "One graph for a pass's encoders"). But
# the real pass computes the log-mels on the same cores, and a fresh process's first
# call at 1,024 costs about 1.7 s more than the next. In fresh processes the
# quickstart's probe stage took 2.8 s less at 256 (six alternating pairs of
# bench/probe_stage.py). Inside the quickstart, after its training, no difference
# showed ("Smaller batches for the probe's pass", session 43). A batch's log-mel is 6 MB.
BATCH_WINDOWS = 256
_FILE_PREFIX = "windows_"
# Windows per call of a window runner (a .tflite, one invoke per window): its
# workers split each call, so a call of one clip's 2-8 windows left a core idle.
RUNNER_BATCH_WINDOWS = 64

# Cache files not yet on disk: path -> the background write's future. Writing
# the quickstart's eight split files (450 MB of .npz) took about 1 s in the
# main thread, with the other core idle (docs/evaluation.md, "What is left in
# the encoders' time").
_pending_writes: typing.Dict[str, futures.Future] = {}
_pending_lock = threading.Lock()
_writer: typing.Optional[futures.ThreadPoolExecutor] = None


def _write_later(path: str, arrays: dict) -> None:
  """Hands a cache file to the writer thread (atomic: readers see all of it or nothing)."""
  global _writer
  with _pending_lock:
    if _writer is None:
      _writer = futures.ThreadPoolExecutor(1, thread_name_prefix="embedding_cache_writer")
    _pending_writes[path] = _writer.submit(atomic.write_arrays, path, arrays)


def _wait_for(paths: typing.Iterable[str], raise_errors: bool = True) -> None:
  """Waits for the pending writes of `paths`, all of them; raises the first one's error.

  `raise_errors` False: a failed write is only a missing file (a cache miss).
  """
  with _pending_lock:
    pending = [_pending_writes.pop(p) for p in paths if p in _pending_writes]
  errors = [e for e in (future.exception() for future in pending) if e is not None]
  if errors and raise_errors:
    raise errors[0]


def wait_for_cache_writes() -> None:
  """Blocks until every embedding cache file handed to the writer is on disk.

  Raises the first write's error (a full disk, say). `suite.evaluate` calls it
  before it returns (`embed_split` writes its file itself); a process that
  never waits still writes them all before it exits (Python joins the writer
  thread at exit).
  """
  with _pending_lock:
    paths = list(_pending_writes)
  _wait_for(paths)


def fingerprint(model: keras.Model, feature_params: params_lib.FeatureParams) -> str:
  """A hash of the architecture, the weights and the front end: what an embedding depends on.

  The architecture counts because pooling has no weights: the same weights
  pooled over 3 or 5 blocks (`--pool_blocks`), or an untrained encoder of
  either, would otherwise share a key and be served each other's windows.
  """
  digest = hashlib.sha1(repr(dataclasses.asdict(feature_params)).encode())
  digest.update(model.name.encode())  # logmel_stats has no weights to tell it apart
  try:
    digest.update(json.dumps(model.get_config(), sort_keys=True, default=repr).encode())
  except (NotImplementedError, TypeError):  # a subclassed model (logmel_stats): its class
    digest.update(type(model).__qualname__.encode())
  for weight in model.weights:
    digest.update(weight.path.encode())
    digest.update(np.ascontiguousarray(weight.numpy()).tobytes())
  return digest.hexdigest()


def split_key(task: downstream.TaskData, split: str, hop_seconds: float) -> str:
  """What a split's windows depend on besides the encoder: dataset, version, split, hop.

  Not the label: `FOLDER:digit` and `FOLDER:speaker` share it. A folder's
  builder config names its path and grouping, so `@speaker` splits differ.
  """
  builder = task.builder
  config = builder.builder_config.name if builder.builder_config else ""
  return repr((builder.name, config, str(builder.version), split, task.spec.audio_key,
               float(hop_seconds)))


def cache_path(cache_dir: str, encoder_fingerprint: str, key: str) -> str:
  name = hashlib.sha1(f"{encoder_fingerprint} {key}".encode()).hexdigest()[:20]
  return os.path.join(cache_dir, f"{_FILE_PREFIX}{name}.npz")


def log_mel_windows(task: downstream.TaskData, split: str, fp: params_lib.FeatureParams,
                    hop_seconds: float) -> tf.data.Dataset:
  """Batches {'log_mel' [B, frames, bins] float32, 'clip' [B] int64, 'timestamp'} of a split.

  `pipeline.slice_dataset`'s windows (same padding, log-mel and framing,
  `pipeline.slices`), without labels and in larger batches, read beside the
  encoders (with tf.data's autotuner off, as every stream from `pipeline.clips`).
  In batches of `BATCH_WINDOWS`, read when called (bench/probe_stage.py
  --batch_windows sets it to time other sizes on the same runs).
  """
  ds = pipeline.clips(task.builder, split, audio_key=task.spec.audio_key, feature_params=fp)
  ds = pipeline.slices(pipeline.log_mels(ds, fp), fp, hop_seconds)
  return ds.batch(BATCH_WINDOWS).prefetch(pipeline.AUTOTUNE)


def _run_all(run: typing.Callable, batches: typing.Iterable, num_clips: int,
             desc: str) -> typing.List[dict]:
  """One pass over (inputs, clips) batches; `run(inputs)` gives a list of embeddings of them.

  Returns:
    per item of `run`'s list, {'embeddings' [n, d] float32, 'clips' [n] int64}.
  """
  embeddings, clips = None, []
  with progress.bar(total=num_clips, desc=desc, unit="clip") as bar:
    for inputs, clip in batches:
      results = run(inputs)
      embeddings = embeddings or [[] for _ in results]
      for result, out in zip(results, embeddings):
        out.append(np.asarray(result, np.float32))
      clips.append(np.asarray(clip, np.int64))
      bar.update(int(clips[-1][-1]) + 1 - bar.n)
  if not clips:
    raise ValueError(f"the split has no audio ({desc})")
  clips = np.concatenate(clips)
  return [{"embeddings": np.concatenate(e), "clips": clips} for e in embeddings]


def keras_windows_many(encoders: typing.Sequence[keras.Model],
                       feature_params: params_lib.FeatureParams, task: downstream.TaskData,
                       split: str, hop_seconds: float, cache_dir: str = "",
                       desc: str = "embed", write_later: bool = True) -> typing.List[dict]:
  """Label-free embeddings of a split by several Keras encoders, in one pass over the audio.

  The encoders share the front end (`feature_params`), so each batch of
  log-mel windows is decoded and computed once and fed to every encoder not
  found in the cache. `write_later`: new cache files go to the writer thread
  (`wait_for_cache_writes`); False: they are on disk when this returns.

  Returns:
    per encoder, {'embeddings' [n, d] float32, 'clips' [n] int64, 'cached': bool}.
  """
  key = split_key(task, split, hop_seconds)
  prints = [fingerprint(e, feature_params) for e in encoders]
  paths = [cache_path(cache_dir, p, key) if cache_dir else "" for p in prints]
  results: typing.List[typing.Optional[dict]] = [None] * len(encoders)
  # Written earlier in this process: read it, don't embed again. A failed
  # write is a miss here; its error went to whoever waited for it.
  _wait_for(paths, raise_errors=False)
  for i, path in enumerate(paths):
    if path and os.path.exists(path):
      cached = atomic.read_arrays(path)
      results[i] = {"embeddings": cached["embeddings"], "clips": cached["clips"],
                    "cached": True}
  todo = [i for i, r in enumerate(results) if r is None]
  if todo:
    joint = inference.joint_embed_function([encoders[i] for i in todo], feature_params,
                                           [prints[i] for i in todo])
    batches = ((b["log_mel"], b["clip"]) for b in log_mel_windows(
        task, split, feature_params, hop_seconds).as_numpy_iterator())
    outs = _run_all(lambda x: [e.numpy() for e in joint(x)], batches,
                    len(task.split_labels(split)), desc)
    for i, out in zip(todo, outs):
      if paths[i] and write_later:
        _write_later(paths[i], out)
      elif paths[i]:
        atomic.write_arrays(paths[i], out)
      results[i] = out | {"cached": False}
  return results


def _check_stride(stride: int) -> int:
  if stride < 1:
    raise ValueError(f"a window stride must be >= 1, got {stride}")
  return stride


def _kept(clips: np.ndarray, stride: int, seen: collections.Counter) -> np.ndarray:
  """Mask of the windows kept: a clip's 1st, (stride+1)th, ... window, counted in the
  order given; `seen` holds each clip's windows counted so far (across batches)."""
  keep = np.zeros(len(clips), bool)
  for i, clip in enumerate(np.asarray(clips).tolist()):
    keep[i] = seen[clip] % stride == 0
    seen[clip] += 1
  return keep


def every_nth_window(windows: dict, stride: int) -> dict:
  """Each clip's windows 0, stride, 2 x stride, ...: the hop times `stride`, and every
  clip keeps its first window, so no clip is lost.

  The export's probe check (`--probe_window_stride`) fits its two probes on
  these; the arrays of `windows` that hold one row per window are cut, the
  rest is kept.
  """
  if _check_stride(stride) == 1:
    return windows
  clips = np.asarray(windows["clips"])
  keep = _kept(clips, stride, collections.Counter())
  return {k: v[keep] if isinstance(v, np.ndarray) and v.shape[:1] == clips.shape else v
          for k, v in windows.items()}


def _strided(batches: typing.Iterable, stride: int) -> typing.Iterator:
  """(inputs, clips) batches -> the rows `every_nth_window` keeps, before they are run
  (a clip's windows may span batches)."""
  seen = collections.Counter()
  for inputs, clips in batches:
    keep = _kept(clips, stride, seen)
    if keep.any():
      yield inputs[keep], clips[keep]


def _rebatched(batches: typing.Iterable, size: int) -> typing.Iterator:
  """(inputs, clips) batches -> the same rows in order, `size` or more per batch (the last
  may be smaller): a runner's workers share each call's windows, and a waveform split
  comes one clip (a few windows) at a time."""
  inputs, clips, count = [], [], 0
  for x, c in batches:
    inputs.append(x)
    clips.append(c)
    count += len(c)
    if count >= size:
      yield np.concatenate(inputs), np.concatenate(clips)
      inputs, clips, count = [], [], 0
  if count:
    yield np.concatenate(inputs), np.concatenate(clips)


def _runner_windows(runner, fp: params_lib.FeatureParams, task: downstream.TaskData, split: str,
                    hop_seconds: float, desc: str = "embed", window_stride: int = 1) -> dict:
  """`keras_windows_many` for a window runner (`input_kind`, `run(inputs [n, ...]) -> [n, d]`);
  with `window_stride` > 1 only `every_nth_window`'s windows are run."""
  kind = getattr(runner, "input_kind", None)
  if kind == "log_mel":
    batches = ((b["log_mel"][..., None], b["clip"]) for b in log_mel_windows(
        task, split, fp, hop_seconds).as_numpy_iterator())
  elif kind == "waveform":
    batches = ((frames, np.full(len(frames), index, np.int64))
               for index, frames in enumerate(pipeline.waveform_windows(
                   task.builder, split, fp, hop_seconds, task.spec.audio_key)))
  else:
    raise ValueError(f"cannot embed with {type(runner).__name__}: not a Keras encoder, and its "
                     f"input_kind {kind!r} is neither 'log_mel' nor 'waveform'")
  if window_stride > 1:
    batches = _strided(batches, window_stride)
  out, = _run_all(lambda x: [runner.run(x)], _rebatched(batches, RUNNER_BATCH_WINDOWS),
                  len(task.split_labels(split)), desc)
  return out | {"cached": False}


def embed_split(encoder, feature_params: params_lib.FeatureParams, task: downstream.TaskData,
                split: str, hop_seconds: float, cache_dir: str = "",
                desc: str = "embed", window_stride: int = 1) -> dict:
  """Frozen embeddings of every window of a split, with labels; from the cache when present.

  Args:
    encoder: a Keras encoder (log-mel [B, 96, 64, 1] -> [B, d]), or a window
      runner such as `mobile_ssl.export.tflite_embedder.TFLiteEmbedder`: an object with
      `input_kind` ('log_mel' | 'waveform') and `run(inputs [n, ...]) -> [n, d]`.
      A log-mel runner gets the very log-mel windows the Keras encoder gets;
      a waveform runner gets each window's audio (the same windows, cut by
      `features.frame_waveform`). Only Keras encoders are cached.
    feature_params: the run's front end.
    hop_seconds: the hop between windows (mobile-ssl-eval's `EvalParams.hop_seconds`).
    window_stride: only `every_nth_window`'s windows (1: all). A runner runs
      only those; a Keras encoder's are cut from its whole (cached) split.

  Returns:
    {'embeddings' [n, d] float32, 'labels' [n] int64 (dataset values),
     'clips' [n] int64 (clip index in the split), 'cached': bool}.
  """
  if isinstance(encoder, keras.Model):
    # Its file is on disk when this returns, as before the writer thread.
    out = every_nth_window(keras_windows_many([encoder], feature_params, task, split,
                                              hop_seconds, cache_dir, desc,
                                              write_later=False)[0], window_stride)
  else:
    _check_stride(window_stride)
    out = _runner_windows(encoder, feature_params, task, split, hop_seconds, desc, window_stride)
  return with_labels(out, task, split)


def with_labels(windows: dict, task: downstream.TaskData, split: str) -> dict:
  """Adds 'labels' [n] int64 (dataset label values of each window's clip) for `task`."""
  return dict(windows, labels=task.split_labels(split)[windows["clips"]])


def clip_means(windows: dict) -> dict:
  """Each clip's mean window embedding: one row per clip, in clip id order.

  What `EvalParams.probe_on='clips'` fits and scores the probe on (the clip
  embedding of HEAR's scene tasks and of BYOL-A's evaluation) instead of every
  window. Keys: 'embeddings' [clips, d] float32, 'clips' [clips] (the ids), and
  'labels' (the clip's label) when `windows` has them.
  """
  clips = np.asarray(windows["clips"])
  if len(clips) == 0:
    raise ValueError("no windows to average")
  ids, summed, counts = probe.sum_by_clip(np.asarray(windows["embeddings"]), clips)
  out = {"embeddings": (summed / counts[:, None]).astype(np.float32), "clips": ids}
  if "labels" in windows:
    out["labels"] = np.asarray(windows["labels"])[np.unique(clips, return_index=True)[1]]
  return out
