"""Tests of federated pretraining: the LiteRT device step and the run directory, Flower simulation (slow).

Shards, update rejection and the command's flags are in tests/unit/federated_test.py.
"""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mobile_ssl.core import features
from mobile_ssl.core import model_dir
from mobile_ssl.core import recipes
from mobile_ssl.core import schedule
from mobile_ssl.evaluation import hear
from mobile_ssl.export import trainable_runner
from mobile_ssl.federated import device
from mobile_ssl.federated import run_state
from mobile_ssl.federated import shards
from tests import model_fixtures

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PARAMS = run_state.federated_params(dataclasses.replace(
    model_fixtures.TWO_BLOCK_PARAMS, task=dataclasses.replace(
        model_fixtures.TWO_BLOCK_PARAMS.task, contrastive_max_offset_frames=100)))


class TestRunDirectory:

  def test_device_rounds_checkpoint_resume_and_finish(self, fsdd_like, tmp_path):
    run = str(tmp_path / "run")
    fed = run_state.FederatedParams(dataset=fsdd_like, clients_by="speaker", rounds=2,
                                    local_steps=3, train_batch=4)
    done, weights, state = run_state.start_or_resume(run, PARAMS, fed)
    assert done == 0 and os.path.isfile(run_state.trainable_path(run))
    # One device's round, as the ClientApp runs it.
    shard = shards.partition(fsdd_like, "speaker")[0]
    result = device.local_training(run_state.trainable_path(run), shard.files, PARAMS, weights,
                                   local_steps=3, seed=1)
    assert result["num_examples"] == 12 and np.isfinite(result["loss"])
    assert set(result["weights"]) == set(device.SHARED_PARTS)  # the personal head stays home
    # The device's log-mel of a clip longer than a slice: the central front end's, frame for frame.
    runner = trainable_runner.TrainableRunner(run_state.trainable_path(run))
    wave = np.random.default_rng(0).normal(0, 0.1, 27_000).astype(np.float32)
    got = device.clip_log_mel(runner, wave, PARAMS)
    fp = dataclasses.replace(PARAMS.features, stft_dtype="float32")
    want = features.log_mel_spectrogram(wave[None], fp).numpy()[0]
    assert got.shape == want.shape == (1 + (27_000 - fp.window_samples) // fp.hop_samples, 64)
    np.testing.assert_allclose(got, want, atol=5e-3)
    assert np.abs(result["weights"]["encoder"] - weights["encoder"]).max() > 1e-5
    # The recipe's views and schedule: augmented pairs, the rate of the run's global steps 3-5.
    tuned = dataclasses.replace(PARAMS, augment=recipes.TUNED_AUGMENT, train=dataclasses.replace(
        PARAMS.train, schedule="cosine", steps=6, warmup_steps=0))
    state_path = str(tmp_path / "device" / "state.npz")
    second = device.local_training(run_state.trainable_path(run), shard.files, tuned, weights,
                                   local_steps=3, seed=1, first_step=3,
                                   optimizer_state_path=state_path)
    # The device kept its Adam state (3 steps) for the next round; a second round continues it.
    assert np.load(state_path)["optimizer"][0] == 3.0
    device.local_training(run_state.trainable_path(run), shard.files, tuned, weights,
                          local_steps=2, seed=2, first_step=6, optimizer_state_path=state_path)
    assert np.load(state_path)["optimizer"][0] == 5.0
    assert np.isfinite(second["loss"]) and second["loss"] != result["loss"]
    want = np.mean([schedule.learning_rate_at(tuned.train, s) for s in (3, 4, 5)])
    assert abs(second["learning_rate"] - want) < 1e-9 and want < 0.6 * PARAMS.train.learning_rate
    run_state.save_round(run, 1, result["weights"], state, {"clients_ok": 1})
    # Resuming returns that round; another configuration is refused.
    done, again, _ = run_state.start_or_resume(run, PARAMS, fed)
    assert done == 1
    np.testing.assert_array_equal(again["encoder"], result["weights"]["encoder"])
    with pytest.raises(ValueError, match="other settings"):
      run_state.start_or_resume(run, PARAMS, dataclasses.replace(fed, local_steps=4))
    # Other params (a run started under an earlier default): resume with its own params.json.
    other = dataclasses.replace(PARAMS, augment=dataclasses.replace(PARAMS.augment, gain_db=3.0))
    with pytest.raises(ValueError, match=f"other params; resume it with --params_file={run}/params.json"):
      run_state.start_or_resume(run, other, fed)
    # A finished run is an ordinary run directory: its encoder embeds as the trainable file does.
    run_state.finish(run, PARAMS, again)
    encoder, params = model_dir.load_encoder(run)
    assert params == PARAMS
    runner = trainable_runner.TrainableRunner(run_state.trainable_path(run))
    runner.set_weights({k: again[k] for k in device.SHARED_PARTS})
    x = np.random.default_rng(0).normal(-3, 1, (2, 96, 64, 1)).astype(np.float32)
    np.testing.assert_allclose(encoder(x).numpy(), runner.embed(x), atol=1e-5)
    scene = hear.get_scene_embeddings(np.zeros((1, 16000), np.float32), hear.load_model(run))
    assert scene.shape == (1, PARAMS.encoder.output_dim(PARAMS.features))


def _command(dataset, run, params_file, rounds, *extra):
  return [sys.executable, "-m", "mobile_ssl.commands.federated", f"--dataset={dataset}",
          "--clients_by=folder", f"--rounds={rounds}", "--local_steps=2", "--train_batch=4",
          f"--params_file={params_file}", f"--model_dir={run}", "--parallel_clients=2", *extra]


@pytest.mark.slow
@pytest.mark.timeout(1200)  # a killed run (up to 400 s) and its resumption (up to 600 s)
class TestSimulation:

  def test_kill_resume_and_failing_client(self, fsdd_like, tmp_path):
    """Flower simulation over 3 speakers + 1 broken device; kill -9 after round 1; resume.

    FedAvgM (the recommended strategy), so the resume also takes back the
    server momentum of the round it was killed after.
    """
    data = tmp_path / "clients"
    for shard in shards.partition(fsdd_like, "speaker"):
      (data / shard.name).mkdir(parents=True)
      for f in shard.files:
        os.symlink(f, data / shard.name / os.path.basename(f))
    (data / "broken").mkdir()
    (data / "broken" / "0.wav").write_bytes(b"RIFF no audio here")
    params_file = tmp_path / "params.json"
    params_file.write_text(PARAMS.to_json())
    run = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=REPO)
    command = _command(data, run, params_file, 4, "--strategy=fedavgm", "--server_momentum=0.8")
    with open(tmp_path / "first.log", "wb") as log:
      first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
      state_file = run / run_state.STATE_FILE
      deadline = time.time() + 400
      while time.time() < deadline and first.poll() is None:
        if state_file.exists() and json.loads(state_file.read_text())["last_round"] >= 1:
          break
        time.sleep(0.5)
      assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
      os.killpg(first.pid, signal.SIGKILL)  # the server and its simulation engine
      first.wait()
    killed_at = json.loads(state_file.read_text())["last_round"]
    assert 1 <= killed_at < 4 and not (run / "encoder.keras").exists()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr[-3000:]
    state = json.loads(state_file.read_text())
    assert [r["round"] for r in state["rounds"]] == [1, 2, 3, 4]
    for record in state["rounds"]:  # the broken device is counted every round, never fatal
      assert record["clients_ok"] == 3 and record["clients_failed"] == 1
      assert "usable clips" in record["failures"][0]
      assert record["bytes_up"] == 3 * record["bytes_down"] // 4 > 0
    encoder, _ = model_dir.load_encoder(str(run))
    with np.load(run_state.checkpoint_path(str(run), 4)) as last:
      from mobile_ssl.export import trainable  # pylint: disable=import-outside-toplevel
      np.testing.assert_array_equal(trainable.flat_encoder(encoder, PARAMS), last["encoder"])
    assert '"client_failures": 4' in second.stdout
    assert f"resumed the strategy's state of round {killed_at}" in second.stderr + second.stdout
    server = run_state.read_server_state(str(run), 4)  # momentum kept with the last round
    assert set(server) == {"encoder", "pretext_head"} and np.abs(server["encoder"]).max() > 0


