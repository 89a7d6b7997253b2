"""Tests of the trainable .tflite (export/trainable.py) in the LiteRT interpreter against Keras."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core.tasks import contrastive
from mobile_ssl.export import trainable
from mobile_ssl.export import trainable_runner
from tests import model_fixtures

BATCH = 4
# The recipe's stabilizers on: decoupled weight decay and a clip norm small
# enough to bite on the second step (tests below compare with Keras's AdamW).
PARAMS = dataclasses.replace(model_fixtures.TWO_BLOCK_PARAMS, train=dataclasses.replace(
    model_fixtures.TWO_BLOCK_PARAMS.train, weight_decay=0.05, clip_norm=0.5))
LEARNING_RATE = 2e-3


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  """(Keras encoder, Keras contrastive model, path of the .tflite built from their weights)."""
  encoder = encoder_lib.build_encoder(PARAMS.encoder, PARAMS.features, seed=3)
  task_model = contrastive.build_model(encoder, PARAMS)
  path = str(tmp_path_factory.mktemp("trainable") / "t.tflite")
  data = trainable.build_trainable(encoder, PARAMS, trainable.pretext_weights(task_model),
                                   train_batch=BATCH, head_classes=3,
                                   head_learning_rate=0.05)
  with open(path, "wb") as f:
    f.write(data)
  return encoder, task_model, path


class TestTrainable:

  def test_signatures_builtin_only_and_weights_present(self, exported):
    encoder, _, path = exported
    runner = trainable_runner.TrainableRunner(path)
    assert set(runner.interpreter.get_signature_list()) == set(
        trainable.SIGNATURES + trainable_runner.OPTIONAL_SIGNATURES)
    ops = {op["op_name"] for op in runner.interpreter._get_ops_details()}  # pylint: disable=protected-access
    assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), ops
    # Lost weights would give NaN or zeros here: the file must embed like Keras.
    x = model_fixtures.windows(0)
    np.testing.assert_allclose(runner.embed(x), encoder(x, training=False).numpy(), atol=1e-5)
    np.testing.assert_allclose(runner.get_weights()["encoder"],
                               trainable.flat_encoder(encoder, PARAMS), atol=0)

  def test_embed_waveform_matches_keras_on_float32_front_end(self, exported):
    encoder, _, path = exported
    runner = trainable_runner.TrainableRunner(path)
    wave = (0.3 * np.sin(np.arange(15600) * 2 * np.pi * 440 / 16000)).astype(np.float32)[None]
    fp = dataclasses.replace(PARAMS.features, stft_dtype="float32")
    log_mel = tf.expand_dims(features.log_mel_spectrogram(wave, fp), -1)
    got = runner._runners["embed_waveform"](waveform=wave)["embedding"]  # pylint: disable=protected-access
    # float32 FFT round-off reaches ~4e-3 at bins far below the tone (params.FeatureParams).
    np.testing.assert_allclose(runner.log_mel(wave), log_mel.numpy(), atol=5e-3)
    np.testing.assert_allclose(got, encoder(log_mel, training=False).numpy(), atol=1e-4)

  def test_steps_match_keras_adamw_with_clipping(self, exported):
    """Two steps at a fed learning rate: the loss, then the weights, as Keras's AdamW with clipping."""
    from mobile_ssl.training import trainer  # pylint: disable=import-outside-toplevel
    encoder, task_model, path = exported
    runner = trainable_runner.TrainableRunner(path)
    batches = [(model_fixtures.windows(1), model_fixtures.windows(1) + model_fixtures.windows(2) * 0.2),
               (model_fixtures.windows(8), model_fixtures.windows(8) + model_fixtures.windows(9) * 0.2)]
    # The same steps in Keras on copies of the same weights, with the trainer's own optimizer.
    enc = keras.models.clone_model(encoder)
    enc.set_weights(encoder.get_weights())
    model = contrastive.build_model(enc, PARAMS)
    model.get_layer("head").set_weights(task_model.get_layer("head").get_weights())
    model.get_layer("bilinear").set_weights(task_model.get_layer("bilinear").get_weights())
    optimizer = trainer.make_optimizer(dataclasses.replace(PARAMS.train, learning_rate=LEARNING_RATE))
    assert isinstance(optimizer, keras.optimizers.AdamW) and optimizer.global_clipnorm == 0.5
    norms = []
    for anchor, positive in batches:
      with tf.GradientTape() as tape:
        out = model({"anchor": anchor, "positive": positive}, training=True)
        keras_loss = tf.reduce_mean(contrastive.loss(None, out, PARAMS))
      gradients = tape.gradient(keras_loss, model.trainable_variables)
      norms.append(float(tf.linalg.global_norm(gradients)))
      optimizer.apply(gradients, model.trainable_variables)
      lite_loss = runner.train(anchor, positive, LEARNING_RATE)
      assert abs(lite_loss - float(keras_loss)) < 1e-4, (lite_loss, float(keras_loss))
    assert max(norms) > 0.5  # clipping took part
    after = runner.get_weights()
    expected = trainable.flat_encoder(enc, PARAMS)
    moved = np.abs(expected - trainable.flat_encoder(encoder, PARAMS)).max()
    assert moved > 1e-4  # the steps changed the weights ...
    np.testing.assert_allclose(after["encoder"], expected, atol=3e-5)  # ... as Keras did
    np.testing.assert_allclose(after["pretext_head"],
                               np.concatenate([w.ravel() for w in trainable.pretext_weights(model)]),
                               atol=3e-5)

  def test_learning_rate_input_sets_the_step(self, exported):
    _, _, path = exported
    anchor, positive = model_fixtures.windows(3), model_fixtures.windows(3) + model_fixtures.windows(2) * 0.2
    after = {}
    for rate in (0.0, 1e-4, 1e-3):
      runner = trainable_runner.TrainableRunner(path)
      runner.train(anchor, positive, rate)
      after[rate] = runner.get_weights()["encoder"]
    # Rate 0 still updates BN's moving statistics; the rest of the step scales with the rate
    # (Adam's first step and the decay are both linear in it).
    small, large = (np.abs(after[r] - after[0.0]).max() for r in (1e-4, 1e-3))
    assert small > 1e-6 and 8 < large / small < 12, (small, large)

  def test_loss_falls_and_save_restore_round_trip(self, exported, tmp_path):
    _, _, path = exported
    runner = trainable_runner.TrainableRunner(path)
    start = runner.get_weights()
    anchor, positive = model_fixtures.windows(4), model_fixtures.windows(4) + model_fixtures.windows(5) * 0.2
    losses = [runner.train(anchor, positive, LEARNING_RATE) for _ in range(8)]
    assert losses[-1] < 0.7 * losses[0], losses
    checkpoint = str(tmp_path / "ckpt.npz")
    runner.save_checkpoint(checkpoint)
    trained_embedding = runner.embed(anchor)
    runner.set_weights(start)  # back to the exported weights ...
    assert np.abs(runner.embed(anchor) - trained_embedding).max() > 1e-3
    fresh = trainable_runner.TrainableRunner(path)  # ... and a new interpreter from the checkpoint
    fresh.restore_checkpoint(checkpoint)
    np.testing.assert_allclose(fresh.embed(anchor), trained_embedding, atol=1e-6)
    for key, value in fresh.get_weights().items():
      np.testing.assert_array_equal(value, np.load(checkpoint)[key])

  def test_optimizer_state_carries_over_to_a_new_interpreter(self, exported):
    """Two steps in one interpreter = one step, save weights and Adam state, restore, one step."""
    _, _, path = exported
    batches = [(model_fixtures.windows(s), model_fixtures.windows(s) + 0.2 * model_fixtures.windows(s + 1))
               for s in (13, 15)]
    straight = trainable_runner.TrainableRunner(path)
    for anchor, positive in batches:
      straight.train(anchor, positive, LEARNING_RATE)
    first = trainable_runner.TrainableRunner(path)
    first.train(*batches[0], LEARNING_RATE)
    weights, state = first.get_weights(), first.get_optimizer_state()
    assert state[0] == 1.0 and np.abs(state[1:]).max() > 0  # the step count, then the moments
    for keep in (True, False):
      resumed = trainable_runner.TrainableRunner(path)
      resumed.set_weights(weights)
      if keep:
        resumed.set_optimizer_state(state)
      resumed.train(*batches[1], LEARNING_RATE)
      gap = np.abs(resumed.get_weights()["encoder"] - straight.get_weights()["encoder"]).max()
      assert (gap < 1e-6) if keep else (gap > 1e-5), (keep, gap)
    with pytest.raises(ValueError, match="optimizer state"):
      resumed.set_optimizer_state(state[:-1])

  def test_head_learns_few_labelled_windows(self, exported):
    _, _, path = exported
    runner = trainable_runner.TrainableRunner(path)
    x = np.concatenate([model_fixtures.windows(6, 3), model_fixtures.windows(7, 3)])
    labels = np.array([0, 1, 2, 0, 1, 2], np.int32)
    losses = [runner.train_head(x, labels) for _ in range(60)]
    assert losses[-1] < 0.5 * losses[0], losses[::10]
    assert (runner.infer_head(x).argmax(-1) == labels).all()
    # Training the head leaves the encoder alone.
    before = runner.get_weights()["encoder"]
    runner.train_head(x, labels)
    np.testing.assert_array_equal(runner.get_weights()["encoder"], before)

  def test_bad_inputs_raise_clear_errors(self, exported, tmp_path):
    _, _, path = exported
    with pytest.raises(ValueError, match="not found"):
      trainable_runner.TrainableRunner(str(tmp_path / "missing.tflite"))
    runner = trainable_runner.TrainableRunner(path)
    with pytest.raises(ValueError, match="encoder"):
      runner.set_weights({"encoder": np.zeros(3, np.float32)})
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.npz"):
      runner.restore_checkpoint(str(bad))
    with pytest.raises(ValueError, match="train_batch"):
      trainable.build_trainable(None, PARAMS, train_batch=1)


