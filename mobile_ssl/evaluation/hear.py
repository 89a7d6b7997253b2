"""The HEAR 2021 API (hearbenchmark.com/hear-api.html) over a mobile_ssl encoder.

`hear-validator mobile_ssl.evaluation.hear [-m RUN_DIR]` and hear-eval-kit's
`python3 -m heareval.embeddings.runner mobile_ssl.evaluation.hear --model RUN_DIR` call
the three functions below. The model is a `tf.Module` (HEAR tells TensorFlow
from PyTorch models with `isinstance(model, tf.Module)`, which a Keras 3 model
is not) holding a `KerasEmbedder` and the three int attributes HEAR reads.

Timestamp embeddings: 975 ms windows every 50 ms, centred on their
timestamps (half a window of silence padded at both ends), so timestamps run
from 0 ms to within 50 ms of the end of the audio. 50 ms is the coarsest hop
HEAR accepts without a warning (its event tasks score onsets with a 50 ms
tolerance), so it costs the fewest encoder calls (each window is 8.4 M
multiply-adds at width 1.0); it is also a whole number of samples (800) and of
STFT hops (5), so window starts never drift from their timestamps.

Scene embeddings: the mean over the windows at the evaluation hop (0.5 s,
not centred), i.e. exactly `Embedder.scene_embeddings`, the clip embedding
that `mobile-ssl-eval`'s linear probe sees, at a tenth of the cost of
averaging the 50 ms timestamp embeddings.
"""

import os
import typing

import numpy as np
import tensorflow as tf

from mobile_ssl.core import embedding
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib

TIMESTAMP_HOP_SECONDS = 0.05
SCENE_HOP_SECONDS = 0.5
# Windows per encoder call: bounds memory (the float64 STFT of 256 windows
# is ~100 MB) whatever the length of the audio.
BATCH_SIZE = 256
# load_model("") gives this seeded random init of the default (width 1.0)
# encoder, so the API can be validated without weights.
DEFAULT_SEED = 0


class HearModel(tf.Module):
  """What `load_model` returns: an embedder plus the attributes HEAR reads."""

  def __init__(self, embedder: embedding.Embedder, name: str = "mobile_ssl"):
    super().__init__(name=name)
    self.embedder = embedder
    self.sample_rate = int(embedder.sample_rate_hz)
    self.scene_embedding_size = int(embedder.embedding_dim)
    self.timestamp_embedding_size = int(embedder.embedding_dim)


def load_model(model_file_path: str = "") -> HearModel:
  """Loads a run directory (or its encoder.keras) as a HEAR model.

  Args:
    model_file_path: a `mobile-ssl-train` run directory, or the path of the
      encoder.keras inside one; "" gives the seeded untrained width-1.0
      encoder (a baseline, and what `hear-validator` checks by default).

  Raises:
    ValueError: the path is not a compatible run directory (model_dir's message).
  """
  if not model_file_path:
    params = params_lib.Params()
    encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=DEFAULT_SEED)
    return HearModel(embedding.KerasEmbedder(encoder=encoder, params=params))
  path = os.fspath(model_file_path)
  if os.path.isfile(path) and os.path.basename(path) == model_dir_lib.ENCODER_FILE:
    path = os.path.dirname(path) or "."
  return HearModel(embedding.KerasEmbedder(path))


def _sounds(audio, model: HearModel) -> np.ndarray:
  if not isinstance(model, HearModel):
    raise ValueError(f"expected the model from mobile_ssl.evaluation.hear.load_model, got {type(model)}")
  sounds = np.asarray(audio, dtype=np.float32)
  if sounds.ndim != 2 or 0 in sounds.shape:
    raise ValueError(f"audio must be [n_sounds, n_samples] at {model.sample_rate} Hz, "
                     f"got shape {sounds.shape}")
  return sounds


def get_timestamp_embeddings(audio, model: HearModel) -> typing.Tuple[tf.Tensor, tf.Tensor]:
  """Embeddings every 50 ms, centred on their timestamps.

  Args:
    audio: float32 [n_sounds, n_samples] in [-1, 1] at `model.sample_rate`
      (a tf.Tensor or an array).
    model: from `load_model`.

  Returns:
    (embeddings float32 [n_sounds, n_timestamps, timestamp_embedding_size],
     timestamps float32 [n_sounds, n_timestamps] in milliseconds).
  """
  sounds = _sounds(audio, model)
  results = model.embedder.embed_batch(list(sounds), model.sample_rate,
                                       hop_seconds=TIMESTAMP_HOP_SECONDS, centre=True,
                                       batch_size=BATCH_SIZE)
  embeddings = np.stack([e for _, e in results]).astype(np.float32)
  timestamps = np.stack([t for t, _ in results]) * 1000.0
  return tf.constant(embeddings, tf.float32), tf.constant(timestamps, tf.float32)


def get_scene_embeddings(audio, model: HearModel) -> tf.Tensor:
  """One embedding per sound: the mean over its 975 ms windows (0.5 s hop).

  Args:
    audio: float32 [n_sounds, n_samples] at `model.sample_rate`.
    model: from `load_model`.

  Returns:
    float32 [n_sounds, scene_embedding_size].
  """
  sounds = _sounds(audio, model)
  scenes = model.embedder.scene_embeddings(list(sounds), model.sample_rate,
                                           hop_seconds=SCENE_HOP_SECONDS,
                                           batch_size=BATCH_SIZE)
  return tf.constant(scenes, tf.float32)
