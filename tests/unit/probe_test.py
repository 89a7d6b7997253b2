"""Tests of mobile_ssl.evaluation.probe: the softmax probe's fit, clip scoring, bootstrap interval."""

import os

import numpy as np
import pytest
from scipy import special

from mobile_ssl.evaluation import probe
from mobile_ssl.evaluation import window_embeddings


def _blobs(per_class=20, windows=3, dim=6, seed=0, spread=0.3):
  """Windows of clips around one centre per class: [n, dim] embeddings, labels, clip ids."""
  rng = np.random.default_rng(seed)
  centres = np.eye(3, dim) * 3.0
  x, y, clips = [], [], []
  for c in range(3):
    for k in range(per_class):
      clip = c * per_class + k
      x.append(centres[c] + spread * rng.standard_normal((windows, dim)))
      y += [c] * windows
      clips += [clip] * windows
  return np.concatenate(x), np.array(y), np.array(clips)


def test_probabilities_are_the_softmax_of_standardized_logits():
  rng = np.random.default_rng(1)
  model = probe.LinearModel(rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4),
                            rng.uniform(0.5, 2.0, size=4))
  x = rng.normal(size=(5, 4)) * 50  # large logits: the max is subtracted before exp
  expected = special.softmax(((x - model.mean) / model.scale) @ model.weights + model.bias, 1)
  np.testing.assert_allclose(model.probabilities(x), expected, rtol=1e-10)


def test_the_fit_is_the_minimum_of_the_regularized_loss():
  x, y, _ = _blobs(per_class=8, spread=1.5)
  l2 = 0.1
  w, b = probe._fit(x, y, 3, l2)  # pylint: disable=protected-access
  # At the minimum the gradient, computed here independently, vanishes.
  p = special.softmax(x @ w + b, axis=1)
  onehot = np.eye(3)[y]
  np.testing.assert_allclose(x.T @ (p - onehot) / len(x) + l2 * w, 0, atol=1e-4)
  np.testing.assert_allclose((p - onehot).mean(0), 0, atol=1e-4)
  assert np.abs(w).max() > 0.1  # not the trivial zero solution


def test_separable_clips_are_all_predicted_and_the_decay_comes_from_the_grid():
  x, y, clips = _blobs()
  model = probe.train(x, y, clips, 3, seed=0)
  assert model.l2 in probe.L2_GRID
  test_x, test_y, test_clips = _blobs(per_class=5, seed=1)
  result = probe.evaluate(model, test_x, test_y, test_clips)
  assert result.pop("correct").all()
  assert result == {"accuracy": 1.0, "ci_low": 1.0, "ci_high": 1.0, "clips": 15, "draws": 1,
                    "draw_sd": 0.0}
  assert probe.train(x, y, clips, 3, l2=0.5).l2 == 0.5


def test_a_probe_needs_two_classes():
  x, y, clips = _blobs()
  with pytest.raises(ValueError, match="at least 2 classes in the training data, got 1"):
    probe.train(x[y == 0], y[y == 0], clips[y == 0], 3)


def test_a_clip_is_the_mean_of_its_windows_probabilities():
  # Clip 7: one confident window for class 0, two mild ones for class 1 -> class 0 (sums
  # 1.9 vs 1.1), where a majority vote of its windows would say 1.
  clips = np.array([3, 3, 7, 7, 7])
  p = np.array([[0.2, 0.8], [0.3, 0.7], [1.0, 0.0], [0.45, 0.55], [0.45, 0.55]])
  ids, predicted = probe.average_by_clip(p, clips)
  np.testing.assert_array_equal(ids, [3, 7])
  np.testing.assert_array_equal(predicted, [1, 0])


def test_score_counts_clips_and_unseen_labels_as_errors():
  p = np.eye(3)[[0, 0, 1, 2, 2, 1]]
  clips = np.array([0, 0, 1, 2, 2, 3])
  labels = np.array([0, 0, 1, 1, 1, -1])  # clip 2 wrong; clip 3's class was never trained
  result = probe.score(p, labels, clips)
  assert result["accuracy"] == 0.5 and result["clips"] == 4
  np.testing.assert_array_equal(result["correct"], [True, True, False, False])
  with pytest.raises(ValueError, match="the test split is empty"):
    probe.score(np.zeros((0, 3)), labels[:0], clips[:0])