class TestTrainableCommand:

  def test_export_tflite_trainable_writes_checked_file(self, tmp_path, capsys):
    from absl import flags  # pylint: disable=import-outside-toplevel
    from mobile_ssl.commands import export_tflite  # pylint: disable=import-outside-toplevel
    from mobile_ssl.core import model_dir  # pylint: disable=import-outside-toplevel
    run = str(tmp_path / "run")
    encoder = encoder_lib.build_encoder(PARAMS.encoder, PARAMS.features, seed=5)
    model_dir.save_encoder(run, encoder, PARAMS)
    output = tmp_path / "train.tflite"
    values = flags.FlagValues()
    export_tflite.define_flags(values)
    values(["export_tflite", f"--encoder={run}", f"--output={output}", "--trainable",
            "--train_batch=4", "--head_classes=5"])
    assert export_tflite.main(["export_tflite"], values) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["size_bytes"] == output.stat().st_size and report["head_classes"] == 5
    runner = trainable_runner.TrainableRunner(str(output))
    assert runner.train_batch == 4 and runner.infer_head(model_fixtures.windows(0)).shape == (BATCH, 5)
    np.testing.assert_allclose(runner.embed(model_fixtures.windows(0)), encoder(model_fixtures.windows(0)).numpy(), atol=1e-5)
    values(["export_tflite", f"--encoder={run}", f"--output={tmp_path / 'x.bin'}", "--trainable"])
    assert export_tflite.main(["export_tflite"], values) == 2  # cannot run: a bad --output
    assert "must name a .tflite" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the arm64 sysroot on the first run, then LiteRT under qemu
