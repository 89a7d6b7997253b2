"""Tests of mobile_ssl.data.pipeline and mobile_ssl.data.datasets: slices, folders, mixing, errors."""

import glob
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.data import pipeline
from mobile_ssl.data import datasets
from mobile_ssl.core import params as params_lib
from mobile_ssl.training import pretraining
from tests import audio_fixtures

PARAMS = params_lib.Params()


def _collect(ds):
  return [{k: v.numpy() for k, v in batch.items()} for batch in ds]


def test_slice_dataset_shapes_labels_and_timestamps(tiny_synthetic):
  ds = pipeline.slice_dataset(tiny_synthetic, "test", batch_size=5, label_key="event")
  batches = _collect(ds)
  logmel = np.concatenate([b["log_mel"] for b in batches])
  assert logmel.shape[1:] == (96, 64) and np.all(np.isfinite(logmel))
  clip = np.concatenate([b["clip"] for b in batches])
  stamps = np.concatenate([b["timestamp"] for b in batches])
  # 4 clips of 2-3 s at a 0.5 s hop: 3-5 slices each, centred at 0.4875 + 0.5 k.
  assert sorted(set(clip)) == [0, 1, 2, 3]
  for c in range(4):
    np.testing.assert_allclose(stamps[clip == c], 0.4875 + 0.5 * np.arange((clip == c).sum()))
  labels = np.concatenate([b["label"] for b in batches])
  assert all(len(set(labels[clip == c])) == 1 for c in range(4))


def test_slice_dataset_is_deterministic_under_a_seed(tiny_synthetic):
  make = lambda seed: _collect(pipeline.slice_dataset(
      tiny_synthetic, "train", batch_size=8, shuffle_buffer=50, seed=seed))
  a, b, c = make(1), make(1), make(2)
  np.testing.assert_array_equal(a[0]["log_mel"], b[0]["log_mel"])
  assert not np.array_equal(a[0]["clip"], c[0]["clip"])


def test_file_cache_gives_the_same_slices(tiny_synthetic, tmp_path):
  plain = _collect(pipeline.slice_dataset(tiny_synthetic, "test", batch_size=4))
  path = str(tmp_path / "cache" / "test")
  cached = _collect(pipeline.slice_dataset(tiny_synthetic, "test", batch_size=4, cache_path=path))
  again = _collect(pipeline.slice_dataset(tiny_synthetic, "test", batch_size=4, cache_path=path))
  for x, y, z in zip(plain, cached, again):
    np.testing.assert_array_equal(x["log_mel"], y["log_mel"])
    np.testing.assert_array_equal(x["log_mel"], z["log_mel"])
  assert list((tmp_path / "cache").glob("test*.index"))


def test_folder_becomes_a_dataset_with_padded_short_clips(tone_folder, data_dir):
  builder = datasets.builder(tone_folder, data_dir=data_dir)
  assert builder.info.features["label"].names == ["high", "low"]
  split = next(iter(builder.info.splits))
  batches = _collect(pipeline.slice_dataset(builder, split, batch_size=64, label_key="label"))
  clips = np.concatenate([b["clip"] for b in batches])
  # Every clip, even the 0.4 s one, yields at least one slice.
  assert len(set(clips)) == builder.info.splits[split].num_examples
  # The same folder is not rebuilt: same config name, prepared.
  assert datasets.builder(tone_folder, data_dir=data_dir).builder_config.name == builder.builder_config.name


def _crop(clip, params, seed):
  n = tf.shape(clip["log_mel"])[0]
  start = tf.random.stateless_uniform([], seed, 0, n - 96 + 1, tf.int32)
  return clip["log_mel"][start:start + 96], tf.cast(n, tf.float32)


def test_task_dataset_skips_and_counts_short_clips(tiny_synthetic):
  counter = pipeline.SkipCounter()
  # Clips are 2-3 s (~200-300 frames): asking for 250 frames skips some.
  ds = pipeline.task_dataset([(tiny_synthetic, "train")], _crop, 250, PARAMS,
                         batch_size=4, seed=0, skip_counter=counter)
  frames = np.concatenate([t.numpy() for _, t in ds.take(6)])
  assert frames.min() >= 250
  assert 0 < counter.count < counter.seen


