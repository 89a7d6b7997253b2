"""A training run's directory: params.json, checkpoints/, encoder.keras.

`mobile-ssl-train` writes the resolved `Params` as params.json before the
first step, checkpoints under checkpoints/ while it runs, and at the end the
encoder alone as encoder.keras. Evaluation, export and the HEAR module load
an encoder only through `load_encoder`, which checks the format version.
"""

import json
import os
import pathlib
import typing

import keras

from mobile_ssl.core import atomic
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib

PARAMS_FILE = "params.json"
# load_model needs the encoder's custom layers registered: importing the module does it.
CUSTOM_LAYERS = (encoder_lib.TimeMeanStd, encoder_lib.TimeMeanSubtract)
ENCODER_FILE = "encoder.keras"
CHECKPOINT_DIR = "checkpoints"
FORMAT_VERSION = params_lib.Params().version


def params_path(model_dir: str) -> str:
  return os.path.join(model_dir, PARAMS_FILE)


def encoder_path(model_dir: str) -> str:
  return os.path.join(model_dir, ENCODER_FILE)


def write_params(model_dir: str, params: params_lib.Params) -> None:
  os.makedirs(model_dir, exist_ok=True)
  atomic.write_text(params_path(model_dir), params.to_json() + "\n")


def read_params(model_dir: str) -> params_lib.Params:
  """Params of a run; a clear ValueError for anything that is not one."""
  path = params_path(model_dir)
  if not os.path.isdir(model_dir):
    raise ValueError(f"{model_dir}: encoder directory not found")
  if not os.path.isfile(path):
    raise ValueError(f"{model_dir}: not a mobile_ssl run directory (no {PARAMS_FILE})")
  try:
    values = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}: not valid JSON ({e})") from None
  version = values.get("version")
  if version != FORMAT_VERSION:
    raise ValueError(f"{path}: format version {version!r}, this mobile_ssl reads "
                     f"version {FORMAT_VERSION}; re-train or use a matching release")
  try:
    return params_lib.from_dict(values)
  except (TypeError, ValueError) as e:
    raise ValueError(f"{path}: incompatible params ({e})") from None


def save_encoder(model_dir: str, model: keras.Model, params: params_lib.Params) -> str:
  """Writes encoder.keras (atomically) and params.json; returns the encoder path."""
  write_params(model_dir, params)
  path = encoder_path(model_dir)
  with atomic.replacing(path, suffix=".keras") as tmp:
    model.save(tmp)
  return path


def load_encoder(model_dir: str) -> typing.Tuple[keras.Model, params_lib.Params]:
  """(the Keras model named 'encoder', its Params) of a finished run."""
  params = read_params(model_dir)
  path = encoder_path(model_dir)
  if not os.path.isfile(path):
    raise ValueError(f"{model_dir}: no {ENCODER_FILE}; the run has not finished "
                     "(resume it with the same mobile-ssl-train command)")
  model = keras.models.load_model(path, compile=False)
  expected = (None, params.features.slice_frames, params.features.num_mel_bins, 1)
  if tuple(model.input_shape) != expected or model.output_shape[-1] != params.encoder.output_dim(params.features):
    raise ValueError(f"{path}: shapes {model.input_shape}->{model.output_shape} do not match "
                     f"params.json ({expected}->{params.encoder.output_dim(params.features)})")
  return model, params