class TestTrainableEmulatedArm64:

  def test_same_training_on_emulated_arm64(self, exported, tmp_path):
    """The trainable file trains on aarch64 LiteRT (qemu) as on x86: same losses, save/restore."""
    import os  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel
    from mobile_ssl.benchmark import emulation  # pylint: disable=import-outside-toplevel
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    setup = subprocess.run(["bash", os.path.join(repo, "mobile_ssl", "benchmark", "setup_emulation.sh")],
                           env=dict(os.environ, PYTHON=sys.executable),
                           capture_output=True, text=True, check=False)
    assert setup.returncode == 0, setup.stderr[-2000:]
    _, _, path = exported
    windows = str(tmp_path / "windows.npz")
    np.savez(windows, anchor=model_fixtures.windows(11), positive=model_fixtures.windows(11) + 0.2 * model_fixtures.windows(12))
    script = os.path.join(repo, "tests", "trainable_device_run.py")
    runs = {}
    for target in ("x86", "arm64"):
      out = tmp_path / target
      out.mkdir()
      if target == "x86":
        command, env = [sys.executable, script], dict(os.environ, PYTHONPATH=repo)
      else:
        sysroot = os.path.abspath(emulation.default_sysroot())
        emulation.check(sysroot)
        env = dict(os.environ, **emulation.environment(sysroot))
        env["PYTHONPATH"] += os.pathsep + repo  # after the aarch64 wheels: pure-Python modules only
        command = emulation.python_command(sysroot) + [script]
      done = subprocess.run(command + [path, windows, "4", str(out)], env=env,
                            capture_output=True, text=True, timeout=600, check=False)
      assert done.returncode == 0, done.stderr[-2000:]
      runs[target] = json.loads(done.stdout.strip().splitlines()[-1])
    assert runs["arm64"]["machine"] == "aarch64"
    losses = runs["arm64"]["losses"]
    assert losses[-1] < losses[0], losses
    np.testing.assert_allclose(losses, runs["x86"]["losses"], rtol=1e-3)
    np.testing.assert_allclose(runs["arm64"]["embedding"], runs["x86"]["embedding"], atol=1e-3)
    np.testing.assert_allclose(runs["arm64"]["restored_embedding"], runs["arm64"]["embedding"],
                               atol=1e-6)
