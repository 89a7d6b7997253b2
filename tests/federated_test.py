"""Tests of federated pretraining: shards, the LiteRT device step, the run directory, Flower simulation."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mobile_ssl.export import trainable_runner
from mobile_ssl.core import audio
from mobile_ssl.federated import device
from mobile_ssl.federated import run_state
from mobile_ssl.federated import flower_app
from mobile_ssl.evaluation import hear
from mobile_ssl.core import model_dir
from mobile_ssl.core import params as params_lib
from mobile_ssl.federated import shards

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPEAKERS = {"alice": 300.0, "bob": 900.0, "carol": 2000.0}
# Two encoder blocks: the code paths of the full encoder, a fast conversion.
PARAMS = run_state.federated_params(dataclasses.replace(
    params_lib.tiny(),
    encoder=params_lib.EncoderParams(width=1.0, embedding_dim=16, base_channels=(4, 8),
                                     pooling="time_mean_max"),
    task=dataclasses.replace(params_lib.TaskParams(), contrastive_temperature=0.2,
                             contrastive_max_offset_frames=100)))


def _tone(hz, seconds, seed):
  t = np.arange(int(16000 * seconds)) / 16000
  rng = np.random.default_rng(seed)
  return (0.3 * np.sin(2 * np.pi * hz * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
          + 0.01 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture(scope="module")
def fsdd_like(tmp_path_factory):
  """FSDD-named clips: 3 speakers x 2 digits x takes 0-7 (takes 0-4 are FSDD's test split)."""
  root = tmp_path_factory.mktemp("fsdd")
  for s, (speaker, hz) in enumerate(SPEAKERS.items()):
    for digit in range(2):
      for take in range(8):
        audio.write(str(root / f"{digit}_{speaker}_{take}.wav"),
                    _tone(hz * (1 + 0.2 * digit), 0.7, 100 * s + 10 * digit + take), 16000)
  return str(root)


class TestShards:

  def test_speaker_shards_hold_one_speaker_and_no_test_takes(self, fsdd_like):
    found = shards.partition(fsdd_like, "speaker")
    assert [s.name for s in found] == sorted(SPEAKERS)
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
    audio.write(str(tmp_path / "a" / "x.wav"), _tone(300, 0.5, 0), 16000)
    audio.write(str(tmp_path / "b" / "y.wav"), _tone(300, 0.5, 1), 16000)
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
    assert np.abs(result["weights"]["encoder"] - weights["encoder"]).max() > 1e-5
    run_state.save_round(run, 1, result["weights"], state, {"clients_ok": 1})
    # Resuming returns that round; another configuration is refused.
    done, again, _ = run_state.start_or_resume(run, PARAMS, fed)
    assert done == 1
    np.testing.assert_array_equal(again["encoder"], result["weights"]["encoder"])
    with pytest.raises(ValueError, match="other settings"):
      run_state.start_or_resume(run, PARAMS, dataclasses.replace(fed, local_steps=4))
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

  def test_device_without_usable_audio_raises(self, tmp_path, fsdd_like):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF broken")
    with pytest.raises(device.NoUsableAudio, match="1 unreadable"):
      device.load_stream([str(bad)], PARAMS, seed=0)


def _command(dataset, run, params_file, rounds):
  return [sys.executable, "-m", "mobile_ssl.commands.federated", f"--dataset={dataset}",
          "--clients_by=folder", f"--rounds={rounds}", "--local_steps=2", "--train_batch=4",
          f"--params_file={params_file}", f"--model_dir={run}", "--parallel_clients=2"]


@pytest.mark.slow
class TestSimulation:

  def test_kill_resume_and_failing_client(self, fsdd_like, tmp_path):
    """Flower simulation over 3 speakers + 1 broken device; kill -9 after round 1; resume."""
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
    command = _command(data, run, params_file, rounds=4)
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
