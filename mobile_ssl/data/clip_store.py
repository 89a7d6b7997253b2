"""A `--cache_dir` folder's log-mels: one raw file per clip and an index, read by index.

A split's store is a folder of '<i>.f32' files, clip i's log-mel frames as
little-endian float32 [frames, bins], and 'index.npz' (each clip's frames
and TFDS id), written last: a store is complete when its index exists. A
label key's labels are kept beside it once a labelled run asked for them
(`labels`), so one store serves every task of its front end. `fill` writes it in one pass, one process at
a time (an exclusive `flock` on '<store>.fill.lock', which the kernel
releases when its process dies; a dead fill left no index, so the next one
writes every file again). A complete store is checked when it is opened:
every clip file must exist and hold its index's frames (a stat each, a few
milliseconds for thousands of clips). One deleted or cut short afterwards
(by hand, a disk cleaner, a full disk) would otherwise stop training
mid-epoch with TensorFlow's traceback; instead one line names it on stderr
and the store is filled again.

Training then streams clip indices, as from the memory cache: the length
check, the shuffle and the mixing of sources act on integers, and only the
clips a batch draws are read (`read`), then decoded as one padded tensor
(`clip_batch`). tf.data's own file cache, used before session 56, read every
clip whole through its shuffle buffer: 9.2-11.4 ms of CPU per batch of 64
five-second clips against 5-6 ms here (docs/benchmark.md, "A store of one
file per clip").
"""

import contextlib
import fcntl
import os
import sys
import typing
import zipfile

import numpy as np
import tensorflow as tf

from mobile_ssl.core import atomic
from mobile_ssl.core import progress
from mobile_ssl.core.tasks import sampling

INDEX = "index.npz"
_LABELS_PREFIX = "labels_"
# What reading an .npz that is missing, cut short or not ours raises.
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)
_DTYPE = np.dtype("<f4")


def _clip_name(i) -> str:
  return f"{i:08d}.f32"


@contextlib.contextmanager
def _exclusive(folder: str):
  """One process at a time writes a store (an flock the kernel drops when its holder dies)."""
  os.makedirs(folder, exist_ok=True)
  with open(folder.rstrip("/") + ".fill.lock", "a") as lock:
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def fill(ds: tf.data.Dataset, folder: str, desc: str = "",
         total: typing.Optional[int] = None) -> typing.Dict[str, np.ndarray]:
  """Writes `ds`'s clips ({'log_mel' [frames, bins], 'id'?}) to the store at `folder`.

  Unless the store is complete already. Returns its index: 'lengths' [n]
  int32 frames, 'bins' [], and 'ids' [n] (bytes) when the clips had TFDS
  ids, by which `labels` finds their labels. A progress bar counts the clips
  on a terminal, named `desc`, out of `total` when it is known.
  """
  index = os.path.join(folder, INDEX)
  if os.path.exists(index):
    arrays, damage = _open(folder)
    if not damage:
      return arrays
  with _exclusive(folder):
    if os.path.exists(index):  # complete, unless damaged (or filled by the one waited for)
      arrays, damage = _open(folder)
      if not damage:
        return arrays
      print(f"log-mel cache {folder}: {damage}; filling it again", file=sys.stderr, flush=True)
      os.remove(index)
    for name in os.listdir(folder):  # labels matched to the clips of an earlier fill
      if name.startswith(_LABELS_PREFIX):
        os.remove(os.path.join(folder, name))
    lengths, ids, bins = [], [], 0
    with progress.bar(desc=f"log-mel cache {desc}".rstrip(), total=total,
                      unit=" clips") as bar:
      for i, clip in enumerate(ds.as_numpy_iterator()):
        frames = np.asarray(clip["log_mel"], _DTYPE)
        frames.tofile(os.path.join(folder, _clip_name(i)))
        lengths.append(len(frames))
        bins = frames.shape[1]
        if "id" in clip:
          ids.append(clip["id"])
        bar.update(1)
    arrays = {"lengths": np.asarray(lengths, np.int32), "bins": np.asarray(bins, np.int32)}
    if ids:
      arrays["ids"] = np.asarray(ids, np.bytes_)
    atomic.write_arrays(index, arrays)
    return arrays


