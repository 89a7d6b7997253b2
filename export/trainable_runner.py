"""The trainable .tflite (export/trainable.py) in LiteRT: what a device runs, without TensorFlow.

Only numpy and `ai_edge_litert` are imported, so a federated client process
(mobile_ssl/federated/device.py) stays as light as the phone's runtime: no TF import,
and none of its hundreds of MB of memory, per client.
"""

import os
import typing

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from mobile_ssl.core import atomic

SIGNATURES = ("log_mel", "embed", "embed_waveform", "train", "train_head", "infer_head", "save",
              "restore")
PARTS = ("encoder", "pretext_head", "classifier_head")
# The optimizer state's save/restore (2026-12-04): absent from older files.
OPTIONAL_SIGNATURES = ("save_optimizer", "restore_optimizer")


class TrainableRunner:
  """The trainable .tflite in `ai_edge_litert`: numpy in, numpy out, checkpoints as .npz."""

  def __init__(self, model_path: str, num_threads: int = 1):
    if not os.path.isfile(model_path):
      raise ValueError(f"{model_path}: trainable .tflite not found")
    self.interpreter = Interpreter(model_path=model_path, num_threads=num_threads)
    found = set(self.interpreter.get_signature_list())
    missing = sorted(set(SIGNATURES) - found)
    if missing:
      raise ValueError(f"{model_path}: not a trainable .tflite (missing signatures {missing})")
    names = list(SIGNATURES) + [n for n in OPTIONAL_SIGNATURES if n in found]
    self._runners = {n: self.interpreter.get_signature_runner(n) for n in names}
    self.has_optimizer_state = all(n in found for n in OPTIONAL_SIGNATURES)
    self.train_batch = int(self._runners["train"].get_input_details()["anchor"]["shape"][0])

  def log_mel(self, waveform: np.ndarray) -> np.ndarray:
    """[1, slice_samples] float32 -> [1, frames, bins, 1]."""
    return self._runners["log_mel"](waveform=np.asarray(waveform, np.float32))["log_mel"]

  def embed(self, log_mel: np.ndarray) -> np.ndarray:
    return self._runners["embed"](log_mel=np.asarray(log_mel, np.float32))["embedding"]

  def train(self, anchor: np.ndarray, positive: np.ndarray, learning_rate: float) -> float:
    """One optimizer step at `learning_rate` (the schedule's rate for this step); the loss."""
    out = self._runners["train"](anchor=np.asarray(anchor, np.float32),
                                 positive=np.asarray(positive, np.float32),
                                 learning_rate=np.asarray([learning_rate], np.float32))
    return float(out["loss"])

  def train_head(self, log_mel: np.ndarray, label: np.ndarray) -> float:
    out = self._runners["train_head"](log_mel=np.asarray(log_mel, np.float32),
                                      label=np.asarray(label, np.int32))
    return float(out["loss"])

  def infer_head(self, log_mel: np.ndarray) -> np.ndarray:
    return self._runners["infer_head"](log_mel=np.asarray(log_mel, np.float32))["scores"]

  def get_weights(self) -> typing.Dict[str, np.ndarray]:
    """{'encoder', 'pretext_head', 'classifier_head'}: flat float32 copies."""
    return {k: np.array(v) for k, v in self._runners["save"]().items()}

  def set_weights(self, weights: typing.Dict[str, np.ndarray]) -> None:
    """Replaces any of the three parts; the others keep their values."""
    current = self.get_weights()
    for key, value in weights.items():
      if key not in current:
        raise ValueError(f"unknown weight part {key!r}; valid: {PARTS}")
      if np.shape(value) != current[key].shape:
        raise ValueError(f"{key}: {np.shape(value)} values, the file holds {current[key].shape}")
      current[key] = np.asarray(value, np.float32)
    self._runners["restore"](**current)

  def get_optimizer_state(self) -> np.ndarray:
    """The `train` optimizer's step and moments, one flat float32 vector (stays on the device)."""
    return np.array(self._runners["save_optimizer"]()["optimizer"])

  def set_optimizer_state(self, state: np.ndarray) -> None:
    size = self._runners["restore_optimizer"].get_input_details()["optimizer"]["shape"][0]
    if np.shape(state) != (size,):
      raise ValueError(f"optimizer state of {np.shape(state)} values, the file holds ({size},)")
    self._runners["restore_optimizer"](optimizer=np.asarray(state, np.float32))

  def save_checkpoint(self, path: str) -> None:
    """All three parts to an .npz file, written atomically."""
    atomic.write_arrays(path, self.get_weights())

  def restore_checkpoint(self, path: str) -> None:
    try:
      weights = atomic.read_arrays(path)
    except (OSError, ValueError) as e:
      raise ValueError(f"{path}: not a trainable checkpoint ({e})") from None
    self.set_weights(weights)
