"""Tests of the task registry: example samplers, models and losses of each task."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import tasks
from mobile_ssl.core.tasks import contrastive
from mobile_ssl.core.tasks import sampling
from mobile_ssl.core.tasks import temporal_gap
from mobile_ssl.core.tasks import triplet

PARAMS = dataclasses.replace(
    recipes.tiny(), task=dataclasses.replace(recipes.tiny().task, num_classes=3))


def _ramp(frames, base=0.0):
  # base + frame index in every bin: a crop's first value tells where it came from.
  return tf.tile(base + tf.range(frames, dtype=tf.float32)[:, None], [1, 64])


def _batch(log_mels, labels=None):
  """A ClipBatch of clips [T_i, bins], as `ragged_batch` makes it in the pipeline."""
  ragged = tf.RaggedTensor.from_row_lengths(tf.concat(log_mels, 0),
                                            [int(x.shape[0]) for x in log_mels])
  return sampling.ClipBatch.from_ragged(
      ragged, None if labels is None else tf.constant(labels, tf.int64))


def _clip(frames=700, label=2, copies=1):
  """One clip, `copies` times in a batch: each copy draws its own crops."""
  return _batch([_ramp(frames)] * copies, [label] * copies)


def _seed(i):
  return tf.constant([i, 7], tf.int64)


def test_registry_lists_every_task_and_rejects_unknown():
  assert set(tasks.PRETEXT) <= set(tasks.TASKS)
  assert "untrained" in tasks.ALL and "supervised" in tasks.TASKS
  with pytest.raises(ValueError, match="unknown task 'nope'.*temporal_gap"):
    tasks.get("nope")


def test_temporal_gap_target_is_the_normalized_gap():
  inputs, delta = temporal_gap.make_examples(_clip(500, copies=50), PARAMS, _seed(0))
  a, b = inputs["first"][:, 0, 0, 0].numpy(), inputs["second"][:, 0, 0, 0].numpy()
  assert inputs["first"].shape == (50, 96, 64, 1) and delta.shape == (50,)
  np.testing.assert_allclose(delta.numpy(), np.abs(a - b) / (500 - 96), atol=1e-6)
  # Both slices inside the clip, each a slice's frames long.
  assert min(a.min(), b.min()) >= 0 and max(a.max(), b.max()) <= 500 - 96
  # The gap is uniform over the room (mean 1/2, sd 0.29; the mean of 50 has sd 0.04):
  # drawing the start first and then a gap from what is left would give a mean of 1/4.
  deltas = delta.numpy()
  assert abs(np.mean(deltas) - 0.5) < 0.15 and abs(np.std(deltas) - 0.29) < 0.08
  assert 10 <= np.sum(a > b) <= 40  # the later slice comes first half of the time (sd 3.5)
  assert temporal_gap.min_frames(PARAMS) == 192


def test_cbow_context_surrounds_the_target_in_order():
  p = dataclasses.replace(PARAMS, task=dataclasses.replace(PARAMS.task, gap_frames=10))
  inputs, target = tasks.get("audio2vec_cbow").make_examples(_clip(), p, _seed(1))
  starts = [float(x[0, 0, 0]) for x in inputs["context"][0]]
  centre = float(target[0, 0, 0, 0])
  assert inputs["context"].shape == (1, 4, 96, 64, 1) and target.shape == (1, 96, 64, 1)
  assert np.allclose(np.diff(starts[:2] + [centre] + starts[2:]), 106)  # 96 + G
  assert tasks.get("audio2vec_cbow").min_frames(p) == 5 * 96 + 4 * 10


def test_skipgram_targets_are_the_context_channels():
  inputs, targets = tasks.get("audio2vec_skipgram").make_examples(_clip(), PARAMS, _seed(2))
  centre = float(inputs["centre"][0, 0, 0, 0])
  assert targets.shape == (1, 96, 64, 4)
  np.testing.assert_allclose(targets[0, 0, 0].numpy(), centre + np.array([-192, -96, 96, 192]))


def test_triplet_positive_is_near_the_anchor():
  p = dataclasses.replace(PARAMS, task=dataclasses.replace(PARAMS.task, positive_max_offset_frames=20))
  inputs, _ = triplet.make_examples(_clip(copies=20), p, _seed(0))
  gaps = np.abs(inputs["anchor"][:, 0, 0, 0].numpy() - inputs["positive"][:, 0, 0, 0].numpy())
  assert gaps.max() <= 20 and gaps.max() > 0


def test_samplers_are_deterministic_per_seed():
  make = tasks.get("contrastive").make_examples
  a, _ = make(_clip(), PARAMS, _seed(3))
  b, _ = make(_clip(), PARAMS, _seed(3))
  c, _ = make(_clip(), PARAMS, _seed(4))
  np.testing.assert_array_equal(a["anchor"], b["anchor"])
  assert not np.array_equal(a["anchor"], c["anchor"])


def test_semi_hard_mining_picks_the_closest_farther_negative():
  params = dataclasses.replace(PARAMS, task=dataclasses.replace(PARAMS.task, triplet_margin=0.5))
  a = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], np.float32)
  p = np.array([[0.8, 0.6], [0.6, 0.8], [-0.6, 0.8]], np.float32)  # d(a0, p0) = 0.4
  outputs = tf.constant(np.stack([a, p], axis=1))
  semi = triplet.loss(None, outputs, params).numpy()
  # Anchor 0: negatives p1 (d=0.8) and p2 (d=3.2); semi-hard picks p1: 0.4 - 0.8 + 0.5.
  np.testing.assert_allclose(semi[0], 0.1, atol=1e-5)
  random = dataclasses.replace(params, task=dataclasses.replace(params.task, triplet_mining="random"))
  # Random mining uses the next clip's positive: for anchor 0 that is p2 (rolled).
  np.testing.assert_allclose(triplet.loss(None, outputs, random).numpy()[0], 0.0, atol=1e-5)


def test_normalized_audio2vec_target_ignores_the_slice_level_and_names_bad_values():
  rng = np.random.default_rng(3)
  targets = rng.normal(-4.0, 2.0, (2, 96, 64, 4)).astype(np.float32)
  standardized = (targets - targets.mean(axis=(1, 2), keepdims=True)) / targets.std(
      axis=(1, 2), keepdims=True)
  norm = dataclasses.replace(PARAMS, task=dataclasses.replace(PARAMS.task,
                                                              audio2vec_target="normalized"))
  skipgram = tasks.get("audio2vec_skipgram").loss
  # The decoder's output is compared with each slice and channel standardized.
  np.testing.assert_allclose(skipgram(targets, standardized, norm).numpy(), 0.0, atol=1e-4)
  louder = targets + rng.normal(0.0, 3.0, (2, 1, 1, 4)).astype(np.float32)
  np.testing.assert_allclose(skipgram(louder, standardized, norm).numpy(), 0.0, atol=1e-4)
  # The paper's target keeps the level: the same outputs are far from it.
  assert skipgram(targets, standardized, PARAMS).numpy().min() > 10.0
  cbow = tasks.get("audio2vec_cbow").loss
  silent = np.full((2, 96, 64, 1), -13.8, np.float32)  # all cells at the log floor
  np.testing.assert_allclose(cbow(silent, np.zeros_like(silent), norm).numpy(), 0.0, atol=1e-6)
  bad = dataclasses.replace(PARAMS, task=dataclasses.replace(PARAMS.task, audio2vec_target="x"))
  with pytest.raises(ValueError, match="--audio2vec_target must be one of log_mel, normalized"):
    bad.task.validate()


def test_contrastive_loss_prefers_matching_pairs():
  rng = np.random.default_rng(0)
  a = rng.standard_normal((6, 8)).astype(np.float32)
  matched = tf.constant(np.stack([a, a], axis=1))
  shuffled = tf.constant(np.stack([a, np.roll(a, 1, axis=0)], axis=1))
  assert contrastive.loss(None, matched, PARAMS).numpy().mean() < contrastive.loss(
      None, shuffled, PARAMS).numpy().mean()


def test_cosine_contrastive_ignores_the_scale_and_names_bad_values():
  rng = np.random.default_rng(1)
  a = rng.standard_normal((6, 8)).astype(np.float32)
  params = dataclasses.replace(PARAMS, task=dataclasses.replace(
      PARAMS.task, contrastive_similarity="cosine"))
  pair = np.stack([a, np.roll(a, 1, axis=0)], axis=1)
  np.testing.assert_allclose(contrastive.loss(None, tf.constant(pair), params).numpy(),
                             contrastive.loss(None, tf.constant(100 * pair), params).numpy(),
                             rtol=1e-5)
  bad = dataclasses.replace(PARAMS, task=dataclasses.replace(PARAMS.task,
                                                             contrastive_similarity="dot"))
  with pytest.raises(ValueError, match="--contrastive_similarity must be one of bilinear, cosine"):
    contrastive.build_model(encoder_lib.build_encoder(PARAMS.encoder, seed=0), bad)


def test_contrastive_init_scale_scales_the_bilinear_matrix_and_names_bad_values():
  encoder = encoder_lib.build_encoder(PARAMS.encoder, seed=0)
  def kernel(scale):
    params = dataclasses.replace(PARAMS, task=dataclasses.replace(
        PARAMS.task, contrastive_init_scale=scale))
    return contrastive.build_model(encoder, params).get_layer("bilinear").get_weights()[0]
  dim = encoder.output_shape[-1]
  limit = np.sqrt(6.0 / (2 * dim))  # Glorot uniform's bound for a square matrix
  default, small = kernel(1.0), kernel(0.02)
  # Both fill their bound: a uniform draw's largest value is near it.
  assert 0.8 * limit < np.abs(default).max() <= limit
  assert 0.8 * 0.02 * limit < np.abs(small).max() <= 0.02 * limit * (1 + 1e-6)
  for bad in (0.0, -1.0):
    with pytest.raises(ValueError, match="--contrastive_init_scale must be > 0"):
      dataclasses.replace(PARAMS.task, contrastive_init_scale=bad).validate()


@pytest.mark.parametrize("name", sorted(tasks.TASKS))
def test_model_wraps_the_named_encoder_and_loss_is_per_example(name):
  task = tasks.get(name)
  encoder = encoder_lib.build_encoder(PARAMS.encoder, seed=0)
  model = task.build_model(encoder, PARAMS)
  assert model.get_layer(encoder_lib.NAME) is encoder
  inputs, targets = task.make_examples(_clip(copies=4), PARAMS, _seed(5))
  assert all(x.shape[0] == 4 for x in tf.nest.flatten(inputs)) and targets.shape[0] == 4
  outputs = model(inputs)
  loss = task.loss(targets, outputs, PARAMS)
  assert loss.shape == (4,) and np.all(np.isfinite(loss.numpy()))


def test_byol_target_starts_as_the_online_copy_and_follows_it_by_ema():
  from mobile_ssl.core.tasks import byol_a
  params = dataclasses.replace(PARAMS, task=dataclasses.replace(PARAMS.task, byol_ema_decay=0.9))
  model = byol_a.build_model(encoder_lib.build_encoder(params.encoder, seed=0), params)
  pairs = byol_a._pairs(model)  # pylint: disable=protected-access
  assert pairs and all(np.array_equal(t.numpy(), o.numpy()) for t, o in pairs)
  target = model.get_layer(byol_a.TARGET_ENCODER)
  assert not target.trainable_weights
  assert all(not v.path.startswith("target") for v in model.trainable_variables)
  online = pairs[0][1]
  before = pairs[0][0].numpy().copy()
  online.assign(online + 1.0)
  byol_a.after_update(model, params)
  np.testing.assert_allclose(pairs[0][0].numpy(), before + 0.1, atol=1e-5)
  inputs, _ = byol_a.make_examples(_clip(copies=3), params, _seed(1))
  np.testing.assert_array_equal(inputs["view1"].numpy(), inputs["view2"].numpy())


def test_contrastive_positive_stays_within_the_offset():
  params = dataclasses.replace(PARAMS, task=dataclasses.replace(
      PARAMS.task, contrastive_max_offset_frames=30))
  inputs, _ = contrastive.make_examples(_clip(copies=30), params, _seed(0))
  gaps = np.abs(inputs["anchor"][:, 0, 0, 0].numpy() - inputs["positive"][:, 0, 0, 0].numpy())
  assert gaps.max() <= 30 and gaps.max() > 0


def test_crops_of_a_batch_stay_in_their_own_clips_and_reach_both_ends():
  # Clip i holds 1000 i + its frame index; lengths 96 (one place), 97 (two) and 300.
  lengths = [96, 97, 300]
  clips = _batch([_ramp(n, 1000.0 * i) for i, n in enumerate(lengths)] * 40)
  firsts = np.stack([sampling.random_crop(clips, _seed(i), 96)[:, 0, 0, 0].numpy()
                     for i in range(5)]).reshape(5, 40, 3)
  offsets = firsts - 1000.0 * np.arange(3)
  assert np.all(offsets >= 0) and np.all(offsets <= np.array(lengths) - 96)
  assert set(offsets[..., 1].ravel()) == {0.0, 1.0}  # both ends of the 97-frame clip
  assert offsets[..., 2].max() > 150 and offsets[..., 2].min() < 50
  # Each crop is 96 consecutive frames of its clip.
  crop = sampling.random_crop(clips, _seed(9), 96)[5, :, 0, 0].numpy()
  np.testing.assert_array_equal(np.diff(crop), 1.0)
  # K crops per clip: offsets [B, K] -> [B, K, frames, bins, 1].
  two = clips.crop(tf.constant([[0, 1]] * 120), 96)
  assert two.shape == (120, 2, 96, 64, 1)
  np.testing.assert_array_equal(two[4, :, 0, 0, 0].numpy(), [1000.0, 1001.0])
