"""Tests of mobile_ssl.data.task_stream on the tiny synthetic dataset: task examples, caches, skips."""

import dataclasses
import io
import sys

import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import sampling
from mobile_ssl.data import task_stream

PARAMS = params_lib.Params()


def _crop(clips, params, seed):
  # One random 96-frame crop per clip, and each clip's length as the target.
  return sampling.random_crop(clips, seed, 96)[..., 0], tf.cast(clips.lengths, tf.float32)


def test_task_dataset_skips_and_counts_short_clips(tiny_synthetic):
  counter = task_stream.SkipCounter()
  # Clips are 2-3 s (~200-300 frames): asking for 250 frames skips some.
  ds = task_stream.task_dataset([(tiny_synthetic, "train")], _crop, 250, PARAMS,
                                batch_size=4, seed=0, skip_counter=counter)
  frames = np.concatenate([t.numpy() for _, t in ds.take(6)])
  assert frames.min() >= 250
  assert 0 < counter.count < counter.seen


def test_memory_cache_gives_the_same_stream_and_counts_each_clip_once(tiny_synthetic):
  # With the memory cache the clips long enough are held as one tensor and batches are
  # cut from it by index: the same batches as the clips streamed with no cache, and
  # after several passes over the 12 clips each was counted once.
  streams, counters = {}, {}
  for cache in (None, "memory"):
    counters[cache] = task_stream.SkipCounter()
    ds = task_stream.task_dataset([(tiny_synthetic, "train")], _crop, 250, PARAMS, batch_size=4,
                                  seed=0, skip_counter=counters[cache], cache_dir=cache)
    streams[cache] = [(x.numpy(), t.numpy()) for x, t in ds.take(12)]
  assert len(streams[None]) == len(streams["memory"]) == 12
  for (x, t), (y, u) in zip(streams[None], streams["memory"]):
    np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(t, u)
  assert counters["memory"].seen == 12 < counters[None].seen
  assert 0 < counters["memory"].count < 12


def _labelled_crop(clips, params, seed):
  del params
  return sampling.random_crop(clips, seed, 96)[..., 0], clips.labels


def test_a_folder_cache_serves_labelled_and_unlabelled_tasks_in_turn(tiny_synthetic, tmp_path):
  # One folder, a supervised-like stream (labels) and a pretext-like one (none), in turn,
  # twice: the first round fills the store, the second reads it. Before session 55 both
  # used one file, and the second task stopped on the first's ("Type mismatch"); in
  # session 56 each had a store of its own, the log-mels computed and kept twice.
  folder = str(tmp_path / "cache")
  rounds = []
  for _ in range(2):
    streams = {}
    for label_key, make in (("event", _labelled_crop), (None, _crop)):
      ds = task_stream.task_dataset([(tiny_synthetic, "train")], make, 96, PARAMS, batch_size=4,
                                    seed=0, cache_dir=folder, label_key=label_key)
      streams[label_key] = [(x.numpy(), t.numpy()) for x, t in ds.take(6)]  # 2 passes
    rounds.append(streams)
  num_classes = tiny_synthetic.info.features["event"].num_classes
  for first, second in zip(*(r["event"] for r in rounds)):
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])  # the same labels, read from the file
    assert first[1].dtype == np.int64 and 0 <= first[1].min() and first[1].max() < num_classes
  for first, second in zip(*(r[None] for r in rounds)):
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1].min() >= 96  # the clips' lengths in frames
  # One store of log-mels for both, the event labels kept beside it.
  (store,) = (tmp_path / "cache").glob("*.clips")
  assert store.name == "synthetic_audio_tiny_train.clips"
  assert sorted(p.name for p in store.glob("*.npz")) == ["index.npz", "labels_event.npz"]


def test_looped_clips_reach_the_tasks_context_and_none_is_skipped(tiny_synthetic):
  # 2-3 s clips, a 500-frame (5 s) context: joining 2 skips some, looping none.
  counts = {}
  for mode in ("join", "loop"):
    params = dataclasses.replace(PARAMS, train=dataclasses.replace(
        PARAMS.train, concat_clips=2, concat_mode=mode))
    counter = task_stream.SkipCounter()
    ds = task_stream.task_dataset([(tiny_synthetic, "train")], _crop, 500, params,
                                  batch_size=4, seed=0, skip_counter=counter)
    frames = np.concatenate([t.numpy() for _, t in ds.take(4)])
    assert frames.min() >= 500
    counts[mode] = counter.count
  assert counts["join"] > 0 and counts["loop"] == 0


def test_memory_cache_pools_two_sources_as_the_streamed_clips_do(tiny_synthetic):
  # Held clips of two sources are indexed one after the other: the pooled stream is the
  # one streamed with no cache, batch for batch.
  sources = [(tiny_synthetic, "train"), (tiny_synthetic, "test")]
  streams = {cache: [(x.numpy(), t.numpy()) for x, t in task_stream.task_dataset(
      sources, _crop, 96, PARAMS, batch_size=4, seed=3, cache_dir=cache).take(10)]
             for cache in (None, "memory")}
  assert len(streams[None]) == len(streams["memory"]) == 10
  for (x, t), (y, u) in zip(streams[None], streams["memory"]):
    np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(t, u)


