"""Tests of export_tflite's main() in-process: every input it cannot use is one line, exit code 2.

The exports themselves (conversion, validation, probe, classifier) are in tests/export_test.py.
"""

import dataclasses
import json
import os

import pytest

from mobile_ssl.commands import export_tflite
from mobile_ssl.core import recipes
from mobile_ssl.export import export_params as export_params_lib
from tests import model_fixtures


DATASET = "synthetic_audio/tiny"
PARAMS = dataclasses.replace(recipes.tiny(), datasets=(DATASET,))


def test_bad_input_is_one_clear_line(encoder_dir, tmp_path, capsys):
  not_run = tmp_path / "not_a_run"
  not_run.mkdir()
  old_run = tmp_path / "old_run"
  old_run.mkdir()
  (old_run / "params.json").write_text(json.dumps(dict(PARAMS.to_dict(), version=99)))
  locked = tmp_path / "locked"
  locked.mkdir()
  os.chmod(locked, 0o555)
  if os.access(locked, os.W_OK):  # root ignores modes; no one may create files here
    locked = "/proc/self"
  out_file = str(tmp_path / "x.tflite")
  cases = [
      ([f"--encoder={tmp_path / 'missing'}", f"--output={out_file}"],
       "missing: encoder directory not found"),
      ([f"--encoder={not_run}", f"--output={out_file}"], "not a mobile_ssl run directory"),
      ([f"--encoder={old_run}", f"--output={out_file}"], "format version 99"),
      ([f"--encoder={encoder_dir}", f"--output={tmp_path / 'nowhere' / 'x.tflite'}"],
       "nowhere: output folder does not exist"),
      ([f"--encoder={encoder_dir}", f"--output={locked}/x.tflite"],
       f"{locked}: output folder is not writable"),
      ([f"--encoder={encoder_dir}", f"--output={tmp_path}"], "output is a folder"),
      ([f"--encoder={encoder_dir}", f"--output={out_file}", "--min_mean_cosine=1.5"],
       "--min_mean_cosine=1.5"),
  ]
  for args, message in cases:
    code, out, err = model_fixtures.run_command(export_tflite, args, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, (args, err)
  assert not os.path.exists(out_file)
  with pytest.raises(ValueError, match="unknown quantization 'int4'; valid: float32"):
    export_params_lib.ExportParams(quantization="int4").validate()


def test_bad_combinations_are_one_line(encoder_dir, tmp_path, capsys):
  out_file = str(tmp_path / "x.tflite")
  for args, message in (
      (["--input=log_mel"], "--classifier_task needs --input=waveform"),
      (["--probe_task=SYN_EVENT"], "drop --probe_task")):
    code, out, err = model_fixtures.run_command(export_tflite, [f"--encoder={encoder_dir}", f"--output={out_file}",
                               f"--classifier_task={DATASET}:event"] + args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err, err
  assert not os.path.exists(out_file)
