"""Tests of mobile_ssl.federated in-process: shards, refused updates, a device without audio, the flags.

Device rounds, the run directory and Flower's engines are in tests/federated_test.py and
tests/federated_deployment_test.py.
"""

import dataclasses
import os

from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.supercore.task_identity import TaskIdentity
import numpy as np
import pytest

from mobile_ssl.federated import device
from mobile_ssl.federated import flower_app
from mobile_ssl.federated import run_state
from mobile_ssl.federated import shards
from mobile_ssl.federated import views
from tests import audio_fixtures
from tests import model_fixtures

PARAMS = run_state.federated_params(dataclasses.replace(
    model_fixtures.TWO_BLOCK_PARAMS, task=dataclasses.replace(
        model_fixtures.TWO_BLOCK_PARAMS.task, contrastive_max_offset_frames=100)))


class TestShards:

  def test_speaker_shards_hold_one_speaker_and_no_test_takes(self, fsdd_like):
    found = shards.partition(fsdd_like, "speaker")
    assert [s.name for s in found] == sorted(audio_fixtures.FSDD_LIKE_SPEAKERS)
    for shard in found:
      names = [os.path.basename(f) for f in shard.files]
      assert len(names) == 6 and all(f"_{shard.name}_" in n for n in names)
      assert all(int(n.split("_")[2][0]) >= 5 for n in names)

  def test_n_shards_split_all_train_files_once(self, fsdd_like):
    found = shards.partition(fsdd_like, "4")
    files = [f for s in found for f in s.files]
    assert len(found) == 4 and len(files) == len(set(files)) == 18
    assert shards.partition(fsdd_like, "4") == found  # deterministic: server and clients agree

  def test_folder_and_bad_input(self, fsdd_like, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    audio_fixtures.write(tmp_path / "a" / "x.wav", audio_fixtures.noise(0.5, seed=0))
    audio_fixtures.write(tmp_path / "b" / "y.wav", audio_fixtures.noise(0.5, seed=1))
    assert [s.name for s in shards.partition(str(tmp_path), "folder")] == ["a", "b"]
    with pytest.raises(ValueError, match="FSDD names"):
      shards.partition(str(tmp_path), "speaker")
    with pytest.raises(ValueError, match="sub-folder"):
      shards.partition(fsdd_like, "folder")
    with pytest.raises(ValueError, match="--clients_by must be"):
      shards.partition(fsdd_like, "city")
    with pytest.raises(ValueError, match="not an audio folder"):
      shards.partition("synthetic_audio", "3")


class TestRejection:

  def test_non_finite_or_misshapen_updates_are_refused(self):
    expected = {"encoder": (4,), "pretext_head": (2,)}
    good = {"encoder": np.zeros(4, np.float32), "pretext_head": np.ones(2, np.float32)}
    assert flower_app.rejection(good, expected) is None
    nan = dict(good, encoder=np.array([0, np.nan, np.inf, 1], np.float32))
    assert "2 non-finite" in flower_app.rejection(nan, expected)
    assert "shape" in flower_app.rejection(dict(good, encoder=np.zeros(3)), expected)
    assert "parts" in flower_app.rejection({"encoder": good["encoder"]}, expected)


class TestCommandFlags:

  def _flags(self, args):
    from absl import flags  # pylint: disable=import-outside-toplevel
    from mobile_ssl.commands import federated as federated_cmd  # pylint: disable=import-outside-toplevel
    values = flags.FlagValues()
    federated_cmd.define_flags(values)
    values(["mobile-ssl-federated"] + args)
    return federated_cmd.resolve_flags(values)

  def test_flags_resolve_to_params_and_clients(self, fsdd_like, tmp_path):
    params_file = tmp_path / "params.json"
    params_file.write_text(PARAMS.to_json())
    params, fed, clients = self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}/r",
                                        f"--params_file={params_file}", "--learning_rate=0.01",
                                        "--rounds=3", "--local_steps=4"])
    assert clients == 3 and (fed.rounds, fed.local_steps) == (3, 4)
    assert params.task.name == "contrastive" and params.train.learning_rate == 0.01
    assert params.encoder == PARAMS.encoder
    # The schedule is laid over the run: 3 rounds x 4 local steps.
    assert params.train.steps == 12

  def test_recipe_schedule_keeps_its_warmup_share(self, fsdd_like, tmp_path):
    params, _, _ = self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}/r",
                                "--rounds=20", "--local_steps=30"])
    assert (params.train.schedule, params.train.steps, params.train.warmup_steps) == (
        "cosine", 600, 19)  # the tuned recipe's 100 of 3,200
    assert params.train.clip_norm > 0 and params.train.weight_decay > 0
    assert params.augment.enabled
    # The crop stretches the mel axis mildly (0.8-1.25x), time as mobile-ssl-train does:
    # what kept federated within 3 points of central (docs/federated.md).
    assert params.augment.crop_scales == ((0.6, 1.5), (0.8, 1.25))
    # Cosine logits (bounded by 1/temperature) on the 512-value read-out.
    assert (params.task.contrastive_similarity, params.task.contrastive_temperature,
            params.encoder.pooling) == ("cosine", 0.2, "time_mean_max")

  def test_bad_flags_give_one_line_errors(self, fsdd_like, tmp_path):
    with pytest.raises(ValueError, match="--dataset is required"):
      self._flags([f"--model_dir={tmp_path}"])
    with pytest.raises(ValueError, match="--params_file=.*missing.json"):
      self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}",
                   f"--params_file={tmp_path}/missing.json"])
    with pytest.raises(ValueError, match="--rounds and --local_steps must be >= 1"):
      self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}", "--rounds=0"])
    with pytest.raises(ValueError, match="--clients_by must be"):
      self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}", "--clients_by=x"])
    with pytest.raises(ValueError, match="need --strategy=fedavgm"):
      self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}", "--strategy=fedavg",
                   "--server_momentum=0.9"])
    with pytest.raises(ValueError, match="--server_momentum in"):
      self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}", "--strategy=fedavgm",
                   "--server_momentum=1.0"])

  def test_fedavgm_strategy_carries_server_rate_and_momentum(self, fsdd_like, tmp_path):
    _, fed, _ = self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}",
                             "--strategy=fedavgm", "--server_learning_rate=2",
                             "--server_momentum=0.5"])
    strategy = flower_app.make_strategy(fed.strategy, 3, fed.server_learning_rate,
                                        fed.server_momentum)
    assert isinstance(strategy, flower_app.CountingFedAvgM)
    assert (strategy.server_learning_rate, strategy.server_momentum) == (2.0, 0.5)
    assert isinstance(flower_app.make_strategy("fedavg", 3), flower_app.CountingFedAvg)

  def test_default_is_fedavgm_with_the_measured_momentum_and_fedavg_has_none(self, fsdd_like,
                                                                             tmp_path):
    _, fed, _ = self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}"])
    assert (fed.strategy, fed.server_learning_rate, fed.server_momentum) == (
        "fedavgm", 1.0, run_state.DEFAULT_SERVER_MOMENTUM)
    _, fed, _ = self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}",
                             "--strategy=fedavg"])
    assert (fed.strategy, fed.server_momentum) == ("fedavg", 0.0)
    _, fed, _ = self._flags([f"--dataset={fsdd_like}", f"--model_dir={tmp_path}",
                             "--server_momentum=0"])
    assert (fed.strategy, fed.server_momentum) == ("fedavgm", 0.0)


