"""Tests of mobile_ssl.core.audio: formats, rates, channels, and every kind of bad file."""

import numpy as np
import pytest
import soundfile

from mobile_ssl.core import audio
from tests import audio_fixtures


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_reads_every_format_as_mono_float_16k(tmp_path, ext):
  path = audio_fixtures.write(tmp_path / f"tone.{ext}", audio_fixtures.sine(1.0, 440.0))
  waveform = audio.read(path)
  assert waveform.dtype == np.float32 and waveform.ndim == 1
  # Lossy codecs add encoder delay/padding; allow 5 %.
  assert abs(len(waveform) - 16000) < 800
  spectrum = np.abs(np.fft.rfft(waveform[2000:14000]))
  peak_hz = np.argmax(spectrum) * 16000 / 12000
  assert abs(peak_hz - 440) < 5


@pytest.mark.parametrize("subtype,scale", [("PCM_16", 0.5), ("PCM_32", 0.5), ("FLOAT", 0.5)])
def test_int_and_float_samples_are_normalized(tmp_path, subtype, scale):
  path = str(tmp_path / "x.wav")
  soundfile.write(path, audio_fixtures.sine(0.5, amplitude=scale), 16000, subtype=subtype)
  assert abs(np.abs(audio.read(path)).max() - scale) < 1e-3


def test_int_arrays_normalize_by_full_scale():
  np.testing.assert_allclose(audio.normalize(np.array([-32768, 16384], np.int16)), [-1.0, 0.5])
  np.testing.assert_allclose(audio.normalize(np.array([2 ** 30], np.int32)), [0.5])
  np.testing.assert_allclose(audio.normalize(np.array([1.7, -3.0], np.float32)), [1.0, -1.0])


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resamples_to_16k_preserving_pitch(tmp_path, rate):
  path = audio_fixtures.write(tmp_path / "x.wav", audio_fixtures.sine(1.0, 1000.0, rate=rate), rate)
  waveform = audio.read(path)
  assert len(waveform) == 16000
  spectrum = np.abs(np.fft.rfft(waveform))
  assert abs(np.argmax(spectrum) - 1000) <= 1


def test_resampler_is_band_limited():
  # A 7 kHz tone at 44.1 kHz downsampled to 8 kHz must vanish (above Nyquist),
  # where linear interpolation would alias it to 1 kHz at full strength.
  tone = audio_fixtures.sine(1.0, 7000.0, rate=44100)
  out = audio.resample(tone, 44100, 8000)
  assert np.sqrt(np.mean(out[400:-400] ** 2)) < 0.01


def test_stereo_is_downmixed(tmp_path):
  left = audio_fixtures.sine(0.5, 440.0)
  stereo = np.stack([left, np.zeros_like(left)], axis=1)
  path = str(tmp_path / "st.wav")
  soundfile.write(path, stereo, 16000)
  np.testing.assert_allclose(audio.read(path), left / 2, atol=1e-4)


@pytest.mark.parametrize("maker,message", [
    (lambda p: None, "no such file"),
    (lambda p: open(p, "wb").close(), "empty file"),
    (lambda p: open(p, "wb").write(b"RIFF garbage" * 20), "cannot decode"),
    (lambda p: soundfile.write(p, np.zeros(0, np.float32), 16000), "zero-length"),
])
def test_bad_files_raise_one_line_naming_the_file(tmp_path, maker, message):
  path = str(tmp_path / "bad.wav")
  maker(path)
  with pytest.raises(audio.AudioError, match=message) as err:
    audio.read(path)
  assert str(err.value).startswith(path) and "\n" not in str(err.value)


def test_truncated_files_are_errors(tmp_path):
  for ext in ("wav", "flac"):
    path = audio_fixtures.write(tmp_path / f"whole.{ext}", audio_fixtures.noise(1.0))
    data = open(path, "rb").read()
    cut = str(tmp_path / f"cut.{ext}")
    open(cut, "wb").write(data[: len(data) // 3])
    with pytest.raises(audio.AudioError, match="cut"):
      audio.read(cut)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_and_inf_samples_are_errors(tmp_path, bad):
  waveform = audio_fixtures.sine(0.5)
  waveform[100] = bad
  path = str(tmp_path / "nan.wav")
  soundfile.write(path, waveform, 16000, subtype="FLOAT")
  with pytest.raises(audio.AudioError, match="1 NaN/Inf samples"):
    audio.read(path)


def test_int16_round_trip_clips():
  out = audio.to_int16(np.array([0.0, 0.5, 1.5, -2.0], np.float32))
  np.testing.assert_array_equal(out, [0, 16384, 32767, -32768])


def test_find_files_is_sorted_and_recursive(tmp_path):
  for rel in ("b/x.wav", "a/y.flac", "z.mp3", "notes.txt", ".hidden.wav"):
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_bytes(b"")
  assert audio.find_files(str(tmp_path)) == ["a/y.flac", "b/x.wav", "z.mp3"]
