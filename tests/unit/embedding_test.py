"""Tests of mobile_ssl.core.embedding: framing, timestamps, batching, inputs of any kind."""

import numpy as np
import pytest

from mobile_ssl.core import audio
from mobile_ssl.core import embedding
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import model_dir
from mobile_ssl.core import recipes
from tests import audio_fixtures

PARAMS = recipes.tiny()
HALF_SLICE = PARAMS.features.slice_seconds / 2  # 0.4875 s


@pytest.fixture(scope="module")
def embedder():
  encoder = encoder_lib.build_encoder(PARAMS.encoder, PARAMS.features, seed=0)
  return embedding.KerasEmbedder(encoder=encoder, params=PARAMS)


def _cosine(a, b):
  return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


class TestTimestamps:

  @pytest.mark.parametrize("seconds", [0.1, 1.0, 3.3])
  def test_windows_cover_any_length_with_regular_centres(self, embedder, seconds):
    x = audio_fixtures.noise(seconds, seed=1)
    stamps, emb = embedder.embed(x, 16000, hop_seconds=0.25)
    assert emb.shape == (len(stamps), PARAMS.encoder.embedding_dim) and emb.dtype == np.float32
    assert np.all(np.isfinite(emb))
    # Not centred: windows start every 0.25 s from 0, a short clip is padded to one window.
    expected = max(1, int(np.floor((len(x) - PARAMS.features.slice_samples) / 4000)) + 1)
    assert len(stamps) == expected
    np.testing.assert_allclose(stamps, HALF_SLICE + 0.25 * np.arange(expected))

  @pytest.mark.parametrize("seconds", [0.1, 1.0, 3.3])
  def test_centred_timestamps_run_from_zero_to_the_end(self, embedder, seconds):
    x = audio_fixtures.noise(seconds, seed=2)
    stamps, emb = embedder.embed(x, 16000, hop_seconds=0.05, centre=True)
    assert len(emb) == len(stamps)
    assert stamps[0] == 0.0
    np.testing.assert_allclose(np.diff(stamps), 0.05, atol=1e-9)
    assert seconds - 0.05 <= stamps[-1] <= seconds

  def test_centre_window_sees_the_audio_at_its_timestamp(self, embedder):
    # A click at 2.0 s: the centred window whose timestamp is 2.0 s has it in its middle.
    x = np.zeros(16000 * 4, np.float32)
    x[32000] = 1.0
    windows, stamps = features.frame_waveform(x, 0.5, PARAMS.features, centre=True)
    k = int(np.argmin(np.abs(stamps - 2.0)))
    assert abs(np.argmax(windows[k]) - PARAMS.features.slice_samples // 2) <= 1


class TestInputs:

  def test_other_sample_rates_are_resampled(self, embedder):
    ref = embedder.scene_embedding(audio_fixtures.sine(2.0, 440.0), 16000)
    for rate in (8000, 44100):
      other = embedder.scene_embedding(audio_fixtures.sine(2.0, 440.0, rate=rate), rate)
      assert _cosine(ref, other) > 0.99
    # ...while a different sound is not that close.
    noise = embedder.scene_embedding(audio_fixtures.noise(2.0, seed=3), 16000)
    assert _cosine(ref, noise) < _cosine(ref, other)

  def test_stereo_is_averaged_to_mono(self, embedder):
    left, right = audio_fixtures.sine(1.5, 300.0), audio_fixtures.noise(1.5, seed=4)
    stereo = np.stack([left, right], axis=1)
    _, a = embedder.embed(stereo, 16000)
    _, b = embedder.embed((left + right) / 2, 16000)
    np.testing.assert_allclose(a, b, atol=1e-5)

  def test_files_in_any_format_match_their_arrays(self, embedder, tmp_path):
    x = audio_fixtures.chirp(1.7)
    path = audio_fixtures.write(tmp_path / "chirp.flac", x)
    stamps_file, from_file = embedder.embed(path)
    stamps_array, from_array = embedder.embed(audio.read(path), 16000)
    np.testing.assert_array_equal(stamps_file, stamps_array)
    np.testing.assert_allclose(from_file, from_array, atol=1e-6)

  def test_nan_input_is_a_clear_error(self, embedder):
    x = audio_fixtures.sine(1.0)
    x[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
      embedder.embed(x, 16000)

  def test_array_without_rate_and_bad_shapes_are_errors(self, embedder):
    with pytest.raises(ValueError, match="sample_rate_hz"):
      embedder.embed(audio_fixtures.sine(1.0))
    with pytest.raises(ValueError, match="shape"):
      embedder.embed(np.zeros((2, 3, 4), np.float32), 16000)
    with pytest.raises(ValueError, match="shape"):
      embedder.embed(np.zeros(0, np.float32), 16000)

  def test_missing_file_names_the_file(self, embedder, tmp_path):
    missing = str(tmp_path / "nothere.wav")
    with pytest.raises(audio.AudioError, match="nothere.wav"):
      embedder.embed(missing)


class TestBatching:

  def test_batch_size_does_not_change_the_result(self, embedder):
    x = audio_fixtures.chirp(3.3)
    _, one = embedder.embed(x, 16000, hop_seconds=0.1, batch_size=1)
    _, many = embedder.embed(x, 16000, hop_seconds=0.1, batch_size=64)
    np.testing.assert_allclose(one, many, atol=1e-5)

  def test_embed_batch_matches_items_embedded_alone(self, embedder, tmp_path):
    items = [audio_fixtures.sine(0.3, 500.0), audio_fixtures.noise(2.2, seed=5),
             audio_fixtures.chirp(1.1)]
    together = embedder.embed_batch(items, 16000, hop_seconds=0.1, batch_size=7)
    assert len(together) == 3
    for item, (stamps, emb) in zip(items, together):
      alone_stamps, alone = embedder.embed(item, 16000, hop_seconds=0.1)
      np.testing.assert_array_equal(stamps, alone_stamps)
      np.testing.assert_allclose(emb, alone, atol=1e-5)
    paths = [audio_fixtures.write(tmp_path / f"{i}.wav", x) for i, x in enumerate(items)]
    files = embedder.embed_files(paths, hop_seconds=0.1)
    assert [len(e) for _, e in files] == [len(e) for _, e in together]

  def test_scene_embedding_is_the_mean_over_time(self, embedder):
    items = [audio_fixtures.chirp(2.5), audio_fixtures.sine(0.6)]
    scenes = embedder.scene_embeddings(items, 16000)
    assert scenes.shape == (2, PARAMS.encoder.embedding_dim) and scenes.dtype == np.float32
    for item, scene in zip(items, scenes):
      _, emb = embedder.embed(item, 16000)
      np.testing.assert_allclose(scene, emb.mean(axis=0), atol=1e-6)
      np.testing.assert_allclose(embedder.scene_embedding(item, 16000), scene, atol=1e-6)

  def test_bad_batch_size_is_an_error(self, embedder):
    with pytest.raises(ValueError, match="batch_size"):
      embedder.embed(audio_fixtures.sine(1.0), 16000, batch_size=0)


def test_run_directory_embedder_runs_the_saved_encoder(tmp_path):
  encoder = encoder_lib.build_encoder(PARAMS.encoder, PARAMS.features, seed=3)
  run = str(tmp_path / "run")
  model_dir.save_encoder(run, encoder, PARAMS)
  loaded = embedding.KerasEmbedder(run)
  assert loaded.embedding_dim == PARAMS.encoder.embedding_dim
  x = audio_fixtures.chirp(2.0)
  windows, _ = features.frame_waveform(x, 0.5, PARAMS.features)
  log_mel = features.log_mel_spectrogram(windows, PARAMS.features).numpy()[..., None]
  expected = encoder(log_mel, training=False).numpy()
  _, got = loaded.embed(x, 16000)
  np.testing.assert_allclose(got, expected, atol=1e-5)
