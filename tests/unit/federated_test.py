"""Tests of mobile_ssl.federated in-process: shards, refused updates, a device without audio, the flags.

Device rounds, the run directory and Flower's engines are in tests/federated_test.py and
tests/federated_deployment_test.py.
"""

import dataclasses
import os

import numpy as np
import pytest

from mobile_ssl.federated import device
from mobile_ssl.federated import flower_app
from mobile_ssl.federated import run_state
from mobile_ssl.federated import shards
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


def test_device_without_usable_audio_raises(tmp_path, fsdd_like):
  bad = tmp_path / "bad.wav"
  bad.write_bytes(b"RIFF broken")
  with pytest.raises(device.NoUsableAudio, match="1 unreadable"):
    device.load_stream([str(bad)], PARAMS, seed=0)
