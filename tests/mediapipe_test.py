"""Our .tflite files in the real MediaPipe Tasks, each version in a throw-away venv (slow).

* AudioClassifier of the newest mediapipe (MEDIAPIPE_CURRENT) on an
  `export_tflite --classifier_task` file: the label names from the file's
  label map, and the top class of mobile-ssl-eval's probe on FSDD clips, in
  clip mode (16 kHz audio; the 8 kHz files resampled by MediaPipe are only
  checked for windows and names) and in
  audio-stream mode (against `StreamingEmbedder` on the same file).
* AudioEmbedder of mediapipe 0.10.21 (MEDIAPIPE_LEGACY, the last release
  whose Python AudioEmbedder takes a .tflite; 1.x wants .litertlm) on a
  waveform embedder file, against `TFLiteEmbedder`.

MediaPipe pins numpy/protobuf versions that TF 2.21 does not accept, so each
version runs tests/mediapipe_runner.py in its own venv, pip-installed here
(or given: MEDIAPIPE_PYTHON / MEDIAPIPE_LEGACY_PYTHON name its python). An
install that fails is a test failure, not a skip: a CI that cannot install
MediaPipe must not report these checks as passed. FSDD is read from
$FSDD_DIR, by default ../shared/data/fsdd/recordings beside the repository;
a small subset is copied so the test stays small.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from mobile_ssl.core import audio
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import streaming
from mobile_ssl.data import downstream
from mobile_ssl.data import pipeline
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import probe
from mobile_ssl.evaluation import window_embeddings
from mobile_ssl.export import export_params as export_params_lib
from mobile_ssl.export import exporter
from mobile_ssl.export import tflite_embedder as embedder_lib
from tests import audio_fixtures

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(REPO, "tests", "mediapipe_runner.py")
FSDD_DIR = os.environ.get("FSDD_DIR", os.path.join(REPO, "..", "shared", "data", "fsdd",
                                                   "recordings"))
# The newest on PyPI when written (`pip index versions mediapipe`, 2026-12).
MEDIAPIPE_CURRENT = "1.2.3"
MEDIAPIPE_LEGACY = "0.10.21"
DIGITS, SPEAKERS = range(5), ("george", "jackson")
TEST_TAKES, TRAIN_TAKES = range(3), range(5, 15)  # takes 0-4 are FSDD's test split
SLICE = params_lib.FeatureParams().slice_samples
# Each MediaPipe version is pip-installed into a venv by the first test that needs it.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]


def _mediapipe_python(root, version: str, variable: str) -> str:
  """The python of a venv holding mediapipe==version (made here unless `variable` names one)."""
  if os.environ.get(variable):
    return os.environ[variable]
  venv = os.path.join(str(root), f"mediapipe_{version}")
  steps = ([getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv],
           [os.path.join(venv, "bin", "pip"), "install", "--quiet", f"mediapipe=={version}"])
  for step in steps:
    result = subprocess.run(step, capture_output=True, text=True, timeout=900)
    if result.returncode:
      pytest.fail(f"cannot install mediapipe=={version} ({' '.join(step[-2:])}): "
                  f"{result.stderr[-500:]}; set {variable} to a python that has it")
  return os.path.join(venv, "bin", "python")


def _run(python: str, job: dict, folder) -> dict:
  job_path, out_path = os.path.join(str(folder), "job.json"), os.path.join(str(folder), "out.json")
  with open(job_path, "w") as f:
    json.dump(job, f)
  result = subprocess.run([python, RUNNER, job_path, out_path], capture_output=True, text=True,
                          timeout=600, env=dict(os.environ, PYTHONPATH=""))
  assert result.returncode == 0, result.stderr[-3000:]
  with open(out_path) as f:
    return json.load(f)


def _save(folder, name: str, waveform: np.ndarray, rate: int) -> dict:
  path = os.path.join(str(folder), f"{name}.npy")
  np.save(path, np.asarray(waveform, np.float32))
  return {"path": path, "rate": rate}


@pytest.fixture(scope="module")
def current_python(tmp_path_factory):
  return _mediapipe_python(tmp_path_factory.mktemp("venv"), MEDIAPIPE_CURRENT, "MEDIAPIPE_PYTHON")


@pytest.fixture(scope="module")
def legacy_python(tmp_path_factory):
  return _mediapipe_python(tmp_path_factory.mktemp("venv"), MEDIAPIPE_LEGACY,
                           "MEDIAPIPE_LEGACY_PYTHON")


@pytest.fixture(scope="module")
def fsdd_subset(tmp_path_factory):
  """5 digits x 2 speakers: 3 test and 10 train takes each (130 of FSDD's 3000 files)."""
  if not os.path.isdir(FSDD_DIR):
    pytest.fail(f"FSDD not found at {FSDD_DIR}; set FSDD_DIR to its recordings folder")
  root = tmp_path_factory.mktemp("fsdd") / "recordings"
  root.mkdir()
  for digit in DIGITS:
    for speaker in SPEAKERS:
      for take in list(TEST_TAKES) + list(TRAIN_TAKES):
        name = f"{digit}_{speaker}_{take}.wav"
        shutil.copy(os.path.join(FSDD_DIR, name), root / name)
  return str(root)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  tiny = recipes.tiny()
  run = str(tmp_path_factory.mktemp("run") / "tiny")
  model_dir.save_encoder(run, encoder_lib.build_encoder(tiny.encoder, tiny.features, seed=0),
                         tiny)
  return run


@pytest.fixture(scope="module")
def digit_classifier(tiny_run, fsdd_subset, data_dir, tmp_path_factory):
  """(classifier .tflite, export report, task) for FSDD digits."""
  path = str(tmp_path_factory.mktemp("clf") / "digits.tflite")
  report = exporter.export_encoder(tiny_run, path, export_params_lib.ExportParams(
      classifier_task=f"{fsdd_subset}:digit", data_dir=data_dir))
  return path, report, downstream.load_task(f"{fsdd_subset}:digit", data_dir)


def _eval_probe(run: str, task: downstream.TaskData):
  """mobile-ssl-eval's linear probe (`linear_eval.linear`'s code) -> test window probabilities."""
  encoder, params = model_dir.load_encoder(run)
  eval_params = eval_params_lib.EvalParams()
  train, test = [window_embeddings.embed_split(encoder, params.features, task, split,
                                               eval_params.hop_seconds)
                 for split in ("train", "test")]
  model = probe.train(train["embeddings"], task.index(train["labels"]), train["clips"],
                      task.num_classes, seed=eval_params.seed)
  return model.probabilities(test["embeddings"].astype(np.float64)), test["clips"]


def _scores(row: dict) -> np.ndarray:
  return np.array([score for _, _, score in row["categories"]])


def test_audio_classifier_names_and_top_class_match_the_eval_probe(
    current_python, digit_classifier, tiny_run, fsdd_subset, tmp_path):
  path, report, task = digit_classifier
  assert report["passed"] and report["classifier"]["labels"] == task.class_names
  probabilities, clips = _eval_probe(tiny_run, task)
  waveforms = [c["waveform"] for c in pipeline.clips(task.builder, "test").as_numpy_iterator()]
  names = [e["filename"].decode() for e in tfds.as_numpy(task.builder.as_dataset(
      split="test", shuffle_files=False, decoders={"audio": tfds.decode.SkipDecoding()}))]
  assert len(waveforms) == len(names) == len(DIGITS) * len(SPEAKERS) * len(TEST_TAKES)
  inputs = [_save(tmp_path, f"clip{i}", w, 16000) for i, w in enumerate(waveforms)]
  raw = [_save(tmp_path, f"raw{i}", audio.read(os.path.join(fsdd_subset, n), 8000), 8000)
         for i, n in enumerate(names)]
  out = _run(current_python, {"task": "classify", "mode": "clips", "model": path,
                              "inputs": inputs + raw}, tmp_path)
  assert out["mediapipe"] == MEDIAPIPE_CURRENT
  at_16k, at_8k = out["results"][:len(inputs)], out["results"][len(inputs):]
  compared = 0
  for i, waveform in enumerate(waveforms):
    rows = at_16k[i]
    assert [r["timestamp_ms"] for r in rows] == [975 * k for k in range(len(rows))]
    for row in rows:  # every class, named from the label map
      assert [(index, name) for index, name, _ in row["categories"]] == list(
          enumerate(task.class_names))
    if len(waveform) <= SLICE:  # one window, for the probe and for MediaPipe alike
      (row,) = rows
      (window,) = probabilities[clips == i]
      assert np.argmax(_scores(row)) == np.argmax(window), names[i]
      np.testing.assert_allclose(_scores(row), window, atol=2e-3)
      compared += 1
    # The 8 kHz files, resampled by MediaPipe's own filter: the same windows
    # and names. Its top class is not asserted: this tiny untrained encoder's
    # head flips on any change of the waveform (a 20-sample delay of our own
    # resampling flips half the clips; docs/export.md).
    assert len(at_8k[i]) == len(rows)
    for row in at_8k[i]:
      assert [name for _, name, _ in row["categories"]] == task.class_names
      assert _scores(row).sum() == pytest.approx(1.0, abs=1e-4)
  assert compared >= 20  # most FSDD clips are shorter than 975 ms


def test_audio_classifier_stream_mode_matches_streaming_embedder(
    current_python, digit_classifier, tmp_path):
  path, _, task = digit_classifier
  stream = np.concatenate([c["waveform"] for c in pipeline.clips(task.builder, "test")
                           .as_numpy_iterator()][:12])
  chunk = 1600  # 100 ms blocks, as a microphone callback delivers them
  out = _run(current_python, {"task": "classify", "mode": "stream", "model": path,
                              "inputs": [_save(tmp_path, "stream", stream, 16000)],
                              "chunk_samples": chunk}, tmp_path)
  streamer = streaming.StreamingEmbedder(embedder_lib.TFLiteEmbedder(path), hop_seconds=0.975)
  ours = []
  for start in range(0, len(stream), chunk):
    ours += streamer.push(stream[start:start + chunk])
  complete = len(ours)
  ours += streamer.flush()
  rows = out["results"]
  # Back-to-back 975 ms windows; closing the stream scores the padded tail
  # (MediaPipe stamps it at the end of time, int64 max in microseconds).
  assert len(rows) == len(ours) and complete == len(stream) // SLICE
  for k, (row, (centre_s, scores)) in enumerate(zip(rows, ours)):
    if k < complete:
      assert row["timestamp_ms"] == 975 * k == round(1000 * centre_s - 487.5)
    np.testing.assert_allclose(_scores(row), scores, atol=1e-5)
    assert row["categories"][int(np.argmax(scores))][1] == task.class_names[np.argmax(scores)]


def test_legacy_audio_embedder_matches_tflite_embedder(legacy_python, tiny_run, fsdd_subset,
                                                      data_dir, tmp_path):
  path = str(tmp_path / "embedder.tflite")
  exporter.export_encoder(tiny_run, path, export_params_lib.ExportParams(validation_data=fsdd_subset,
                                                            data_dir=data_dir))
  x = np.concatenate([audio_fixtures.chirp(1.5), audio_fixtures.noise(1.2, seed=7),
                      audio_fixtures.sine(0.8, 660.0)])  # 3.5 s at 16 kHz
  lite = embedder_lib.TFLiteEmbedder(path)
  streamer = streaming.StreamingEmbedder(lite, hop_seconds=0.975)
  ours = np.stack([e for _, e in streamer.push(x) + streamer.flush()])  # MediaPipe pads the tail
  stamps, offline = lite.embed(x, 16000, hop_seconds=0.975)
  np.testing.assert_array_equal(ours[:len(stamps)], offline)
  for mode, extra in (("clips", {}), ("stream", {"chunk_samples": 1600})):
    out = _run(legacy_python, {"task": "embed", "mode": mode, "model": path,
                               "inputs": [_save(tmp_path, "x", x, 16000)], **extra}, tmp_path)
    assert out["mediapipe"] == MEDIAPIPE_LEGACY
    rows = out["results"][0] if mode == "clips" else out["results"]
    theirs = np.array([row["embedding"] for row in rows])
    assert theirs.shape == ours.shape, mode
    cosine = np.sum(theirs * ours, 1) / np.linalg.norm(theirs, axis=1) / np.linalg.norm(ours,
                                                                                       axis=1)
    assert cosine.min() > 0.9999, (mode, cosine)