def labels(folder: str, store: typing.Mapping[str, np.ndarray], key: str,
           label_pass: typing.Callable[[], typing.Mapping[str, np.ndarray]]) -> np.ndarray:
  """Label `key` of each clip of a complete store [n] int64, made once per key and kept.

  One store of log-mels serves every label key and none: a key's labels are
  made by `label_pass()` ({'id': TFDS ids [m], key: labels [m]}, a pass over
  the split that decodes no audio), matched to the stored clips by id, and
  kept beside them ('labels_<key>.npz', removed when the store is filled
  again). Before session 57 each label key had a store of its own, so a
  supervised run after a pretext run on one folder computed and kept every
  log-mel twice.
  """
  if "ids" not in store:
    raise ValueError(f"{folder}: its clips are joined recordings (--concat_clips), which "
                     "carry no labels")
  path = os.path.join(folder, _LABELS_PREFIX + key.replace("/", "__") + ".npz")
  kept = _read_labels(path, len(store["ids"]))
  if kept is not None:
    return kept
  with _exclusive(folder):
    kept = _read_labels(path, len(store["ids"]))  # made by the process this one waited for
    if kept is not None:
      return kept
    found = label_pass()
    by_id = dict(zip(found["id"].tolist(), found[key].tolist()))
    missing = [i for i in store["ids"].tolist() if i not in by_id]
    if missing:
      raise ValueError(f"{folder}: {len(missing)} stored clips are not in the dataset's "
                       f"{key!r} labels (first: {missing[0].decode(errors='replace')}); "
                       "delete the store to fill it again")
    result = np.asarray([by_id[i] for i in store["ids"].tolist()], np.int64)
    atomic.write_arrays(path, {"labels": result})
    return result


def _read_labels(path: str, count: int) -> typing.Optional[np.ndarray]:
  try:
    kept = atomic.read_arrays(path)["labels"]
  except _UNREADABLE:
    return None  # not made yet, or unreadable: made again
  return kept if kept.shape == (count,) else None


def _open(folder: str) -> typing.Tuple[typing.Dict[str, np.ndarray], str]:
  """A complete store's index, and '' or what is wrong with its files."""
  try:
    arrays = atomic.read_arrays(os.path.join(folder, INDEX))
    lengths, bins = arrays["lengths"], int(arrays["bins"])
  except _UNREADABLE as e:  # an index cut short or not ours
    return {}, f"its {INDEX} is unreadable ({type(e).__name__})"
  damaged, first = 0, ""
  for i, frames in enumerate(lengths.tolist()):
    name = _clip_name(i)
    expected = frames * bins * _DTYPE.itemsize
    try:
      size = os.stat(os.path.join(folder, name)).st_size
    except FileNotFoundError:
      size = None
    if size != expected:
      damaged += 1
      first = first or (f"{name} is missing" if size is None
                        else f"{name} has {size} bytes, not {expected}")
  if damaged:
    return arrays, f"{damaged} of {len(lengths)} clip files damaged ({first})"
  return arrays, ""


def read(folder: str, store: typing.Mapping[str, np.ndarray],
         labels: typing.Optional[np.ndarray] = None) -> typing.Callable:
  """A map from a clip index to {'raw': its file's bytes, 'length' [] int32, 'label'? []}.

  `labels`: each clip's label (`labels`), or None for a stream without. The
  file names are made in the graph, so a tf.data service worker (which runs
  this graph) needs no list of them, only the same folder.
  """
  lengths = tf.constant(store["lengths"])
  labels = None if labels is None else tf.constant(np.asarray(labels, np.int64))
  prefix = folder.rstrip("/") + "/"

  def read_clip(i):
    name = tf.strings.join([prefix, tf.strings.as_string(i, width=8, fill="0"), ".f32"])
    out = {"raw": tf.io.read_file(name), "length": tf.gather(lengths, i)}
    if labels is not None:
      out["label"] = tf.gather(labels, i)
    return out

  return read_clip


def clip_batch(batch: dict, bins: int) -> sampling.ClipBatch:
  """A batch of `read`'s elements as a `ClipBatch`: the clips decoded into one tensor.

  Each clip's bytes are decoded zero-padded to the batch's longest clip
  [B * longest, bins]; clip b starts at row b * longest.
  """
  lengths = batch["length"]
  longest = tf.reduce_max(lengths)
  frames = tf.reshape(tf.io.decode_raw(batch["raw"], tf.float32, little_endian=True,
                                       fixed_length=longest * bins * _DTYPE.itemsize),
                      [-1, bins])
  starts = tf.range(tf.size(lengths), dtype=tf.int32) * longest
  return sampling.ClipBatch(frames, starts, lengths, batch.get("label"))
