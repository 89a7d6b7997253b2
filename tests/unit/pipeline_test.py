"""Tests of mobile_ssl.data.pipeline on the tiny synthetic dataset: slices, clip joining, autotuning."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core import training_params
from mobile_ssl.data import pipeline
from mobile_ssl.data import task_stream

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


def test_slice_dataset_caches_in_memory_and_refuses_a_folder(tiny_synthetic, tmp_path):
  plain = _collect(pipeline.slice_dataset(tiny_synthetic, "test", batch_size=4))
  cached = _collect(pipeline.slice_dataset(tiny_synthetic, "test", batch_size=4,
                                           cache_path="memory"))
  for x, y in zip(plain, cached):
    np.testing.assert_array_equal(x["log_mel"], y["log_mel"])
  with pytest.raises(ValueError, match="cache_path must be 'memory' or empty"):
    pipeline.slice_dataset(tiny_synthetic, "test", batch_size=4, cache_path=str(tmp_path))


def test_concatenate_clips_joins_waveforms():
  ds = tf.data.Dataset.from_tensor_slices({"waveform": tf.ones([6, 100])})
  joined = list(pipeline.concatenate_clips(ds, 3))
  assert len(joined) == 2 and joined[0]["waveform"].shape == (300,)


def test_concatenate_clips_loops_each_clip_in_loop_mode():
  ds = tf.data.Dataset.from_tensor_slices({"waveform": [[1., 2.], [3., 4.]]})
  looped = [x["waveform"].tolist() for x in pipeline.concatenate_clips(ds, 3, "loop")
            .as_numpy_iterator()]
  assert looped == [[1., 2.] * 3, [3., 4.] * 3]
  # Repeated past `count` when the task's context needs more: 7 samples -> 4 loops of 2.
  ds = tf.data.Dataset.from_tensor_slices({"waveform": [[1., 2.]]})
  assert next(pipeline.concatenate_clips(ds, 3, "loop", min_samples=7).as_numpy_iterator())[
      "waveform"].tolist() == [1., 2.] * 4
  params = params_lib.Params(train=training_params.TrainParams(concat_clips=3))
  loop = dataclasses.replace(params, train=dataclasses.replace(params.train, concat_mode="loop"))
  assert pipeline.cache_key(params) != pipeline.cache_key(loop)
  assert pipeline.cache_key(loop).endswith("_concat3_loop")


def test_without_autotune_turns_the_autotuner_off_and_keeps_the_elements():
  ds = tf.data.Dataset.range(10).map(lambda x: x * 2, num_parallel_calls=pipeline.AUTOTUNE)
  assert ds.options().autotune.enabled is not False
  quiet = pipeline.without_autotune(ds.prefetch(pipeline.AUTOTUNE))
  assert quiet.options().autotune.enabled is False
  assert list(quiet.as_numpy_iterator()) == list(range(0, 20, 2))


def test_every_stream_from_a_split_has_the_autotuner_off(tiny_synthetic):
  """Training's stream too: deleting an autotuned iterator can wait up to 60 s."""
  def crop(clips, params, seed):
    return clips.crop(tf.zeros_like(clips.starts), 96)[..., 0], tf.zeros([clips.size])

  streams = {
      "clips": pipeline.clips(tiny_synthetic, "train"),
      "slices": pipeline.slice_dataset(tiny_synthetic, "test", batch_size=4),
      "training": task_stream.task_dataset([(tiny_synthetic, "train")], crop, 96, PARAMS,
                                           batch_size=2, seed=0, cache_dir="memory"),
  }
  assert {name: ds.options().autotune.enabled for name, ds in streams.items()} == {
      name: False for name in streams}
  inputs, _ = next(iter(streams["training"]))
  assert inputs.shape == (2, 96, 64)