def test_task_dataset_mixes_sources_in_proportion(tiny_synthetic, tone_folder, data_dir):
  folder = datasets.builder(tone_folder, data_dir=data_dir)
  split = next(iter(folder.info.splits))
  ds = pipeline.task_dataset([(tiny_synthetic, "train"), (folder, split)], _crop, 96, PARAMS,
                         batch_size=10, seed=0)
  # Tone clips are pure sines: their log-mel has most energy in 1-2 bins.
  peaky = [np.mean(x.numpy().max(-1) - np.median(x.numpy(), -1) > 8, axis=-1)
           for x, _ in ds.take(20)]
  share = np.mean(np.concatenate(peaky) > 0.5)
  expected = folder.info.splits[split].num_examples / (
      folder.info.splits[split].num_examples + tiny_synthetic.info.splits["train"].num_examples)
  assert abs(share - expected) < 0.2


def test_concatenate_clips_joins_waveforms():
  ds = tf.data.Dataset.from_tensor_slices({"waveform": tf.ones([6, 100])})
  joined = list(pipeline.concatenate_clips(ds, 3))
  assert len(joined) == 2 and joined[0]["waveform"].shape == (300,)


def test_unknown_dataset_lists_valid_names(data_dir):
  with pytest.raises(ValueError, match="unknown dataset 'no_such_thing'.*synthetic_audio"):
    datasets.builder("no_such_thing", data_dir=data_dir)


def test_catalog_dataset_that_is_not_built_says_how(data_dir):
  with pytest.raises(ValueError, match="never downloads at run time.*tfds build speech_commands"):
    datasets.builder("speech_commands", data_dir=data_dir)


def test_manual_dataset_that_is_not_built_names_manual_dir(data_dir):
  with pytest.raises(ValueError, match="tfds build musan.*--manual_dir"):
    datasets.builder("musan", data_dir=data_dir)


def test_missing_folder_is_named(tmp_path, data_dir):
  with pytest.raises(ValueError, match="nowhere: audio folder not found"):
    datasets.builder(str(tmp_path / "nowhere"), data_dir=data_dir)


def test_task_codes_and_custom_tasks():
  assert datasets.downstream_task("NSI").label_key == "instrument/family"
  assert set(datasets.DOWNSTREAM_TASKS) >= {"MUS", "BSD", "TUT", "LSP", "SPC", "LID", "NSP", "NSI"}
  custom = datasets.downstream_task("../fsdd/recordings:speaker")
  assert (custom.dataset, custom.label_key) == ("../fsdd/recordings", "speaker")
  with pytest.raises(ValueError, match="unknown task 'XYZ'"):
    datasets.downstream_task("XYZ")
  assert datasets.parse_spec("speech_commands@validation") == ("speech_commands", "validation")


def test_label_names_and_unknown_label(tiny_synthetic):
  assert len(datasets.label_names(tiny_synthetic, "event")) == 8
  with pytest.raises(ValueError, match="no label 'speaker'.*event"):
    datasets.label_names(tiny_synthetic, "speaker")


_BUILD_WHEN_TOLD = """
import os, sys, time
from mobile_ssl.data import datasets
folder, data_dir, go = sys.argv[1:4]
open(go + "." + str(os.getpid()), "w").close()  # imported, waiting
while not os.path.exists(go):
  time.sleep(0.01)
builder = datasets.builder(folder, data_dir=data_dir)
print(builder.info.splits["train"].num_examples)
"""


def test_two_commands_building_one_folder_at_once_both_get_it(tmp_path):
  # Two processes prepare the same folder at the same moment (two commands started
  # together): TFDS renames the finished copy into place, and the slower one used
  # to die on the rename (FileExistsError) instead of using the finished copy.
  folder = tmp_path / "clips"
  os.makedirs(folder)
  for i in range(240):
    audio_fixtures.write(folder / f"{i % 2}_ann_{i}.wav",
                         audio_fixtures.sine(0.2, 200.0 + i, rate=8000), 8000)
  go = str(tmp_path / "go")
  args = [sys.executable, "-c", _BUILD_WHEN_TOLD, str(folder), str(tmp_path / "tfds"), go]
  env = dict(os.environ, PYTHONPATH=os.getcwd(), TF_CPP_MIN_LOG_LEVEL="3")
  procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env) for _ in range(2)]
  deadline = time.time() + 120
  while len(glob.glob(go + ".*")) < 2 and time.time() < deadline:
    time.sleep(0.05)
  open(go, "w").close()  # both start building now
  for proc in procs:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    assert int(out.strip().splitlines()[-1]) > 100
