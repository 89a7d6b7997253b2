"""Waveform -> log-mel spectrogram and 975 ms slices, in pure TensorFlow.

The same functions run inside `tf.data` and inside the exported TFLite graph,
so training, evaluation and the phone compute one front end.
`tf.signal.stft` with a power-of-two `fft_length` converts to TFLite's builtin
RFFT2D, so no DFT-matrix workaround (YAMNet's `tflite_compatible` path) is
needed with TF 2.21; `FeatureParams.validate` rejects lengths that would fail
at run time.

Formula (periodic Hann window, no centre padding, magnitude spectrum, HTK mel
triangles from `tf.signal.linear_to_mel_weight_matrix`):
  log_mel = log(|STFT(x)| @ M + log_offset)
15,600 samples give exactly 96 frames, the encoder's 975 ms input.

The STFT runs in `params.stft_dtype`: float64 by default (within 1e-4 of the
formula for any input), float32 in TFLite graphs, where RFFT2D is float32-only
and round-off reaches a few 1e-3 only at bins ~100 dB below a pure tone.

The mel projection is computed in groups of bands (`mel_groups`): each of the
64 triangles covers at most 17 contiguous FFT bins, so the dense 257 x 64
matrix is 98 % zeros. The bands are split into `MEL_GROUPS` contiguous groups
and each group multiplies only the slice of bins it covers (STRIDED_SLICE +
FULLY_CONNECTED in TFLite): same weights and sums, a quarter of the float32
constants, and kernels XNNPACK runs. The magnitude is sqrt(re^2 + im^2)
(REAL, IMAG, MUL, ADD, SQRT) rather than COMPLEX_ABS, whose TFLite kernel
calls std::abs per bin. An earlier banded form (GATHER + MUL + SUM) was
smaller but slow, since TFLite's GATHER copies element by element. The
per-op timings of each form: docs/benchmark.md, "The front end of the
waveform model".
"""

import functools

import numpy as np
import tensorflow as tf

from mobile_ssl.core import params as params_lib


def mel_matrix(params: params_lib.FeatureParams) -> tf.Tensor:
  """[fft_length // 2 + 1, num_mel_bins] float32 mel weights."""
  return tf.signal.linear_to_mel_weight_matrix(
      num_mel_bins=params.num_mel_bins,
      num_spectrogram_bins=params.fft_length // 2 + 1,
      sample_rate=params.sample_rate_hz,
      lower_edge_hertz=params.mel_min_hz,
      upper_edge_hertz=params.mel_max_hz)


MEL_GROUPS = 4


