"""Embedding API: audio of any length -> (timestamps, embeddings), batched.

One framing and batching loop (`Embedder.embed_batch`, behind `embed`,
`embed_files` and `scene_embeddings`) serves every backend: the
Keras encoder here (`KerasEmbedder`) and the .tflite runner in
export/tflite_embedder.py. A backend only implements `embed_windows`, which maps
975 ms waveform windows [n, 15600] to embeddings [n, d].

Timestamps are window centres in seconds. With `centre=True` the audio is
padded by half a window at both ends so timestamps run from 0 to the end of
the audio (the HEAR convention); otherwise the first window starts at 0 and a
clip shorter than 975 ms is zero-padded to one window.
"""

import typing

import numpy as np
import tensorflow as tf

from mobile_ssl.core import audio
from mobile_ssl.core import features
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib


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
    return self.embed_batch([audio_or_path], sample_rate_hz, hop_seconds=hop_seconds,
                            centre=centre, batch_size=batch_size)[0]

  def embed_batch(self, items: typing.Sequence, sample_rate_hz: typing.Optional[int] = None, *,
                  hop_seconds: float = 0.5, centre: bool = False, batch_size: int = 64
                  ) -> typing.List[typing.Tuple[np.ndarray, np.ndarray]]:
    """Embeds several files or waveforms, their windows sharing backend batches.

    Short items do not each cost a partly filled batch: windows of consecutive
    items are packed into the same `embed_windows` call, and the result is
    exactly what `embed` gives for each item alone.

    Args:
      items: paths and/or waveforms (as for `embed`), of any lengths.
      sample_rate_hz: rate of the waveform arrays (all the same).
      hop_seconds, centre, batch_size: as for `embed`.

    Returns:
      one (timestamps [n_i] float64 s, embeddings [n_i, d] float32) per item.
    """
    if batch_size < 1:
      raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    counts, timestamps, pending, outputs = [], [], [], []
    pending_size = 0
    for item in items:
      windows, stamps = features.frame_waveform(
          self._waveform(item, sample_rate_hz), hop_seconds, self.feature_params, centre=centre)
      counts.append(len(windows))
      timestamps.append(stamps)
      pending.append(windows)
      pending_size += len(windows)
      # Embed full batches as soon as they exist: memory stays at one item.
      if pending_size >= batch_size:
        windows = np.concatenate(pending)
        full = len(windows) - len(windows) % batch_size
        outputs += [self.embed_windows(windows[i:i + batch_size])
                    for i in range(0, full, batch_size)]
        pending, pending_size = [windows[full:]], len(windows) - full
    if pending_size:
      outputs.append(self.embed_windows(np.concatenate(pending)))
    embeddings = (np.concatenate(outputs).astype(np.float32) if outputs
                  else np.zeros((0, self.embedding_dim), np.float32))
    bounds = np.cumsum([0] + counts)
    return [(stamps, embeddings[start:end])
            for stamps, start, end in zip(timestamps, bounds[:-1], bounds[1:])]

  def embed_files(self, paths: typing.Sequence[str], **kwargs):
    """`embed_batch` over audio files: one (timestamps, embeddings) per file."""
    return self.embed_batch(list(paths), **kwargs)

  def scene_embedding(self, audio_or_path, sample_rate_hz=None, **kwargs) -> np.ndarray:
    """The mean over time of `embed`: one [d] vector per clip."""
    return self.embed(audio_or_path, sample_rate_hz, **kwargs)[1].mean(axis=0)

  def scene_embeddings(self, items: typing.Sequence, sample_rate_hz=None, **kwargs) -> np.ndarray:
    """Scene embeddings [len(items), d] float32 of several files or waveforms."""
    results = self.embed_batch(items, sample_rate_hz, **kwargs)
    scenes = np.zeros((len(results), self.embedding_dim), np.float32)
    for i, (_, embeddings) in enumerate(results):
      scenes[i] = embeddings.mean(axis=0)
    return scenes


class KerasEmbedder(Embedder):
  """Runs the Keras encoder of a run directory (log-mel computed in TF)."""

  def __init__(self, model_dir: str = "", *, encoder=None,
               params: typing.Optional[params_lib.Params] = None):
    if encoder is None:
      encoder, params = model_dir_lib.load_encoder(model_dir)
    params = params or params_lib.Params()
    super().__init__(params.features, params.encoder.output_dim(params.features))
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
