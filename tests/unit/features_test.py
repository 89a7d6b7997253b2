"""Tests of the front end against an independent NumPy log-mel, and its TFLite graph."""

import dataclasses
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert import interpreter as litert

from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from tests import audio_fixtures

PARAMS = params_lib.FeatureParams()


def _numpy_log_mel(x, p=PARAMS):
  """log(|rfft(periodic_hann * frame)| @ HTK-mel + offset), written from the formula."""
  win, hop, nfft = p.window_samples, p.hop_samples, p.fft_length
  n = 1 + (len(x) - win) // hop
  frames = np.stack([x[i * hop: i * hop + win] for i in range(n)]).astype(np.float64)
  window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic Hann
  magnitude = np.abs(np.fft.rfft(frames * window, n=nfft))
  mel = lambda f: 1127.0 * np.log1p(f / 700.0)
  edges = np.linspace(mel(p.mel_min_hz), mel(p.mel_max_hz), p.num_mel_bins + 2)
  bins = mel(np.linspace(0, p.sample_rate_hz / 2, nfft // 2 + 1))
  lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
  up = (bins[:, None] - lower) / (centre - lower)
  down = (upper - bins[:, None]) / (upper - centre)
  weights = np.maximum(0.0, np.minimum(up, down))
  weights[0] = 0.0  # the DC bin carries no mel weight
  return np.log(magnitude @ weights + p.log_offset)


@pytest.mark.parametrize("signal", ["sine", "noise", "chirp", "zeros"])
def test_log_mel_matches_numpy_reference(signal):
  x = {"sine": audio_fixtures.sine(1.0), "noise": audio_fixtures.noise(1.0, seed=3),
       "chirp": audio_fixtures.chirp(1.0), "zeros": np.zeros(16000, np.float32)}[signal]
  ours = features.log_mel_spectrogram(x, PARAMS).numpy()
  reference = _numpy_log_mel(x)
  assert ours.shape == reference.shape == (98, 64)
  assert np.max(np.abs(ours - reference)) <= 1e-3


@pytest.mark.parametrize("num_groups", [1, 4, 7])
def test_grouped_mel_projection_equals_the_dense_matrix(num_groups):
  matrix = features.mel_matrix(PARAMS).numpy()
  groups = features.mel_groups(PARAMS, num_groups)
  assert sum(w.shape[1] for _, w in groups) == PARAMS.num_mel_bins
  # Every nonzero weight of the dense matrix lies inside some group's block.
  covered = np.zeros_like(matrix)
  band = 0
  for first, weights in groups:
    covered[first:first + weights.shape[0], band:band + weights.shape[1]] = weights
    band += weights.shape[1]
  np.testing.assert_array_equal(covered, matrix)
  magnitude = np.abs(np.random.default_rng(1).standard_normal((3, 257))).astype(np.float32)
  np.testing.assert_allclose(features.mel_spectrogram(magnitude, PARAMS), magnitude @ matrix,
                             rtol=1e-5, atol=1e-6)


def test_one_slice_is_96_frames_of_975_ms():
  assert PARAMS.slice_samples == 15600 and PARAMS.slice_seconds == 0.975
  out = features.log_mel_spectrogram(np.zeros(PARAMS.slice_samples, np.float32), PARAMS)
  assert out.shape == (96, 64)


@pytest.mark.parametrize("shape", [[16000], [1, 16000], [3, 20000]])
def test_batched_shapes(shape):
  x = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
  out = features.log_mel_spectrogram(x, PARAMS)
  assert out.shape == tuple(shape[:-1]) + (1 + (shape[-1] - 400) // 160, 64)
  if len(shape) == 2:
    np.testing.assert_allclose(out[0], features.log_mel_spectrogram(x[0], PARAMS), atol=1e-5)


def test_non_power_of_two_fft_is_rejected():
  with pytest.raises(ValueError, match="power of two"):
    params_lib.FeatureParams(fft_length=400).validate()


def test_float32_stft_differs_only_at_near_silent_bins():
  x = audio_fixtures.chirp(1.0)
  float32 = dataclasses.replace(PARAMS, stft_dtype="float32")
  diff = np.abs(features.log_mel_spectrogram(x, float32) - _numpy_log_mel(x))
  assert diff.max() < 1e-2 and diff.mean() < 1e-3


@pytest.mark.parametrize("fft_length,window", [(512, 400), (512, 512), (256, 200), (1024, 640),
                                               (64, 33)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dft_magnitude_matches_numpy_rfft(fft_length, window, dtype):
  frames = np.random.default_rng(fft_length + window).standard_normal((2, 3, window))
  reference = np.abs(np.fft.rfft(frames, n=fft_length))
  ours = features.dft_magnitude(tf.constant(frames.astype(dtype)), fft_length).numpy()
  assert ours.shape == (2, 3, fft_length // 2 + 1) and ours.dtype == dtype
  error = np.abs(ours - reference).max() / reference.max()
  assert error < (1e-12 if dtype == np.float64 else 1e-6)


def test_dft_magnitude_refuses_a_window_longer_than_the_transform():
  with pytest.raises(ValueError, match="fft_length"):
    features.dft_magnitude(tf.zeros([2, 600]), 512)
  with pytest.raises(ValueError, match="power of"):
    features.dft_magnitude(tf.zeros([2, 300]), 384)


@pytest.mark.parametrize("signal", ["noise", "chirp", "zeros"])
def test_matmul_transform_gives_the_fft_log_mel(signal):
  x = {"noise": audio_fixtures.noise(1.0, seed=5), "chirp": audio_fixtures.chirp(1.0),
       "zeros": np.zeros(16000, np.float32)}[signal]
  fft = features.log_mel_spectrogram(x, PARAMS).numpy()
  matmul = features.log_mel_spectrogram(x, PARAMS, transform="matmul").numpy()
  assert matmul.shape == fft.shape == (98, 64)
  assert np.abs(matmul - fft).max() < 1e-6  # float64 either way
  float32 = dataclasses.replace(PARAMS, stft_dtype="float32")
  diff = np.abs(features.log_mel_spectrogram(x, float32, transform="matmul") - _numpy_log_mel(x))
  assert diff.max() < 1e-2 and diff.mean() < 1e-3
  with pytest.raises(ValueError, match="transform"):
    features.log_mel_spectrogram(x, PARAMS, transform="rfft")


def test_front_end_converts_to_tflite_builtins_only():
  float32 = dataclasses.replace(PARAMS, stft_dtype="float32")
  fn = tf.function(lambda w: features.log_mel_spectrogram(w, float32, transform="matmul"),
                   input_signature=[tf.TensorSpec([1, PARAMS.slice_samples], tf.float32)])
  converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # no SELECT_TF_OPS
  model = converter.convert()
  interpreter = litert.Interpreter(model_content=model)
  ops = {op["op_name"] for op in interpreter._get_ops_details()}  # pylint: disable=protected-access
  # The two-stage DFT: matmuls XNNPACK runs, not TFLite's RFFT2D kernel.
  assert "RFFT2D" not in ops and "FULLY_CONNECTED" in ops
  assert not any(op.startswith("Flex") for op in ops)
  interpreter.allocate_tensors()
  x = audio_fixtures.chirp(PARAMS.slice_seconds)[None, :PARAMS.slice_samples]
  interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
  interpreter.invoke()
  out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
  diff = np.abs(out - features.log_mel_spectrogram(x, PARAMS).numpy())
  assert diff.max() < 1e-2 and diff.mean() < 1e-3  # float32 round-off only


def test_frame_log_mel_timestamps_are_centres():
  log_mel = tf.zeros([296, 64])  # 3.0 s of frames
  slices, stamps = features.frame_log_mel(log_mel, 0.5, PARAMS)
  assert slices.shape == (5, 96, 64)
  np.testing.assert_allclose(stamps, 0.4875 + 0.5 * np.arange(5))


def test_frame_log_mel_rejects_off_grid_hop():
  with pytest.raises(ValueError, match="multiple of the STFT hop"):
    features.frame_log_mel(tf.zeros([200, 64]), 0.123, PARAMS)


def test_short_clip_is_padded_to_one_slice():
  padded = features.pad_to_slice(tf.ones([1000]), PARAMS)
  assert padded.shape == (15600,) and float(tf.reduce_sum(padded)) == 1000.0
  assert features.pad_to_slice(tf.ones([20000]), PARAMS).shape == (20000,)


@pytest.mark.parametrize("centre", [False, True])
def test_frame_waveform_windows_and_regular_timestamps(centre):
  x = audio_fixtures.noise(4.0)
  windows, stamps = features.frame_waveform(x, 0.05, PARAMS, centre=centre)
  assert windows.shape[1] == PARAMS.slice_samples
  np.testing.assert_allclose(np.diff(stamps), 0.05, atol=1 / 16000)
  if centre:
    assert stamps[0] == 0.0 and stamps[-1] >= 4.0 - 0.1
    # Window 10 is centred on sample 10 * 800 = 8000 of the original audio.
    np.testing.assert_array_equal(windows[10][7800 - 800: 7800 + 800], x[8000 - 800: 8000 + 800])
  else:
    assert abs(stamps[0] - 0.4875) < 1e-9
    np.testing.assert_array_equal(windows[2], x[1600:1600 + 15600])


def test_frame_waveform_pads_a_short_clip_to_one_window():
  windows, stamps = features.frame_waveform(np.ones(100, np.float32), 0.5, PARAMS)
  assert windows.shape == (1, 15600) and windows[0, :100].sum() == 100 and windows[0, 100:].sum() == 0


@pytest.mark.parametrize("frames", [1, 96, 481])
def test_num_samples_is_the_fewest_samples_for_that_many_frames(frames):
  fp = params_lib.FeatureParams()
  samples = features.num_samples(frames, fp)
  assert int(features.num_frames(samples, fp)) == frames
  assert int(features.num_frames(samples - 1, fp)) == frames - 1
  assert features.num_samples(0, fp) == 0