def test_draws_are_averaged_and_their_spread_reported():
  correct = np.array([[1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0]], bool)  # 0.5, 0.75, 0.25
  result = probe.summarize(correct, seed=0)
  assert result["accuracy"] == pytest.approx(0.5)
  assert result["draws"] == 3 and result["clips"] == 4
  assert result["draw_sd"] == pytest.approx(0.25)
  # The interval is over test clips of their mean correctness across draws.
  assert (result["ci_low"], result["ci_high"]) == probe.bootstrap_interval(
      correct.mean(axis=0), seed=0)
  assert result["ci_low"] < 0.5 < result["ci_high"]
  one = probe.summarize(correct[:1])
  assert one["accuracy"] == 0.5 and one["draws"] == 1 and one["draw_sd"] == 0.0


def test_bootstrap_interval_matches_the_normal_approximation():
  correct = np.array([1] * 140 + [0] * 60)  # 70 % of 200 clips
  low, high = probe.bootstrap_interval(correct, seed=0)
  half_width = 1.96 * np.sqrt(0.7 * 0.3 / 200)  # 0.0635
  assert low < 0.7 < high
  assert abs((high - low) / 2 - half_width) < 0.01
  assert abs((low + high) / 2 - 0.7) < 0.01
  assert probe.bootstrap_interval(correct, seed=0) == (low, high)  # seeded
  assert probe.bootstrap_interval(np.ones(10)) == (1.0, 1.0)
  narrow = probe.bootstrap_interval(correct, level=0.5)
  assert low < narrow[0] < narrow[1] < high


def test_a_cached_fit_is_loaded_not_redone_and_its_key_covers_the_inputs(tmp_path, monkeypatch):
  x, y, clips = _blobs(spread=1.0)
  first = probe.train(x, y, clips, 3, cache_dir=str(tmp_path))
  kept = sorted(os.listdir(tmp_path))
  assert len(kept) == 1 and kept[0].startswith("probe_") and kept[0].endswith(".npz")

  def no_fit(*args, **kwargs):
    raise AssertionError("the cached fit should have been loaded")

  monkeypatch.setattr(probe, "_train", no_fit)
  again = probe.train(x, y, clips, 3, cache_dir=str(tmp_path))
  for field in ("weights", "bias", "mean", "scale"):
    np.testing.assert_array_equal(getattr(again, field), getattr(first, field))
  assert again.l2 == first.l2
  # Anything the fit depends on is part of the key: these are new fits.
  for changed in (dict(x=x + 1e-3), dict(y=np.roll(y, 1)), dict(seed=1), dict(l2=0.1),
                  dict(max_iterations=200)):
    arguments = dict(x=x, y=y, clips=clips, num_classes=3) | changed
    with pytest.raises(AssertionError, match="cached fit"):
      probe.train(cache_dir=str(tmp_path), **arguments)


def test_the_iteration_cap_bounds_every_fit_of_the_grid_and_the_refit(monkeypatch):
  x, y, clips = _blobs(spread=1.5)
  caps = []
  fit = probe._fit  # pylint: disable=protected-access

  def recording_fit(*args, max_iterations, **kwargs):
    caps.append(max_iterations)
    return fit(*args, max_iterations=max_iterations, **kwargs)

  monkeypatch.setattr(probe, "_fit", recording_fit)
  probe.train(x, y, clips, 3)
  assert caps == [200] * len(probe.L2_GRID) + [probe.MAX_ITERATIONS]  # probe version 3's caps
  caps.clear()
  probe.train(x, y, clips, 3, max_iterations=200)
  assert caps == [80] * len(probe.L2_GRID) + [200]
  caps.clear()
  probe.train(x, y, clips, 3, l2=0.1, max_iterations=7)
  assert caps == [7]
  with pytest.raises(ValueError, match="at least 1 iteration, got 0"):
    probe.train(x, y, clips, 3, max_iterations=0)


