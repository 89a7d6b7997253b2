"""Tests of mobile_ssl.data.file_cache: file caches filled whole, one process at a time."""

import concurrent.futures
import os
import shutil
import subprocess
import sys

import pytest
import tensorflow as tf

from mobile_ssl.data import pipeline


def _rows(count=300):
  return tf.data.Dataset.range(count).map(lambda i: tf.fill([512], tf.cast(i, tf.float32)))


_DIE_WHILE_WRITING = """
import os, sys
import tensorflow as tf
ds = tf.data.Dataset.range(300).map(lambda i: tf.fill([512], tf.cast(i, tf.float32)))
writer = iter(ds.cache(sys.argv[1]))
next(writer)  # the writer has its lockfile now
os._exit(0)  # as kill -9 would: no destructor removes it
"""


def test_a_file_cache_left_half_written_by_a_dead_run_is_filled_again(tmp_path):
  path = str(tmp_path / "cache" / "clips")
  os.makedirs(os.path.dirname(path))
  subprocess.run([sys.executable, "-c", _DIE_WHILE_WRITING, path], check=True,
                 env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="-1"))
  names = sorted(os.listdir(os.path.dirname(path)))
  assert "clips_0.lockfile" in names and not os.path.exists(path + ".index"), names
  # What the next run met before session 55 (on a copy: the failed writer removes the
  # lockfile as it goes): tf.data's writer refuses the folder.
  shutil.copytree(tmp_path / "cache", tmp_path / "copy")
  with pytest.raises(tf.errors.AlreadyExistsError, match="lockfile already exists"):
    next(iter(_rows().cache(str(tmp_path / "copy" / "clips"))))
  ds = pipeline.cache(_rows(), path)
  assert os.path.exists(path + ".index")  # filled before the stream starts
  assert [float(x[0]) for x in ds.as_numpy_iterator()] == list(range(300))
  assert not [n for n in os.listdir(os.path.dirname(path)) if "lockfile" in n or "tempstate" in n]


def test_two_fills_of_one_file_cache_at_once_write_it_once(tmp_path):
  path = str(tmp_path / "clips")
  with concurrent.futures.ThreadPoolExecutor(2) as pool:
    streams = list(pool.map(lambda _: pipeline.cache(_rows(), path), range(2)))
  for ds in streams:
    assert [float(x[0]) for x in ds.as_numpy_iterator()] == list(range(300))
  assert sorted(n for n in os.listdir(tmp_path) if n.startswith("clips.")) == [
      "clips.data-00000-of-00001", "clips.fill.lock", "clips.index"]
