"""Group-disjoint evaluation splits: whole speakers (or any group) held out of training."""

import os

import numpy as np
import pytest

from mobile_ssl.data import datasets
from mobile_ssl.data import downstream
from tests import audio_fixtures

SPEAKERS = ("ann", "bob", "cid", "dee", "eve", "fay")


@pytest.fixture(scope="module")
def fsdd_like(tmp_path_factory):
  """FSDD naming ({digit}_{speaker}_{take}.wav), 2 digits x 6 speakers x 6 takes."""
  root = tmp_path_factory.mktemp("group") / "recordings"
  os.makedirs(root)
  for digit in range(2):
    for s, speaker in enumerate(SPEAKERS):
      for take in range(6):
        x = audio_fixtures.sine(0.3, 300.0 * (digit + 1) + 10 * s, rate=8000)
        audio_fixtures.write(root / f"{digit}_{speaker}_{take}.wav", x, 8000)
  return str(root)


def _speakers(builder, split):
  names = [f.decode() for f in builder.as_dataset(split=split).map(
      lambda e: e["filename"]).as_numpy_iterator()]
  return {name.split("_")[1] for name in names}, len(names)


def test_group_split_holds_out_whole_speakers(fsdd_like, data_dir):
  task = downstream.load_task(f"{fsdd_like}:digit@speaker", data_dir)
  train, n_train = _speakers(task.builder, "train")
  test, n_test = _speakers(task.builder, "test")
  assert not train & test
  assert train | test == set(SPEAKERS)
  assert len(test) == 2 and n_test == 2 * 2 * 6 and n_train == 4 * 2 * 6  # a third held out
  assert task.name == "recordings:digit@speaker"
  assert task.num_classes == 2 and len(task.test_labels) == n_test
  # The plain task keeps FSDD's official split (takes 0-4 test), every speaker on both sides.
  plain = downstream.load_task(f"{fsdd_like}:digit", data_dir)
  assert _speakers(plain.builder, "train")[0] == _speakers(plain.builder, "test")[0]


def test_group_split_is_stable_and_spec_errors_are_clear(fsdd_like, data_dir):
  a = downstream.load_task(f"{fsdd_like}:digit@speaker", data_dir)
  b = downstream.load_task(f"{fsdd_like}:digit@speaker", data_dir)
  np.testing.assert_array_equal(a.test_labels, b.test_labels)
  assert _speakers(a.builder, "test") == _speakers(b.builder, "test")
  with pytest.raises(ValueError, match="no group 'mic'"):
    downstream.load_task(f"{fsdd_like}:digit@mic", data_dir)
  with pytest.raises(ValueError, match="group-disjoint splits are made for audio folders"):
    datasets.builder("synthetic_audio", data_dir=data_dir, group_key="speaker")
  spec = datasets.downstream_task("some/folder:digit@speaker")
  assert (spec.dataset, spec.label_key, spec.group_key) == ("some/folder", "digit", "speaker")
