"""Tests of mobile_ssl.data.clip_store: a folder of one file per clip, filled once, read by index."""

import concurrent.futures
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.data import clip_store


def _clips(count=300, produced=None):
  """Clip i: (5 + i % 7) frames of 3 bins, all equal to i; id b'clip-<i>'."""
  def make(i):
    if produced is not None:
      tf.py_function(lambda: produced.append(1) or 0, [], tf.int32)
    frames = tf.fill([5 + i % 7, 3], tf.cast(i, tf.float32))
    return {"log_mel": frames, "id": tf.strings.join(["clip-", tf.strings.as_string(i)])}
  return tf.data.Dataset.range(count).map(make)


def _label_pass(count=300, calls=None):
  """The dataset's labels in another order than the store's: clip i's label is i % 4."""
  def run():
    if calls is not None:
      calls.append(1)
    order = np.random.default_rng(0).permutation(count)
    return {"id": np.asarray([f"clip-{i}".encode() for i in order]), "event": order % 4}
  return run


_DIE_WHILE_FILLING = """
import os, sys
import tensorflow as tf
from mobile_ssl.data import clip_store
def die(i):
  return tf.cond(i < 150, lambda: i, lambda: tf.py_function(lambda: os._exit(0), [], tf.int64))
ds = tf.data.Dataset.range(300).map(die).map(
    lambda i: {"log_mel": tf.fill([5 + i % 7, 3], tf.cast(i, tf.float32))})
clip_store.fill(ds, sys.argv[1])
"""


def _read_all(folder, store, indices, labels=None):
  ds = tf.data.Dataset.from_tensor_slices(np.asarray(indices, np.int64)).map(
      clip_store.read(folder, store, labels)).batch(len(indices))
  batch = clip_store.clip_batch(next(iter(ds)), int(store["bins"]))
  return [batch.frames[s:s + n].numpy() for s, n in zip(batch.starts.numpy(),
                                                         batch.lengths.numpy())], batch.labels


def test_a_store_reads_back_any_clips_exactly_with_their_lengths_and_labels(tmp_path):
  folder = str(tmp_path / "store")
  store = clip_store.fill(_clips(), folder)
  assert store["lengths"].tolist() == [5 + i % 7 for i in range(300)]
  calls = []
  labels = clip_store.labels(folder, store, "event", _label_pass(calls=calls))
  np.testing.assert_array_equal(labels, np.arange(300) % 4)  # matched to the clips by id
  frames, labels = _read_all(folder, store, [299, 3, 150, 7], labels)
  for clip, i in zip(frames, [299, 3, 150, 7]):
    np.testing.assert_array_equal(clip, np.full((5 + i % 7, 3), i, np.float32))
  assert labels.numpy().tolist() == [3, 3, 2, 3]


def test_a_store_left_without_an_index_by_a_dead_fill_is_filled_again(tmp_path):
  folder = str(tmp_path / "store")
  subprocess.run([sys.executable, "-c", _DIE_WHILE_FILLING, folder], check=True,
                 env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1"))
  names = os.listdir(folder)
  assert clip_store.INDEX not in names and 0 < len(names) < 300, len(names)
  produced = []
  store = clip_store.fill(_clips(produced=produced), folder)
  assert len(produced) == 300 and len(store["lengths"]) == 300
  frames, _ = _read_all(folder, store, range(300))
  assert [float(f[0, 0]) for f in frames] == list(range(300))


def test_two_fills_of_one_store_at_once_write_it_once(tmp_path):
  folder = str(tmp_path / "store")
  produced = []
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    stores = list(pool.map(lambda _: clip_store.fill(_clips(produced=produced), folder),
                           range(2)))
  assert len(produced) == 300  # the second waited, then read the first one's index
  for store in stores:
    np.testing.assert_array_equal(store["lengths"], stores[0]["lengths"])
    assert store["ids"].tolist() == [f"clip-{i}".encode() for i in range(300)]
  assert len(os.listdir(folder)) == 301  # 300 clips and the index


def test_a_store_with_a_clip_file_deleted_or_cut_short_is_named_and_filled_again(
    tmp_path, capsys):
  # A complete store's files are checked against its index when it is opened: a missing or
  # short clip file is named in one line and the store is filled again, so reads never fail
  # mid-training; an intact store is opened without filling.
  folder = str(tmp_path / "store")
  clip_store.fill(_clips(), folder)
  produced = []
  clip_store.fill(_clips(produced=produced), folder)
  assert produced == [] and capsys.readouterr().err == ""
  os.remove(os.path.join(folder, "00000007.f32"))
  with open(os.path.join(folder, "00000150.f32"), "r+b") as f:
    f.truncate(8)
  store = clip_store.fill(_clips(produced=produced), folder)
  err = capsys.readouterr().err
  assert "2 of 300 clip files damaged (00000007.f32 is missing); filling it again" in err, err
  assert len(produced) == 300
  frames, _ = _read_all(folder, store, range(300))
  assert [float(f[0, 0]) for f in frames] == list(range(300))


def test_a_store_with_an_unreadable_index_is_filled_again(tmp_path, capsys):
  folder = str(tmp_path / "store")
  clip_store.fill(_clips(count=20), folder)
  with open(os.path.join(folder, clip_store.INDEX), "wb") as f:
    f.write(b"not an npz")
  produced = []
  store = clip_store.fill(_clips(count=20, produced=produced), folder)
  assert f"its {clip_store.INDEX} is unreadable" in capsys.readouterr().err
  assert len(produced) == 20 and store["lengths"].tolist() == [5 + i % 7 for i in range(20)]


def test_a_label_keys_labels_are_made_once_and_dropped_when_the_store_is_filled_again(
    tmp_path):
  folder = str(tmp_path / "store")
  store = clip_store.fill(_clips(), folder)
  calls = []
  for _ in range(2):
    labels = clip_store.labels(folder, store, "event", _label_pass(calls=calls))
    np.testing.assert_array_equal(labels, np.arange(300) % 4)
  assert len(calls) == 1 and os.path.exists(os.path.join(folder, "labels_event.npz"))
  os.remove(os.path.join(folder, "00000004.f32"))  # damaged: filled again, its labels dropped
  store = clip_store.fill(_clips(), folder)
  assert not os.path.exists(os.path.join(folder, "labels_event.npz"))
  clip_store.labels(folder, store, "event", _label_pass(calls=calls))
  assert len(calls) == 2


def test_labels_name_a_store_without_ids_or_a_clip_the_dataset_lacks(tmp_path):
  joined = str(tmp_path / "joined")
  store = clip_store.fill(_clips(count=10).map(lambda c: {"log_mel": c["log_mel"]}), joined)
  with pytest.raises(ValueError, match=r"joined recordings \(--concat_clips\)"):
    clip_store.labels(joined, store, "event", _label_pass(count=10))
  folder = str(tmp_path / "store")
  store = clip_store.fill(_clips(count=10), folder)
  with pytest.raises(ValueError, match=r"2 stored clips are not in the dataset's 'event' labels"):
    clip_store.labels(folder, store, "event", _label_pass(count=8))