def test_a_lower_cap_stops_a_weakly_decayed_fit_short_of_its_minimum():
  x, y, _ = _blobs(per_class=8, spread=1.5)
  full = probe._fit(x, y, 3, 1e-4)  # pylint: disable=protected-access
  short = probe._fit(x, y, 3, 1e-4, max_iterations=5)  # pylint: disable=protected-access
  assert np.abs(short[0]).max() < 0.9 * np.abs(full[0]).max()


def test_a_warm_start_reaches_the_same_minimum():
  x, y, clips = _blobs(spread=1.5)
  reference = probe.train(x, y, clips, 3, l2=0.01)
  noisy = x + 0.01 * np.random.default_rng(3).standard_normal(x.shape)
  cold = probe.train(noisy, y, clips, 3, l2=0.01)
  warm = probe.train(noisy, y, clips, 3, l2=0.01, start=reference)
  np.testing.assert_allclose(warm.weights, cold.weights, atol=2e-3)
  np.testing.assert_allclose(warm.bias, cold.bias, atol=2e-3)


def test_a_few_shot_fit_reaches_its_minimum_from_any_start():
  """More dimensions than clips and a weak decay (a 10-shot probe): the loss is tiny and flat.

  scipy's default tolerances stopped such a fit after a few steps, wherever it
  had started from, so a warm start from a stronger decay's fit (the grid
  walk) and a cold start gave different probes for the same decay.
  """
  rng = np.random.default_rng(0)
  x = rng.standard_normal((30, 200))
  y = np.repeat(np.arange(3), 10)
  x[:, :3] += 2.0 * np.eye(3)[y]
  l2 = 1e-4
  strong, strong_bias = probe._fit(x, y, 3, 1e-2)  # pylint: disable=protected-access
  cold = probe._fit(x, y, 3, l2)  # pylint: disable=protected-access
  warm = probe._fit(x, y, 3, l2, start=np.concatenate([strong.ravel(), strong_bias]))  # pylint: disable=protected-access
  scale = np.abs(cold[0]).max()
  np.testing.assert_allclose(warm[0], cold[0], atol=1e-3 * scale)
  for w, b in (cold, warm):
    p = special.softmax(x @ w + b, axis=1)
    np.testing.assert_allclose(x.T @ (p - np.eye(3)[y]) / len(x) + l2 * w, 0, atol=1e-6)


def test_clip_means_average_each_clips_windows_in_clip_order():
  # Windows of clips 4 and 1, interleaved: each clip's row is the mean of its own windows.
  windows = {"embeddings": np.array([[1., 0.], [0., 2.], [3., 0.], [0., 4.], [5., 0.]], np.float32),
             "clips": np.array([4, 1, 4, 1, 4]), "labels": np.array([7, 9, 7, 9, 7])}
  means = window_embeddings.clip_means(windows)
  np.testing.assert_array_equal(means["clips"], [1, 4])
  np.testing.assert_allclose(means["embeddings"], [[0., 3.], [3., 0.]])
  np.testing.assert_array_equal(means["labels"], [9, 7])
  assert means["embeddings"].dtype == np.float32
  assert "labels" not in window_embeddings.clip_means({k: windows[k] for k in ("embeddings", "clips")})
  with pytest.raises(ValueError, match="no windows"):
    window_embeddings.clip_means({"embeddings": np.zeros((0, 2)), "clips": np.zeros(0, int)})


