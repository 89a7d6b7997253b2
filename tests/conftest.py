"""Fixtures shared by tests/: tiny datasets built once per session in a temp dir."""

import dataclasses

import numpy as np
import pytest

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir
from mobile_ssl.core import recipes
from mobile_ssl.data import datasets
from tests import audio_fixtures


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="session")
def tiny_synthetic(data_dir):
  """synthetic_audio/tiny: 12/4/4 clips of 2-3 s, labels event and pitch."""
  return datasets.builder("synthetic_audio/tiny", data_dir=data_dir)


@pytest.fixture(scope="session")
def tone_folder(tmp_path_factory):
  """A folder with two classes of generated clips in several formats and rates."""
  root = tmp_path_factory.mktemp("tones")
  rng = np.random.default_rng(0)
  for label, base_hz in (("low", 300.0), ("high", 2500.0)):
    (root / label).mkdir()
    for i in range(6):
      seconds = [0.4, 1.5, 2.5][i % 3]  # one clip shorter than a slice
      x = audio_fixtures.sine(seconds, base_hz * rng.uniform(0.9, 1.1), rate=22050)
      audio_fixtures.write(root / label / f"{label}{i}.{'wav' if i % 2 else 'flac'}", x, 22050)
  return str(root)


@pytest.fixture(scope="session")
def long_synthetic(data_dir):
  """24 synthetic clips of 5.5-7 s: long enough for every task's context."""
  from mobile_ssl_tfds.synthetic_audio import synthetic_audio_dataset_builder as builder_lib
  config = builder_lib.SyntheticConfig(name="test_long", num_train=24, num_validation=0,
                                       num_test=0, min_seconds=5.5, max_seconds=7.0)
  builder = builder_lib.Builder(config=config, data_dir=data_dir)
  builder.download_and_prepare()
  return builder


@pytest.fixture(scope="session")
def tiny_tflite(tmp_path_factory):
  """A tiny encoder (recipes.tiny(), seed 0) converted to float32 and int8 log-mel .tflite files.

  {'encoder': the Keras encoder, 'input': an .npy of one real log-mel window,
   'float32': path, 'int8': path}.
  """
  from mobile_ssl.export import convert
  from mobile_ssl.export import inference_model as inference_model_lib
  tiny = recipes.tiny()
  folder = tmp_path_factory.mktemp("tiny_tflite")
  encoder = encoder_lib.build_encoder(tiny.encoder, tiny.features, seed=0)
  model = inference_model_lib.inference_model(encoder, tiny.features, "log_mel")
  log_mels = audio_fixtures.log_mels()
  paths = {"encoder": encoder, "input": str(folder / "input.npy")}
  np.save(paths["input"], log_mels[:1])
  for precision in ("float32", "int8"):
    paths[precision] = str(folder / f"tiny_{precision}.tflite")
    with open(paths[precision], "wb") as f:
      f.write(convert.convert(model, precision, [x[None] for x in log_mels]))
  return paths


@pytest.fixture(scope="session")
def models(tiny_tflite):
  """The tiny encoder's float32 and int8 .tflite files, as the benchmark tests name them."""
  return tiny_tflite


@pytest.fixture(scope="session")
def fsdd_like(tmp_path_factory):
  """A folder of FSDD-named clips: 3 speakers x 2 digits x 8 takes (audio_fixtures)."""
  return audio_fixtures.write_fsdd_like(tmp_path_factory.mktemp("fsdd"))


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory):
  """A run directory: the tiny encoder (seed 0) whose params name synthetic_audio/tiny."""
  params = dataclasses.replace(recipes.tiny(), datasets=("synthetic_audio/tiny",))
  path = str(tmp_path_factory.mktemp("run"))
  model_dir.save_encoder(path, encoder_lib.build_encoder(params.encoder, params.features, seed=0),
                         params)
  return path