@functools.lru_cache(maxsize=8)
def mel_groups(params: params_lib.FeatureParams, num_groups: int = MEL_GROUPS):
  """`mel_matrix` as `num_groups` dense blocks along its diagonal band.

  Returns:
    A tuple of (first_bin, weights [bins, bands] float32) per group: group g
    holds bands g * num_mel_bins // num_groups onwards, and its bins are the
    contiguous run from `first_bin` that any of its bands touches.
  """
  with tf.init_scope():  # eager even when called while tracing a graph
    matrix = mel_matrix(params).numpy()
  edges = [g * params.num_mel_bins // num_groups for g in range(num_groups + 1)]
  groups = []
  for lo, hi in zip(edges[:-1], edges[1:]):
    rows = np.nonzero(matrix[:, lo:hi].any(axis=1))[0]
    first, last = (rows[0], rows[-1] + 1) if len(rows) else (0, 1)
    groups.append((int(first), matrix[first:last, lo:hi].astype(np.float32)))
  return tuple(groups)


def mel_spectrogram(magnitude: tf.Tensor, params: params_lib.FeatureParams) -> tf.Tensor:
  """[..., fft_bins] magnitude -> [..., num_mel_bins], i.e. magnitude @ mel_matrix."""
  magnitude = tf.convert_to_tensor(magnitude)
  mel = tf.concat([
      tf.matmul(magnitude[..., first:first + weights.shape[0]],
                tf.constant(weights, magnitude.dtype))
      for first, weights in mel_groups(params)], axis=-1)
  mel.set_shape(magnitude.shape[:-1].concatenate([params.num_mel_bins]))
  return mel


def magnitude_spectrum(stft: tf.Tensor) -> tf.Tensor:
  """|stft| as sqrt(re^2 + im^2): builtin elementwise ops instead of COMPLEX_ABS."""
  real, imag = tf.math.real(stft), tf.math.imag(stft)
  return tf.sqrt(real * real + imag * imag)


def log_mel_spectrogram(waveform: tf.Tensor,
                        params: params_lib.FeatureParams) -> tf.Tensor:
  """Log-mel spectrogram of mono 16 kHz audio.

  Args:
    waveform: float32 [..., samples] in [-1, 1].
    params: front-end parameters.

  Returns:
    float32 [..., frames, num_mel_bins], frames = 1 + (samples - 400) // 160
    (0 frames when shorter than one window).
  """
  waveform = tf.convert_to_tensor(waveform, tf.float32)
  dtype = tf.as_dtype(params.stft_dtype)
  stft = tf.signal.stft(
      tf.cast(waveform, dtype),
      frame_length=params.window_samples,
      frame_step=params.hop_samples,
      fft_length=params.fft_length,
      window_fn=lambda length, dtype=dtype: tf.signal.hann_window(length, dtype=dtype),
      pad_end=False)
  magnitude = tf.cast(magnitude_spectrum(stft), tf.float32)
  return tf.math.log(mel_spectrogram(magnitude, params) + params.log_offset)


def num_frames(num_samples, params: params_lib.FeatureParams):
  """STFT frames of `num_samples` samples (works on ints and tensors)."""
  return tf.maximum(
      0, (num_samples - params.window_samples) // params.hop_samples + 1)


def num_samples(frames: int, params: params_lib.FeatureParams) -> int:
  """The fewest samples that give `frames` STFT frames (0 for none): `num_frames`' inverse."""
  if frames <= 0:
    return 0
  return (frames - 1) * params.hop_samples + params.window_samples


def pad_to_slice(waveform: tf.Tensor, params: params_lib.FeatureParams) -> tf.Tensor:
  """Zero-pads [samples] at the end up to one slice (15,600 samples).

  This is the documented short-clip rule: a clip shorter than 975 ms becomes
  one slice of itself followed by silence; longer clips are unchanged.
  """
  missing = tf.maximum(0, params.slice_samples - tf.shape(waveform)[0])
  return tf.pad(waveform, [[0, missing]])


def hop_frames(hop_seconds: float, params: params_lib.FeatureParams) -> int:
  """Slice hop in STFT frames; must be a whole number of 10 ms frames."""
  frames = hop_seconds / params.stft_hop_seconds
  if frames < 1 or abs(frames - round(frames)) > 1e-6:
    raise ValueError(
        f"slice hop {hop_seconds} s must be a positive multiple of the STFT hop "
        f"({params.stft_hop_seconds} s)")
  return int(round(frames))


def frame_log_mel(log_mel: tf.Tensor, hop_seconds: float,
                  params: params_lib.FeatureParams):
  """Cuts a clip's log-mel into 975 ms slices.

  Args:
    log_mel: float32 [frames, num_mel_bins] of one clip.
    hop_seconds: distance between slice starts (multiple of 10 ms).
    params: front-end parameters.

  Returns:
    (slices [n, slice_frames, num_mel_bins], timestamps [n] float32): the
    centre of each slice in seconds from the start of the clip. A clip shorter
    than one slice yields n = 0 (pad the waveform first, `pad_to_slice`).
  """
  hop = hop_frames(hop_seconds, params)
  slices = tf.signal.frame(log_mel, params.slice_frames, hop, axis=0)
  return slices, slice_timestamps(tf.shape(slices)[0], hop_seconds, params)


def slice_timestamps(count, hop_seconds: float, params: params_lib.FeatureParams):
  """Centres, in seconds, of `count` slices starting every `hop_seconds`."""
  index = tf.cast(tf.range(count), tf.float32)
  return index * hop_seconds + params.slice_seconds / 2.0


def frame_waveform(waveform: np.ndarray, hop_seconds: float,
                   params: params_lib.FeatureParams, centre: bool = False):
  """NumPy framing of a waveform into slice-length windows (for TFLite/HEAR).

  Args:
    waveform: float32 [samples].
    hop_seconds: window hop; the hop in samples may be fractional, window
      starts are rounded from exact multiples so timestamps never drift.
    params: front-end parameters.
    centre: if True, pad half a window of silence at both ends so the first
      window is centred on t=0 and the last one within one hop of the end
      (the HEAR convention); otherwise the first window starts at t=0 and a
      clip shorter than one slice is zero-padded to one slice.

  Returns:
    (windows [n, slice_samples] float32, timestamps [n] float64 seconds of
    each window's centre relative to the original audio).
  """
  waveform = np.asarray(waveform, np.float32)
  if waveform.ndim != 1:
    raise ValueError(f"expected mono [samples], got shape {waveform.shape}")
  size = params.slice_samples
  rate = params.sample_rate_hz
  hop = hop_seconds * rate
  if hop <= 0:
    raise ValueError(f"hop_seconds must be > 0, got {hop_seconds}")
  if centre:
    half = size // 2
    padded = np.pad(waveform, (half, size - half))
    count = int(np.floor(len(waveform) / hop)) + 1
    offset = -half
  else:
    padded = np.pad(waveform, (0, max(0, size - len(waveform))))
    count = int(np.floor((len(padded) - size) / hop)) + 1
    offset = 0
  starts = np.round(np.arange(count) * hop).astype(np.int64)
  starts = starts[starts + size <= len(padded)]
  index = starts[:, None] + np.arange(size)[None, :]
  windows = padded[index]
  timestamps = (starts + offset + size / 2.0) / rate
  return windows, timestamps
