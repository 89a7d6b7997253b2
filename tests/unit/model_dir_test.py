"""Tests of mobile_ssl.core.model_dir: a run directory's params.json and encoder.keras, and what is not one."""

import dataclasses
import json

import numpy as np
import pytest

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir
from mobile_ssl.core import recipes

TINY = recipes.tiny()


def test_params_round_trip_through_the_run_directory(tmp_path):
  params = dataclasses.replace(TINY, datasets=("a", "b@test"))
  model_dir.write_params(str(tmp_path / "run"), params)
  assert model_dir.read_params(str(tmp_path / "run")) == params
  assert json.load(open(model_dir.params_path(str(tmp_path / "run"))))["datasets"] == ["a", "b@test"]


def test_encoder_round_trip(tmp_path):
  encoder = encoder_lib.build_encoder(TINY.encoder, TINY.features, seed=4)
  path = model_dir.save_encoder(str(tmp_path), encoder, TINY)
  assert path == model_dir.encoder_path(str(tmp_path))
  loaded, params = model_dir.load_encoder(str(tmp_path))
  x = np.random.default_rng(0).normal(size=(2, 96, 64, 1)).astype(np.float32)
  np.testing.assert_array_equal(loaded(x).numpy(), encoder(x).numpy())
  assert params == TINY and loaded.name == "encoder"


def _run_with(tmp_path, text):
  run = tmp_path / "run"
  run.mkdir()
  (run / model_dir.PARAMS_FILE).write_text(text)
  return str(run)


@pytest.mark.parametrize("make,message", [
    (lambda p: str(p / "missing"), "missing: encoder directory not found"),
    (lambda p: str(p), r"not a mobile_ssl run directory \(no params.json\)"),
    (lambda p: _run_with(p, "{not json"), "params.json: not valid JSON"),
    (lambda p: _run_with(p, json.dumps(dict(TINY.to_dict(), version=2))),
     "params.json: format version 2, this mobile_ssl reads version 1"),
    (lambda p: _run_with(p, json.dumps(dict(TINY.to_dict(), encoder={"depth": 3}))),
     r"params.json: incompatible params .*unknown parameter\(s\) \['depth'\]"),
])
def test_what_is_not_a_run_is_one_clear_error(tmp_path, make, message):
  with pytest.raises(ValueError, match=message):
    model_dir.read_params(make(tmp_path))


def test_unfinished_or_mismatched_runs_are_refused(tmp_path):
  model_dir.write_params(str(tmp_path / "unfinished"), TINY)
  with pytest.raises(ValueError, match="no encoder.keras; the run has not finished"):
    model_dir.load_encoder(str(tmp_path / "unfinished"))
  wider = dataclasses.replace(TINY, encoder=dataclasses.replace(TINY.encoder, embedding_dim=32))
  model_dir.save_encoder(str(tmp_path / "edited"), encoder_lib.build_encoder(wider.encoder), wider)
  model_dir.write_params(str(tmp_path / "edited"), TINY)  # params.json edited by hand
  with pytest.raises(ValueError, match=r"do not match params.json \(.*->16\)"):
    model_dir.load_encoder(str(tmp_path / "edited"))
