"""Live audio -> embeddings as 975 ms windows complete: `StreamingEmbedder`.

A microphone delivers chunks of any size (10 ms, 100 ms, 1 s); the model
needs 975 ms windows at some hop. `StreamingEmbedder.push` buffers the
chunks, embeds every window that the audio received so far completes (in one
backend call per push) and returns them with their timestamps; it keeps only
the samples that a later window still needs (at most one window plus one
chunk), so memory does not grow with the stream.

The windows are exactly those of `Embedder.embed(..., centre=False)` on the
whole recording: window k starts at sample round(k * hop * rate) and its
timestamp is its centre in seconds from the start of the stream. So a stream
cut into any chunks gives the offline embeddings, bit for bit with the same
backend (tests/streaming_test.py). `flush` at the end of a stream also embeds
the audio after the last complete window, zero-padded to one window, as
MediaPipe does when an audio stream closes; the offline `embed` drops that
tail (except for a clip shorter than one window, which it pads the same way).

Any backend works: `KerasEmbedder`, or `mobile_ssl.export.tflite_embedder.TFLiteEmbedder` (the
phone's file; a classifier file yields class probabilities instead of
embeddings). Cost: one model invoke per window, so 1 / hop invokes per second
of audio (docs/export.md gives measured figures, bench/streaming.py).

Audio must arrive at the embedder's rate (16 kHz): resampling chunk by chunk
would need a stateful filter, so a stream at another rate is refused.
"""

import typing

import numpy as np

from mobile_ssl.core import embedding


class StreamingEmbedder:
  """Embeds a live stream chunk by chunk.

  Attributes:
    embedder: the backend (any `mobile_ssl.core.embedding.Embedder`).
    hop_seconds: time between window starts.
    samples_received: audio received so far, in samples.
    windows_emitted: windows embedded so far.
  """

  def __init__(self, embedder: embedding.Embedder, hop_seconds: float = 0.5,
               sample_rate_hz: typing.Optional[int] = None):
    """
    Args:
      embedder: the backend.
      hop_seconds: time between window starts (> 0; 0.975 = back to back,
        MediaPipe's stream mode; more than 0.975 skips audio to save power).
      sample_rate_hz: the stream's rate; must equal the embedder's (16 kHz).
    """
    rate = embedder.sample_rate_hz
    if sample_rate_hz is not None and int(sample_rate_hz) != rate:
      raise ValueError(f"stream at {sample_rate_hz} Hz: StreamingEmbedder needs audio at the "
                       f"model's {rate} Hz; resample it before pushing")
    if not hop_seconds > 0:
      raise ValueError(f"hop_seconds must be > 0, got {hop_seconds}")
    self.embedder = embedder
    self.hop_seconds = float(hop_seconds)
    self._size = embedder.feature_params.slice_samples
    self._hop = self.hop_seconds * rate  # may be fractional: starts are rounded, never summed
    self._buffer = np.zeros(0, np.float32)
    self._buffer_start = 0  # stream position of _buffer[0], in samples
    self.samples_received = 0
    self.windows_emitted = 0

  def _start(self, k: int) -> int:
    return int(np.round(k * self._hop))

  def _emit(self, windows: typing.List[np.ndarray], starts: typing.List[int]):
    if not windows:
      return []
    embeddings = self.embedder.embed_windows(np.stack(windows))
    rate = self.embedder.sample_rate_hz
    return [((start + self._size / 2.0) / rate, e) for start, e in zip(starts, embeddings)]

  def push(self, chunk: np.ndarray) -> typing.List[typing.Tuple[float, np.ndarray]]:
    """Adds audio; returns (timestamp s, embedding [d]) of each window it completed.

    Args:
      chunk: float mono samples [n] in [-1, 1] at the model's rate, any n >= 0.
    """
    chunk = np.asarray(chunk, np.float32)
    if chunk.ndim != 1:
      raise ValueError(f"expected a mono chunk [samples], got shape {chunk.shape}")
    if not np.all(np.isfinite(chunk)):
      raise ValueError("audio chunk contains NaN/Inf samples")
    self._buffer = np.concatenate([self._buffer, chunk])
    self.samples_received += len(chunk)
    windows, starts = [], []
    while self._start(self.windows_emitted + len(windows)) + self._size <= self.samples_received:
      start = self._start(self.windows_emitted + len(windows))
      offset = start - self._buffer_start
      windows.append(self._buffer[offset:offset + self._size])
      starts.append(start)
    out = self._emit(windows, starts)
    self.windows_emitted += len(windows)
    # Keep what the next window needs (none of it when the hop skips audio).
    keep_from = min(self._start(self.windows_emitted), self.samples_received)
    self._buffer = self._buffer[keep_from - self._buffer_start:]
    self._buffer_start = keep_from
    return out

  def flush(self) -> typing.List[typing.Tuple[float, np.ndarray]]:
    """Ends the stream: embeds the audio after the last complete window, zero-padded.

    Returns [] when every received sample is already in a window (or the
    next window would start after the end of the audio). The embedder can
    then take a new stream from time 0.
    """
    start = self._start(self.windows_emitted)
    last_end = self._start(self.windows_emitted - 1) + self._size if self.windows_emitted else 0
    out = []
    if start < self.samples_received and self.samples_received > last_end:
      tail = self._buffer[start - self._buffer_start:]
      out = self._emit([np.pad(tail, (0, self._size - len(tail)))], [start])
    self._buffer, self._buffer_start = np.zeros(0, np.float32), 0
    self.samples_received = self.windows_emitted = 0
    return out
