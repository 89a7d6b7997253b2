"""Tests of mobile_ssl.core.augment: each augmentation does what it says, reproducibly."""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from mobile_ssl.core import augment
from mobile_ssl.core import recipes
from mobile_ssl.core import training_params

SEED = tf.constant([3, 4], tf.int64)


def _batch(n=6, frames=96, bins=64, seed=0):
  rng = np.random.default_rng(seed)
  return tf.constant(rng.normal(size=(n, frames, bins, 1)).astype(np.float32) - 3.0)


def test_gain_adds_one_constant_per_view_within_the_range():
  x = _batch()
  y = augment.gain(x, 6.0, SEED)
  shift = (y - x).numpy()
  per_view = shift.reshape(len(shift), -1)
  np.testing.assert_allclose(per_view, per_view[:, :1] * np.ones_like(per_view), atol=1e-5)
  assert np.all(np.abs(per_view[:, 0]) <= 6.0 * math.log(10) / 20 + 1e-6)
  assert np.std(per_view[:, 0]) > 0.05  # the views get different gains


def test_equalizer_adds_one_smooth_curve_per_view_the_same_in_every_frame():
  x = _batch()
  y = augment.equalize(x, 12.0, SEED)
  shift = (y - x).numpy()[..., 0]  # [n, frames, bins]
  np.testing.assert_allclose(shift, np.broadcast_to(shift[:, :1, :], shift.shape), atol=1e-5)
  curve = shift[:, 0, :]  # [n, bins]
  assert np.all(np.abs(curve) <= 12.0 * math.log(10) / 20 + 1e-5)
  assert np.std(curve, axis=1).min() > 0.01  # not flat: a gain is augment.gain's job
  # Smooth: neighbouring bins differ by far less than the curve's range.
  steps = np.abs(np.diff(curve, axis=1)).max(axis=1)
  assert np.all(steps < 0.2 * (curve.max(axis=1) - curve.min(axis=1)) + 1e-6)
  assert not np.allclose(curve[0], curve[1])  # each view its own curve
  np.testing.assert_array_equal(augment.equalize(x, 12.0, SEED).numpy(), y.numpy())


def test_mixup_adds_energy_from_another_clip_and_zero_ratio_is_identity():
  x = _batch()
  np.testing.assert_allclose(augment.mixup(x, 1e-9, SEED).numpy(), x.numpy(), atol=1e-5)
  y = augment.mixup(x, 0.4, SEED).numpy()
  # log((1-r)e^x + r e^o) >= log(1-r) + x, and the result differs from x.
  assert np.all(y >= x.numpy() + math.log(0.6) - 1e-5)
  assert np.mean(np.abs(y - x.numpy())) > 0.01


def test_mixup_is_the_log_of_the_mixed_energies_across_the_log_mel_span():
  # Two flat views at the ends of a log-mel's span (log 1e-6 and +13): each becomes
  # log((1 - r) e^own + r e^other), one r in [0, 0.4] per view, with no inf or NaN.
  low, high = math.log(1e-6), 13.0
  x = tf.constant(np.stack([np.full((96, 64, 1), low), np.full((96, 64, 1), high)]), tf.float32)
  y = augment.mixup(x, 0.4, SEED).numpy()
  assert np.all(np.isfinite(y))
  for own, other, view in ((low, high, y[0]), (high, low, y[1])):
    assert np.ptp(view) < 1e-5  # the same r everywhere in the view
    r = (np.exp(np.float64(view.flat[0])) - np.exp(own)) / (np.exp(other) - np.exp(own))
    assert -1e-5 <= r <= 0.4 + 1e-5


def test_resized_crop_keeps_the_shape_and_unit_scale_is_identity():
  x = _batch()
  same = augment.resized_crop(x, (1.0, 1.0), SEED, fill=-6.9)
  np.testing.assert_allclose(same.numpy(), x.numpy(), atol=1e-4)
  out = augment.resized_crop(x, (0.6, 1.5), SEED, fill=-6.9)
  assert out.shape == x.shape
  assert np.mean(np.abs(out.numpy() - x.numpy())) > 0.1


def test_a_time_only_crop_is_crop_and_resize_along_time():
  # The lerp of the time-only path samples where the 2-D kernel samples, fill included
  # (scales above 1 reach outside the view).
  x = tf.random.stateless_normal([16, 96, 64, 1], [1, 2])
  for k in range(3):
    seed = tf.constant([k, 5], tf.int64)
    out = augment.resized_crop(x, (0.6, 1.5), seed, -6.9, freq_scale=(1.0, 1.0))
    seeds = tf.random.experimental.stateless_split(seed, 4)
    h = augment._uniform([16], seeds[0], 0.6, 1.5)  # pylint: disable=protected-access
    y1 = augment._uniform([16], seeds[2], 0.0, 1.0) * (1.0 - h)  # pylint: disable=protected-access
    boxes = tf.stack([y1, tf.zeros_like(y1), y1 + h, tf.ones_like(y1)], axis=1)
    expected = tf.image.crop_and_resize(x, boxes, tf.range(16), [96, 64], extrapolation_value=-6.9)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)
    assert np.any(out.numpy() == np.float32(-6.9))  # some views reach past the clip


