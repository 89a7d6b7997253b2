"""Tests of mobile_ssl.core.streaming: a stream in any chunks gives the offline windows."""

import numpy as np
import pytest

from mobile_ssl.core import embedding
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import streaming
from tests import audio_fixtures

RATE = 16000
SIZE = params_lib.FeatureParams().slice_samples


class _Summary(embedding.Embedder):
  """An exact backend: each window -> (first, last, mean, position of the max)."""

  def __init__(self):
    super().__init__(params_lib.FeatureParams(), 4)
    self.calls = 0

  def embed_windows(self, windows):
    self.calls += 1
    w = np.asarray(windows, np.float64)
    return np.stack([w[:, 0], w[:, -1], w.mean(1), w.argmax(1)], 1).astype(np.float32)


def _stream(streamer, x, chunk_sizes):
  out, position, i = [], 0, 0
  while position < len(x):
    size = chunk_sizes[i % len(chunk_sizes)]
    out += streamer.push(x[position:position + size])
    position, i = position + size, i + 1
  return out


class TestStreamingEmbedder:

  @pytest.mark.parametrize("hop_seconds", [0.975, 0.5, 0.25, 0.33, 1.5])
  def test_any_chunks_give_the_offline_windows(self, hop_seconds):
    x = audio_fixtures.noise(4.3, seed=1)
    backend = _Summary()
    stamps, expected = backend.embed(x, RATE, hop_seconds=hop_seconds)
    for chunks in ([160], [1600], [16000], [7, 3001, 250, 99999], [SIZE]):
      streamer = streaming.StreamingEmbedder(backend, hop_seconds, sample_rate_hz=RATE)
      out = _stream(streamer, x, chunks)
      np.testing.assert_array_equal([t for t, _ in out], stamps)
      np.testing.assert_array_equal(np.stack([e for _, e in out]), expected)
      assert streamer.windows_emitted == len(stamps)
      # Memory: at most one window plus one chunk is ever held.
      assert len(streamer._buffer) <= SIZE + max(chunks)

  def test_windows_come_as_soon_as_complete(self):
    streamer = streaming.StreamingEmbedder(_Summary(), 0.5)
    x = audio_fixtures.noise(2.0, seed=2)
    assert streamer.push(x[:SIZE - 1]) == []
    (first,) = streamer.push(x[SIZE - 1:SIZE])
    assert first[0] == pytest.approx(SIZE / 2 / RATE)
    assert streamer.push(x[SIZE:SIZE + 7999]) == []
    assert len(streamer.push(x[SIZE + 7999:SIZE + 8000])) == 1  # 0.5 s later

  def test_flush_pads_the_tail_like_mediapipe(self):
    backend = _Summary()
    streamer = streaming.StreamingEmbedder(backend, 0.975)
    x = audio_fixtures.noise(2.0, seed=3)
    assert len(streamer.push(x)) == 2  # windows at 0 and 0.975 s; 0.05 s left over
    (tail,) = streamer.flush()
    assert tail[0] == pytest.approx((2 * SIZE + SIZE / 2) / RATE)
    padded = np.pad(x[2 * SIZE:], (0, 3 * SIZE - len(x)))
    np.testing.assert_array_equal(tail[1], backend.embed_windows(padded[None])[0])
    assert streamer.flush() == [] and streamer.samples_received == 0
    # A stream shorter than one window: the same single padded window as `embed`.
    short = audio_fixtures.sine(0.4, 440.0)
    assert streamer.push(short) == []
    (only,) = streamer.flush()
    np.testing.assert_array_equal([only[1]], backend.embed(short, RATE)[1])
    # Nothing is left when the last window ended at the end of the audio.
    streamer.push(x[:SIZE])
    assert streamer.flush() == []

  def test_one_backend_call_per_push(self):
    backend = _Summary()
    streamer = streaming.StreamingEmbedder(backend, 0.1)
    assert len(streamer.push(audio_fixtures.noise(3.0, seed=4))) == 21
    assert backend.calls == 1

  def test_keras_backend(self):
    tiny = recipes.tiny()
    keras_embedder = embedding.KerasEmbedder(
        encoder=encoder_lib.build_encoder(tiny.encoder, tiny.features, seed=0), params=tiny)
    x = audio_fixtures.chirp(2.5)
    stamps, expected = keras_embedder.embed(x, RATE, hop_seconds=0.25)
    out = _stream(streaming.StreamingEmbedder(keras_embedder, 0.25), x, [1600])
    np.testing.assert_array_equal([t for t, _ in out], stamps)
    np.testing.assert_allclose(np.stack([e for _, e in out]), expected, atol=1e-5)

  def test_bad_input(self):
    with pytest.raises(ValueError, match="44100 Hz: StreamingEmbedder needs audio at the "
                                         "model's 16000 Hz"):
      streaming.StreamingEmbedder(_Summary(), sample_rate_hz=44100)
    with pytest.raises(ValueError, match="hop_seconds must be > 0"):
      streaming.StreamingEmbedder(_Summary(), hop_seconds=0)
    streamer = streaming.StreamingEmbedder(_Summary())
    with pytest.raises(ValueError, match="mono chunk"):
      streamer.push(np.zeros((160, 2), np.float32))
    with pytest.raises(ValueError, match="NaN"):
      streamer.push(np.full(160, np.nan, np.float32))