class TestServerMomentumResume:
  """FedAvgM's momentum survives a resume: Flower's own strategy, driven by real Messages."""

  class _Grid:  # what FedAvg.configure_train asks of a Grid: the connected nodes
    def get_node_ids(self):
      return [1, 2]

  @staticmethod
  def _round(strategy, number, weights, deltas):
    """One round: each node returns the global weights plus its delta; -> the new weights."""
    records = lambda w: ArrayRecord({k: Array(v) for k, v in w.items()})
    sent = strategy.configure_train(number, records(weights), ConfigRecord({}),
                                    TestServerMomentumResume._Grid())
    replies = [Message(RecordDict({
        "arrays": records({k: weights[k] + deltas[m.metadata.dst_node_id][k] for k in weights}),
        "metrics": MetricRecord({"num-examples": 10})}), reply_to=m) for m in sent]
    arrays, _ = strategy.aggregate_train(number, replies)
    return {k: arrays[k].numpy() for k in arrays.keys()}

  def test_resumed_round_equals_the_uninterrupted_one(self, monkeypatch, tmp_path):
    for name in ("_run_id", "_task_id", "_node_id"):  # a ServerApp process sets these
      monkeypatch.setattr(TaskIdentity, name, 1)
    rng = np.random.default_rng(0)
    start = {"encoder": np.zeros(5, np.float32), "pretext_head": np.zeros(3, np.float32)}
    deltas = [{n: {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in start.items()}
               for n in (1, 2)} for _ in range(3)]
    make = lambda: flower_app.make_strategy("fedavgm", 2, 1.0, 0.9)
    straight, weights = make(), start
    for r in range(3):
      weights = self._round(straight, r + 1, weights, deltas[r])
    first, resumed = make(), start
    for r in range(2):
      resumed = self._round(first, r + 1, resumed, deltas[r])
    # Through the run directory, as run_rounds saves and reads it; older rounds are pruned.
    for number in range(1, run_state.KEEP_ROUNDS + 3):
      run_state.save_round(str(tmp_path), number, resumed, {"rounds": []}, None,
                           server_state=first.server_state())
    saved = run_state.read_server_state(str(tmp_path), run_state.KEEP_ROUNDS + 2)
    assert sorted(os.listdir(tmp_path / run_state.ROUNDS_DIR))[0] == "round_0003.npz"
    assert len(os.listdir(tmp_path / run_state.ROUNDS_DIR)) == 2 * run_state.KEEP_ROUNDS
    assert run_state.read_server_state(str(tmp_path), 1) == {}
    # A damaged file (truncated, or not an .npz) costs the momentum, not the run.
    newest = run_state.server_state_path(str(tmp_path), run_state.KEEP_ROUNDS + 2)
    for damaged in (open(newest, "rb").read()[:100], b"not an npz"):
      bad = tmp_path / "bad" / run_state.ROUNDS_DIR / "server_0001.npz"
      bad.parent.mkdir(parents=True, exist_ok=True)
      bad.write_bytes(damaged)
      assert run_state.read_server_state(str(tmp_path / "bad"), 1) == {}
    # A momentum that does not fit the weights (another model's run) is refused by name.
    with pytest.raises(ValueError, match="holds.*pretext_head.*the weights.*other"):
      make().restore_server_state(saved, ["encoder", "other"])
    second = make()
    second.restore_server_state(saved, list(start))
    after = self._round(second, 3, resumed, deltas[2])
    restarted = self._round(make(), 3, resumed, deltas[2])
    for k in start:
      np.testing.assert_allclose(after[k], weights[k], atol=1e-6)
      assert np.abs(restarted[k] - weights[k]).max() > 0.1  # without it the round differs
    assert flower_app.make_strategy("fedavg", 2).server_state() == {}