def test_frequency_crop_range_is_its_own_and_defaults_to_the_time_range():
  # Content that changes only over time, then only over frequency.
  over_time = tf.constant(np.broadcast_to(
      np.linspace(-8, -1, 96, dtype=np.float32)[None, :, None, None], (6, 96, 64, 1)).copy())
  over_freq = tf.constant(np.broadcast_to(
      np.linspace(-8, -1, 64, dtype=np.float32)[None, None, :, None], (6, 96, 64, 1)).copy())
  # Time left alone, frequency stretched: only what varies over frequency moves.
  kept = augment.resized_crop(over_time, (1.0, 1.0), SEED, -6.9, freq_scale=(0.6, 0.8))
  np.testing.assert_allclose(kept.numpy(), over_time.numpy(), atol=1e-4)
  moved = augment.resized_crop(over_freq, (1.0, 1.0), SEED, -6.9, freq_scale=(0.6, 0.8))
  assert np.mean(np.abs(moved.numpy() - over_freq.numpy())) > 0.1
  # The reverse: --freq_crop_scale=1,1 leaves the frequency axis as it was.
  kept = augment.resized_crop(over_freq, (0.6, 0.8), SEED, -6.9, freq_scale=(1.0, 1.0))
  np.testing.assert_allclose(kept.numpy(), over_freq.numpy(), atol=1e-4)
  # (0, 0) is crop_scale's range: the same draws as before the option existed.
  default = training_params.AugmentParams(crop_scale=(0.6, 1.5))
  assert default.crop_scales == ((0.6, 1.5), (0.6, 1.5)) and default.crops
  x = _batch()
  np.testing.assert_array_equal(
      augment.augment_views(x, default, SEED).numpy(),
      augment.augment_views(x, dataclasses.replace(default, freq_crop_scale=(0.6, 1.5)),
                            SEED).numpy())
  only_freq = training_params.AugmentParams(freq_crop_scale=(0.8, 1.2))
  assert only_freq.enabled and only_freq.crop_scales == ((1.0, 1.0), (0.8, 1.2))
  assert training_params.AugmentParams(crop_scale=(0.6, 1.5), freq_crop_scale=(1.0, 1.0)).crops
  assert not training_params.AugmentParams(freq_crop_scale=(1.0, 1.0)).enabled


def test_masks_fill_one_band_per_axis_with_the_view_mean():
  x = _batch(8)
  y = augment.masks(x, 20, 10, SEED).numpy()
  changed = np.abs(y - x.numpy())[..., 0] > 1e-6  # [n, frames, bins]
  mean = x.numpy().mean(axis=(1, 2, 3))
  for i in range(len(y)):
    np.testing.assert_allclose(y[i, ..., 0][changed[i]], mean[i], atol=1e-5)
    full_rows = changed[i].all(axis=1).sum()  # the time band covers every bin
    full_cols = changed[i].all(axis=0).sum()  # the frequency band covers every frame
    assert full_rows <= 20 and full_cols <= 10
    assert changed[i].sum() <= 20 * 64 + 10 * 96
  assert changed.any(axis=(1, 2)).sum() >= 6  # most views got a band


def test_augment_inputs_treats_every_view_and_is_reproducible():
  params = dataclasses.replace(recipes.tiny(), augment=training_params.AugmentParams(
      gain_db=6, eq_db=10, mixup_ratio=0.4, crop_scale=(0.6, 1.5), time_mask_frames=8,
      freq_mask_bins=8))
  inputs = {"anchor": _batch(4), "positive": _batch(4), "context": tf.stack([_batch(4)] * 2, 1),
            "index": tf.range(4)}
  a = augment.augment_inputs(inputs, params, SEED)
  b = augment.augment_inputs(inputs, params, SEED)
  for key in inputs:
    np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())
    assert a[key].shape == inputs[key].shape
  np.testing.assert_array_equal(a["index"].numpy(), inputs["index"].numpy())
  assert not np.allclose(a["anchor"].numpy(), inputs["anchor"].numpy())
  # Two identical views come out different: each view has its own draws.
  assert not np.allclose(a["anchor"].numpy(), a["positive"].numpy())
  # Switched off, nothing changes.
  plain = augment.augment_inputs(inputs, recipes.tiny(), SEED)
  np.testing.assert_array_equal(plain["anchor"].numpy(), inputs["anchor"].numpy())


def test_bad_augment_params_are_clear_errors():
  import pytest
  with pytest.raises(ValueError, match="crop_scale"):
    training_params.AugmentParams(crop_scale=(1.5, 0.6)).validate()
  with pytest.raises(ValueError, match="freq_crop_scale"):
    training_params.AugmentParams(freq_crop_scale=(0.0, 1.2)).validate()
  with pytest.raises(ValueError, match="mixup_ratio"):
    training_params.AugmentParams(mixup_ratio=1.0).validate()
