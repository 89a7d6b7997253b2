"""Waveform -> log-mel spectrogram and 975 ms slices, in pure TensorFlow.

The same functions run inside `tf.data` and inside the exported TFLite graph,
so training, evaluation and the phone compute one front end.

Formula (periodic Hann window, no centre padding, magnitude spectrum, HTK mel
triangles from `tf.signal.linear_to_mel_weight_matrix`):
  log_mel = log(|STFT(x)| @ M + log_offset)
15,600 samples give exactly 96 frames, the encoder's 975 ms input.

Two ways to the magnitude spectrum, the same values within float32 round-off
(`log_mel_spectrogram`'s `transform`):
  * 'fft' (training, evaluation): `tf.signal.stft` in `params.stft_dtype`,
    float64 by default (within 1e-4 of the formula for any input);
  * 'matmul' (every exported TFLite graph): `dft_magnitude`, the DFT in two
    small stages (Cooley-Tukey, 512 = 16 x 32) as FULLY_CONNECTED ops, in
    float32. TFLite's own RFFT2D kernel is not an XNNPACK one: it runs Ooura's
    FFT in double precision and clears its work areas for every frame, and took
    322-810 us of the waveform model's ~0.4-1.1 ms per window on two hosts; the
    two stages run in about a third of the time on XNNPACK, with 4.6 M
    multiply-adds (a one-stage DFT matrix would be 19.7 M and 0.8 MB), for
    20 KB of float32 constants (docs/benchmark.md, "The front end as two small
    DFTs"). Round-off reaches a few 1e-3 only at bins ~100 dB below a pure tone.

The mel projection is computed in groups of bands (`mel_groups`): each of the
64 triangles covers at most 17 contiguous FFT bins, so the dense 257 x 64
matrix is 98 % zeros. The bands are split into `MEL_GROUPS` contiguous groups
and each group multiplies only the slice of bins it covers (STRIDED_SLICE +
FULLY_CONNECTED in TFLite): same weights and sums, a quarter of the float32
constants, and kernels XNNPACK runs. The magnitude is sqrt(re^2 + im^2)
(REAL, IMAG, MUL, ADD, SQRT with 'fft') rather than COMPLEX_ABS, whose TFLite
kernel calls std::abs per bin. An earlier banded form (GATHER + MUL + SUM) was
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


def _dft_stages(fft_length: int, window: int):
  """The constants of `dft_magnitude` for one transform length and window (float64)."""
  n1 = 2 ** (int(np.log2(fft_length)) // 2)  # first stage: n1 points, over every n2-th sample
  n2 = fft_length // n1
  used = -(-window // n2)  # rows of n2 samples that hold any of the window
  k1 = np.arange(n1)
  first = -2 * np.pi * np.outer(np.arange(used), k1) / n1  # [used, n1]
  twiddle = -2 * np.pi * np.outer(np.arange(n2), k1) / fft_length  # [n2, n1]
  k2 = fft_length // 2 // n1  # second-stage outputs: the bins k1 + n1 * k2 < fft_length / 2
  second = -2 * np.pi * np.outer(np.arange(n2), np.arange(k2)) / n2  # [n2, k2]
  return n1, n2, used, k2, first, twiddle, second


def dft_magnitude(frames: tf.Tensor, fft_length: int) -> tf.Tensor:
  """|rfft(frames, fft_length)|: [..., window] real frames -> [..., fft_length // 2 + 1].

  The frames are zero-padded to `fft_length` as `tf.signal.rfft` does, and
  the DFT is computed in two stages of matmuls (Cooley-Tukey; 512 = 16 x 32),
  with builtin TFLite ops XNNPACK runs (RESHAPE, TRANSPOSE, PAD,
  FULLY_CONNECTED, MUL, ADD, ABS, SQRT, CONCATENATION; no SPLIT, which the
  int8 converter quantizes even inside the float front end). With sample
  n = n2_count * n1 + n2 and bin k = k1 + n1_count * k2:
    1. for each n2, an n1-point DFT of the real samples x[n1, n2] (only the
       rows that hold part of the window), as two products: its real and
       imaginary parts, and the same swapped;
    2. the twiddle factors exp(-2 pi i n2 k1 / N), applied to both products
       with one MUL each and an ADD (no slicing of real and imaginary parts);
    3. for each k1, a complex n2-point DFT, only for the k2 whose bins lie
       below N / 2: its real and imaginary parts as two real products;
    4. bin N / 2 on its own, sum of x[n] (-1)^n;
  then the magnitude, and the bins put back in order (k1-major to k).
  Computed in the frames' dtype (float32 in TFLite graphs).
  """
  frames = tf.convert_to_tensor(frames)
  window = frames.shape[-1]
  if window is None or window > fft_length or fft_length & (fft_length - 1):
    raise ValueError(f"dft_magnitude needs frames of a known length <= fft_length, a power of "
                     f"two; got frames of {window} and fft_length {fft_length}")
  n1, n2, used, k2, first, twiddle, second = _dft_stages(fft_length, window)
  dtype = frames.dtype.as_numpy_dtype

  def const(value):
    return tf.constant(np.asarray(value, dtype))

  lead = tf.shape(frames)[:-1]
  x = tf.pad(frames, [[0, 0]] * (frames.shape.rank - 1) + [[0, used * n2 - window]])
  # The last bin, N / 2, on its own: sum of x[n] (-1)^n. In the second stage it would be
  # a 17th output column for a single k1, and XNNPACK's kernels work in tiles of 16.
  nyquist = tf.abs(tf.matmul(tf.reshape(x, [-1, used * n2]),
                             const((-1.0) ** np.arange(used * n2)[:, None])))
  x = tf.reshape(tf.transpose(tf.reshape(x, [-1, used, n2]), [0, 2, 1]), [-1, used])
  cos, sin = np.cos(first), np.sin(first)
  a = tf.reshape(tf.matmul(x, const(np.concatenate([cos, sin], 1))), [-1, n2, 2 * n1])
  swapped = tf.reshape(tf.matmul(x, const(np.concatenate([sin, cos], 1))), [-1, n2, 2 * n1])
  t_re, t_im = np.cos(twiddle), np.sin(twiddle)
  # [re | im] * [t_re | t_re] + [im | re] * [-t_im | t_im] = twiddled [re | im].
  b = (a * const(np.concatenate([t_re, t_re], 1))
       + swapped * const(np.concatenate([-t_im, t_im], 1)))
  b = tf.reshape(tf.transpose(tf.reshape(b, [-1, n2, 2, n1]), [0, 3, 2, 1]), [-1, 2 * n2])
  c_re, c_im = np.cos(second), np.sin(second)
  re = tf.matmul(b, const(np.concatenate([c_re, -c_im], 0)))  # [-1, k2]
  im = tf.matmul(b, const(np.concatenate([c_im, c_re], 0)))
  magnitude = tf.sqrt(tf.reshape(re * re + im * im, [-1, n1, k2]))
  magnitude = tf.concat([tf.reshape(tf.transpose(magnitude, [0, 2, 1]), [-1, n1 * k2]), nyquist],
                        axis=-1)
  return tf.reshape(magnitude, tf.concat([lead, [fft_length // 2 + 1]], 0))


TRANSFORMS = ("fft", "matmul")


def log_mel_spectrogram(waveform: tf.Tensor, params: params_lib.FeatureParams,
                        transform: str = "fft") -> tf.Tensor:
  """Log-mel spectrogram of mono 16 kHz audio.

  Args:
    waveform: float32 [..., samples] in [-1, 1].
    params: front-end parameters.
    transform: 'fft' (`tf.signal.stft` in `params.stft_dtype`) or 'matmul'
      (`dft_magnitude`, what the exported TFLite graphs run); the same values
      within float32 round-off.

  Returns:
    float32 [..., frames, num_mel_bins], frames = 1 + (samples - 400) // 160
    (0 frames when shorter than one window).
  """
  if transform not in TRANSFORMS:
    raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
  waveform = tf.convert_to_tensor(waveform, tf.float32)
  dtype = tf.as_dtype(params.stft_dtype)
  if transform == "matmul":
    frames = tf.signal.frame(tf.cast(waveform, dtype), params.window_samples,
                             params.hop_samples)
    frames *= tf.signal.hann_window(params.window_samples, dtype=dtype)
    magnitude = tf.cast(dft_magnitude(frames, params.fft_length), tf.float32)
  else:
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