def test_device_without_usable_audio_raises(tmp_path, fsdd_like):
  bad = tmp_path / "bad.wav"
  bad.write_bytes(b"RIFF broken")
  with pytest.raises(device.NoUsableAudio, match="1 unreadable"):
    device.load_clips([str(bad)], PARAMS)


def test_pairs_come_from_one_clip_each():
  """Contrastive pairs as the central pipeline draws them: both views of a pair from one clip."""
  rng = np.random.default_rng(0)
  # Clip i's frames hold the value 1000 * i + frame index, so a crop tells where it came from.
  log_mels = [1000.0 * i + np.arange(n)[:, None] * np.ones((1, 64)) for i, n in
              enumerate((96, 150, 300, 96))]
  anchor, positive = device.draw_pairs(log_mels, 3, PARAMS, rng)
  assert anchor.shape == positive.shape == (3, 96, 64, 1)
  clip_a, clip_p = anchor[:, 0, 0, 0] // 1000, positive[:, 0, 0, 0] // 1000
  np.testing.assert_array_equal(clip_a, clip_p)
  assert len(set(clip_a)) == 3  # different clips, no repeats when the device has enough
  offsets = np.abs(anchor[:, 0, 0, 0] - positive[:, 0, 0, 0])
  assert offsets.max() <= PARAMS.task.contrastive_max_offset_frames
  many, _ = device.draw_pairs(log_mels[:2], 5, PARAMS, rng)  # fewer clips than the batch
  assert set(many[:, 0, 0, 0] // 1000) <= {0.0, 1.0}


class TestViews:
  """The device's numpy augmentations against their TF twins (core/augment.py)."""

  def test_constants_match_augment(self):
    from mobile_ssl.core import augment  # pylint: disable=import-outside-toplevel
    assert views.DB == augment.DB and views.EQ_COMPONENTS == augment.EQ_COMPONENTS

  def test_crop_and_resize_matches_tf(self):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    x = model_fixtures.windows(0, 3)
    boxes = [(0.1, 0.2, 0.7, 0.9), (-0.2, -0.1, 1.3, 1.2), (0.0, 0.0, 1.0, 1.0)]
    want = tf.image.crop_and_resize(x, np.array(boxes, np.float32), np.arange(3), (96, 64),
                                    extrapolation_value=-7.0).numpy()
    got = np.stack([views.crop_and_resize(v, b, -7.0) for v, b in zip(x, boxes)])
    np.testing.assert_allclose(got, want, atol=1e-4)
    np.testing.assert_allclose(got[2], x[2], atol=1e-5)  # the whole view: unchanged

  def test_mixup_and_equalize_formulas(self):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    from mobile_ssl.core import augment  # pylint: disable=import-outside-toplevel
    x = model_fixtures.windows(1, 4)
    mixed = views.mixup(x, 0.4, np.random.default_rng(0))
    draws = np.random.default_rng(0)
    other = np.roll(x, int(draws.integers(1, 4)), axis=0)
    r = draws.uniform(0.0, 0.4, (4, 1, 1, 1))
    np.testing.assert_allclose(mixed, np.log((1 - r) * np.exp(x) + r * np.exp(other)), atol=1e-5)
    assert np.all(mixed >= x + np.log(0.6) - 1e-5) and not np.allclose(mixed, x)
    rng = np.random.default_rng(0)
    # equalize: zero width leaves the views alone; a curve stays within +-eq_db, is the same
    # in every frame, and lies in the span of the same three cosines as TF's curve.
    np.testing.assert_allclose(views.equalize(x, 0.0, rng), x)
    curve = views.equalize(np.zeros_like(x), 6.0, np.random.default_rng(3))[:, 0, :, 0] / augment.DB
    assert np.abs(curve).max() <= 6.0 + 1e-4 and np.ptp(curve, axis=1).min() > 0
    frames = views.equalize(np.zeros_like(x), 6.0, np.random.default_rng(3))
    np.testing.assert_allclose(frames[:, :1], frames[:, 5:6], atol=1e-5)
    tf_curve = augment.equalize(tf.zeros_like(x), 6.0, tf.constant([1, 2], tf.int64)).numpy()
    tf_curve = tf_curve[:, 0, :, 0] / augment.DB
    basis = np.cos(np.pi * np.arange(1, 4)[:, None] * (np.arange(64)[None, :] + 0.5) / 64)
    for c in (curve, tf_curve):
      weights, *_ = np.linalg.lstsq(basis.T, c.T, rcond=None)
      np.testing.assert_allclose(basis.T @ weights, c.T, atol=1e-4)
      assert np.abs(weights).max() <= 6.0 / 3 + 1e-4  # each weight ~ U(-1, 1), scaled by eq_db / 3

  def test_augment_views_changes_views_within_ranges(self):
    params = dataclasses.replace(PARAMS.augment, gain_db=6.0, mixup_ratio=0.4,
                                 crop_scale=(0.6, 1.5), time_mask_frames=20, freq_mask_bins=8)
    x = model_fixtures.windows(2, 8)
    out = views.augment_views(x, params, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32 and np.all(np.isfinite(out))
    assert np.abs(out - x).mean(axis=(1, 2, 3)).min() > 1e-3  # every view changed
    again = views.augment_views(x, params, np.random.default_rng(0))
    np.testing.assert_array_equal(out, again)  # seeded
    # Gain alone shifts each view by a constant within +-6 dB.
    only_gain = dataclasses.replace(PARAMS.augment, gain_db=6.0)
    shift = (views.augment_views(x, only_gain, np.random.default_rng(1)) - x) / views.DB
    assert np.allclose(shift, shift[:, :1, :1], atol=1e-3) and np.abs(shift).max() <= 6.0 + 1e-3
    # Masks fill one band per axis with the view's mean.
    only_masks = dataclasses.replace(PARAMS.augment, time_mask_frames=20, freq_mask_bins=8)
    masked = views.augment_views(x, only_masks, np.random.default_rng(2))
    changed = masked != x
    assert changed.any(axis=(1, 2, 3)).sum() >= 6
    for i in range(8):
      if changed[i].any():
        np.testing.assert_allclose(masked[i][changed[i]], x[i].mean(), atol=1e-5)
    # A crop in frequency alone (--crop_scale=1,1 --freq_crop_scale=...) leaves what varies
    # only over time as it was and moves what varies over frequency, like augment's.
    over_time = np.broadcast_to(np.linspace(-8, -1, 96, dtype=np.float32)[None, :, None, None],
                                (4, 96, 64, 1)).copy()
    only_freq = dataclasses.replace(PARAMS.augment, freq_crop_scale=(0.6, 0.8))
    np.testing.assert_allclose(views.augment_views(over_time, only_freq, np.random.default_rng(3)),
                               over_time, atol=1e-4)
    over_freq = np.broadcast_to(np.linspace(-8, -1, 64, dtype=np.float32)[None, None, :, None],
                                (4, 96, 64, 1)).copy()
    moved = views.augment_views(over_freq, only_freq, np.random.default_rng(3))
    assert np.abs(moved - over_freq).mean() > 0.1


class TestSchedule:

  def test_matches_keras_cosine_schedule_of_the_trainer(self):
    from mobile_ssl.core import schedule  # pylint: disable=import-outside-toplevel
    from mobile_ssl.core import training_params  # pylint: disable=import-outside-toplevel
    from mobile_ssl.training import trainer  # pylint: disable=import-outside-toplevel
    for train in (training_params.TrainParams(steps=600, schedule="cosine", warmup_steps=19),
                  training_params.TrainParams(steps=50, schedule="cosine", warmup_steps=100),
                  training_params.TrainParams(steps=50, schedule="cosine"),
                  training_params.TrainParams(steps=50)):
      keras_schedule = trainer.learning_rate(train)
      for step in (0, 1, 4, 5, 18, 19, 20, 300, 599, 600, 700):
        want = (keras_schedule if isinstance(keras_schedule, float)
                else float(keras_schedule(step)))
        assert abs(schedule.learning_rate_at(train, step) - want) < 1e-8, (train, step)
    with pytest.raises(ValueError, match="--schedule"):
      schedule.learning_rate_at(training_params.TrainParams(schedule="step"), 0)


@pytest.mark.parametrize("changes, message", [
    ({"strategy": "fedprox"}, "--strategy must be one of fedavg, fedavgm, fedadam, got 'fedprox'"),
    ({"strategy": "fedavg", "server_momentum": 0.5}, "need --strategy=fedavgm"),
    ({"rounds": 0}, "--rounds and --local_steps must be >= 1"),
])
def test_federated_params_refuse_bad_values_naming_the_flag(changes, message):
  with pytest.raises(ValueError, match=message):
    run_state.FederatedParams(**changes).validate()
  assert run_state.FederatedParams(strategy="fedavg").validate().server_momentum == 0.0