def test_memory_cache_names_a_source_without_a_clip_long_enough(tiny_synthetic):
  with pytest.raises(ValueError, match=r"/train: no clip lasts the 5000 log-mel frames"):
    task_stream.task_dataset([(tiny_synthetic, "train")], _crop, 5000, PARAMS, batch_size=4,
                             seed=0, cache_dir="memory")


class _Terminal(io.StringIO):
  def isatty(self):
    return True


def test_memory_cache_held_in_chunks_gives_the_same_stream_and_shows_a_bar(
    tiny_synthetic, monkeypatch):
  # The held clips are gathered 5 at a time (12 clips: chunks of 5, 5 and 2) and joined:
  # the labelled stream is the one streamed with no cache, batch for batch, and a terminal
  # sees the hold's progress bar, named by the split, out of its 12 clips.
  monkeypatch.setattr(task_stream, "HOLD_CHUNK", 5)
  terminal = _Terminal()
  streams = {}
  for cache in (None, "memory"):
    monkeypatch.setattr(sys, "stderr", terminal)
    ds = task_stream.task_dataset([(tiny_synthetic, "train")], _labelled_crop, 96, PARAMS,
                                  batch_size=4, seed=5, cache_dir=cache, label_key="event")
    monkeypatch.undo()
    monkeypatch.setattr(task_stream, "HOLD_CHUNK", 5)
    streams[cache] = [(x.numpy(), t.numpy()) for x, t in ds.take(9)]
  assert len(streams[None]) == len(streams["memory"]) == 9
  for (x, t), (y, u) in zip(streams[None], streams["memory"]):
    np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(t, u)
  assert "log-mels into memory synthetic_audio/train:" in terminal.getvalue()
  assert "/12 [" in terminal.getvalue()  # the split's clips, the bar's total


def test_a_folder_store_gives_the_memory_caches_stream_and_counts_each_clip_once(
    tiny_synthetic, tmp_path):
  # Both stream clip indices shuffled under one seed: the same clips are drawn in the same
  # order, and the crops cut from the store's padded batch are those cut from the held
  # pool. Twice for the store: filled by the first run, read by the second.
  streams, counters = {}, {}
  for name, cache in (("memory", "memory"), ("fill", str(tmp_path)), ("read", str(tmp_path))):
    counters[name] = task_stream.SkipCounter()
    ds = task_stream.task_dataset([(tiny_synthetic, "train")], _labelled_crop, 250, PARAMS,
                                  batch_size=4, seed=2, skip_counter=counters[name],
                                  cache_dir=cache, label_key="event")
    streams[name] = [(x.numpy(), t.numpy()) for x, t in ds.take(8)]
  for name in ("fill", "read"):
    for (x, t), (y, u) in zip(streams["memory"], streams[name]):
      np.testing.assert_array_equal(x, y)
      np.testing.assert_array_equal(t, u)
    assert (counters[name].seen, counters[name].count) == (
        counters["memory"].seen, counters["memory"].count)
  assert counters["memory"].seen == 12 and 0 < counters["memory"].count < 12


def test_a_folder_store_names_a_source_without_a_clip_long_enough(tiny_synthetic, tmp_path):
  with pytest.raises(ValueError, match=r"/train: no clip lasts the 5000 log-mel frames"):
    task_stream.task_dataset([(tiny_synthetic, "train")], _crop, 5000, PARAMS, batch_size=4,
                             seed=0, cache_dir=str(tmp_path))


def test_a_folder_store_pools_two_sources_as_the_memory_cache_does(tiny_synthetic, tmp_path):
  # A store per source, mixed by index as the held clips are: batch for batch the same.
  sources = [(tiny_synthetic, "train"), (tiny_synthetic, "test")]
  streams = {cache: [(x.numpy(), t.numpy()) for x, t in task_stream.task_dataset(
      sources, _crop, 96, PARAMS, batch_size=4, seed=3, cache_dir=cache).take(10)]
             for cache in ("memory", str(tmp_path))}
  assert len(streams["memory"]) == len(streams[str(tmp_path)]) == 10
  for (x, t), (y, u) in zip(streams["memory"], streams[str(tmp_path)]):
    np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(t, u)
  assert sorted(p.name for p in tmp_path.glob("*.clips")) == [
      "synthetic_audio_tiny_test.clips", "synthetic_audio_tiny_train.clips"]


def test_both_caches_bars_count_joined_recordings(tiny_synthetic, tmp_path, monkeypatch):
  # 12 clips joined two by two are 6 recordings: the memory hold's bar and the folder
  # fill's bar both count out of 6 (the split's 12 clips would never be reached).
  params = dataclasses.replace(PARAMS, train=dataclasses.replace(PARAMS.train, concat_clips=2))
  terminal = _Terminal()
  monkeypatch.setattr(sys, "stderr", terminal)
  for cache in ("memory", str(tmp_path)):
    task_stream.task_dataset([(tiny_synthetic, "train")], _crop, 96, params, batch_size=2, seed=0,
                             cache_dir=cache)
  monkeypatch.undo()
  shown = terminal.getvalue()
  assert "log-mels into memory synthetic_audio/train:" in shown
  assert "log-mel cache synthetic_audio/train:" in shown
  assert shown.count("/6 [") >= 2 and "/12 [" not in shown
