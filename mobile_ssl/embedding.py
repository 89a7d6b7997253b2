"""Embedding API: audio of any length -> (timestamps, embeddings), batched.

One framing and batching loop (`Embedder.embed`) serves every backend: the
Keras encoder here (`KerasEmbedder`) and the .tflite runner in
export/embedder.py. A backend only implements `embed_windows`, which maps
975 ms waveform windows [n, 15600] to embeddings [n, d].

Timestamps are window centres in seconds. With `centre=True` the audio is
padded by half a window at both ends so timestamps run from 0 to the end of
the audio (the HEAR convention); otherwise the first window starts at 0 and a
clip shorter than 975 ms is zero-padded to one window.
"""

import typing

import numpy as np
import tensorflow as tf

from mobile_ssl import audio
from mobile_ssl import features
from mobile_ssl import model_dir as model_dir_lib
from mobile_ssl import params as params_lib


class Embedder:
  """Base class: framing, batching, file reading, scene embeddings."""

  def __init__(self, feature_params: params_lib.FeatureParams, embedding_dim: int):
    self.feature_params = feature_params
    self.embedding_dim = int(embedding_dim)

  @property
  def sample_rate_hz(self) -> int:
    return self.feature_params.sample_rate_hz

  def embed_windows(self, windows: np.ndarray) -> np.ndarray:
    """[n, slice_samples] float32 -> [n, embedding_dim] float32."""
    raise NotImplementedError

  def _waveform(self, audio_or_path, sample_rate_hz) -> np.ndarray:
    if isinstance(audio_or_path, (str, bytes)) or hasattr(audio_or_path, "__fspath__"):
      return audio.read(audio_or_path, self.sample_rate_hz)
    waveform = np.asarray(audio_or_path, dtype=np.float32)
    if waveform.ndim == 2:  # [samples, channels]
      waveform = audio.to_mono(waveform)
    if waveform.ndim != 1 or waveform.size == 0:
      raise ValueError(f"expected mono audio [samples] (or [samples, channels]), "
                       f"got shape {np.shape(audio_or_path)}")
    if not np.all(np.isfinite(waveform)):
      raise ValueError("audio contains NaN/Inf samples")
    if sample_rate_hz is None:
      raise ValueError("pass sample_rate_hz with a waveform array")
    return audio.resample(waveform, int(sample_rate_hz), self.sample_rate_hz)

  def embed(self, audio_or_path, sample_rate_hz: typing.Optional[int] = None, *,
            hop_seconds: float = 0.5, centre: bool = False, batch_size: int = 64):
    """Embeds every 975 ms window of a file or waveform.

    Args:
      audio_or_path: a path to an audio file, or a float waveform [samples]
        (or [samples, channels]) in [-1, 1].
      sample_rate_hz: rate of a waveform array (resampled to 16 kHz).
      hop_seconds: distance between windows.
      centre: pad half a window at both ends (HEAR convention).
      batch_size: windows per call to the backend.

    Returns:
      (timestamps [n] float64 seconds (window centres), embeddings [n, d] float32).
    """
    waveform = self._waveform(audio_or_path, sample_rate_hz)
    windows, timestamps = features.frame_waveform(waveform, hop_seconds, self.feature_params,
                                                  centre=centre)
    outputs = [self.embed_windows(windows[i:i + batch_size])
               for i in range(0, len(windows), batch_size)]
    return timestamps, np.concatenate(outputs).astype(np.float32)

  def scene_embedding(self, audio_or_path, sample_rate_hz=None, **kwargs) -> np.ndarray:
    """The mean over time of `embed`: one [d] vector per clip."""
    return self.embed(audio_or_path, sample_rate_hz, **kwargs)[1].mean(axis=0)


class KerasEmbedder(Embedder):
  """Runs the Keras encoder of a run directory (log-mel computed in TF)."""

  def __init__(self, model_dir: str = "", *, encoder=None,
               params: typing.Optional[params_lib.Params] = None):
    if encoder is None:
      encoder, params = model_dir_lib.load_encoder(model_dir)
    params = params or params_lib.Params()
    super().__init__(params.features, params.encoder.embedding_dim)
    self.encoder = encoder
    feature_params = params.features

    @tf.function(input_signature=[tf.TensorSpec([None, feature_params.slice_samples], tf.float32)],
                 reduce_retracing=True)
    def _run(windows):
      log_mel = features.log_mel_spectrogram(windows, feature_params)
      return self.encoder(tf.expand_dims(log_mel, -1), training=False)

    self._run = _run

  def embed_windows(self, windows: np.ndarray) -> np.ndarray:
    return self._run(tf.constant(windows, tf.float32)).numpy()