@pytest.mark.parametrize("order", ["clip order", "shuffled"])
def test_sum_by_clip_equals_sequential_float64_sums_in_either_window_order(order):
  # The sums are the same float64 additions, in the same order, as np.add.at's.
  rng = np.random.default_rng(0)
  clips = np.repeat(rng.permutation(50)[:30], rng.integers(1, 9, 30))
  if order == "shuffled":
    clips = rng.permutation(clips)
  values = rng.standard_normal((len(clips), 7)).astype(np.float32) * 1e3
  ids, inverse, counts = np.unique(clips, return_inverse=True, return_counts=True)
  expected = np.zeros((len(ids), 7))
  np.add.at(expected, inverse, values)
  got_ids, summed, got_counts = probe.sum_by_clip(values, clips)
  np.testing.assert_array_equal(got_ids, ids)
  np.testing.assert_array_equal(got_counts, counts)
  np.testing.assert_array_equal(summed, expected)
  assert summed.dtype == np.float64
  empty = probe.sum_by_clip(np.zeros((0, 7), np.float32), np.zeros(0, np.int64))
  assert [a.shape for a in empty] == [(0,), (0, 7), (0,)]


def test_every_nth_window_keeps_each_clips_first_and_every_nth_after_it():
  # Clip 4 has five windows, clip 1 two, clip 9 one, interleaved as clip_means allows.
  clips = np.array([4, 1, 4, 1, 4, 9, 4, 4])
  windows = {"embeddings": np.arange(16, dtype=np.float32).reshape(8, 2), "clips": clips,
             "labels": clips * 10, "cached": True}
  # Each window's place in its clip: 0, 0, 1, 1, 2, 0, 3, 4; every 3rd keeps 0 and 3.
  np.testing.assert_array_equal(window_embeddings.every_nth_window(windows, 3)["clips"],
                                [4, 1, 9, 4])
  kept = window_embeddings.every_nth_window(windows, 2)
  np.testing.assert_array_equal(kept["clips"], [4, 1, 4, 9, 4])  # positions 0, 0, 2, 0, 4
  np.testing.assert_array_equal(kept["embeddings"][:, 0], [0, 2, 8, 10, 14])
  np.testing.assert_array_equal(kept["labels"], [40, 10, 40, 90, 40])
  assert kept["cached"] is True
  assert set(window_embeddings.every_nth_window(windows, 100)["clips"]) == {1, 4, 9}
  assert window_embeddings.every_nth_window(windows, 1) is windows
  with pytest.raises(ValueError, match="a window stride must be >= 1, got 0"):
    window_embeddings.every_nth_window(windows, 0)


def test_a_runners_strided_batches_are_the_windows_every_nth_window_keeps():
  # A runner only runs the kept windows; a clip's windows span batch boundaries here.
  rng = np.random.default_rng(0)
  clips = np.repeat(np.arange(12), rng.integers(1, 10, 12))
  inputs = np.arange(len(clips))
  cuts = np.sort(rng.choice(np.arange(1, len(clips)), 5, replace=False))
  batches = list(zip(np.split(inputs, cuts), np.split(clips, cuts)))
  for stride in (1, 2, 3, 4):
    ran = list(window_embeddings._strided(iter(batches), stride))
    expected = window_embeddings.every_nth_window({"embeddings": inputs, "clips": clips}, stride)
    np.testing.assert_array_equal(np.concatenate([r[0] for r in ran]), expected["embeddings"])
    np.testing.assert_array_equal(np.concatenate([r[1] for r in ran]), expected["clips"])


def test_a_runners_calls_get_whole_batches_of_windows_in_order():
  # One clip's few windows at a time in, at least 5 windows per call out, none lost.
  sizes = [3, 1, 4, 2, 2, 1]
  clips = np.repeat(np.arange(len(sizes)), sizes)
  inputs = np.arange(len(clips)) * 10
  batches = list(zip(np.split(inputs, np.cumsum(sizes)[:-1]), np.split(clips, np.cumsum(sizes)[:-1])))
  out = list(window_embeddings._rebatched(iter(batches), 5))
  assert [len(c) for _, c in out] == [8, 5]  # 3+1+4, then 2+2+1 (the rest)
  np.testing.assert_array_equal(np.concatenate([x for x, _ in out]), inputs)
  np.testing.assert_array_equal(np.concatenate([c for _, c in out]), clips)
  assert list(window_embeddings._rebatched(iter([]), 5)) == []
