"""Tests of mobile_ssl.evaluation.hear: the checks of hear-validator, repeated in-process.

`TestValidatorChecks` repeats what hearvalidator/validate.py (2021.0.6) checks,
so CI needs neither torch nor the validator: a `tf.Module` with int
attributes, float32 tf.Tensors of the right shapes for 2 sounds of 1.07, 1.98
and 4.0 s, timestamps regular within 1 ms, hop <= 50 ms, starting near 0 and
ending within the audio and no earlier than 2 hops before its end; scene
embeddings for 4 sounds of 2.74 s (and 2021.0.2's 16 x 2.0 s / 8 x 3.74 s).
The real validator runs in tests/hear_test.py (slow).
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.evaluation import hear

TINY = recipes.tiny()


@pytest.fixture(scope="module")
def default_model():
  return hear.load_model()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  run = str(tmp_path_factory.mktemp("hear") / "run")
  model_dir.save_encoder(run, encoder_lib.build_encoder(TINY.encoder, TINY.features, seed=1), TINY)
  return run


def _white_noise(num_audio, seconds, rate, seed=0):
  # What the validator feeds: uniform noise in [-1, 1] as a tf.Tensor.
  return tf.random.stateless_uniform((num_audio, int(seconds * rate)), [seed, 0]) * 2.0 - 1.0


class TestValidatorChecks:

  def test_model_is_a_tf_module_with_int_attributes(self, default_model):
    assert isinstance(default_model, tf.Module)
    assert default_model.sample_rate == 16000
    for name in ("sample_rate", "scene_embedding_size", "timestamp_embedding_size"):
      assert isinstance(getattr(default_model, name), int), name
    assert default_model.scene_embedding_size == params_lib.EncoderParams().embedding_dim
    assert default_model.timestamp_embedding_size == params_lib.EncoderParams().embedding_dim

  @pytest.mark.parametrize("num_audio, seconds", [(2, 1.07), (2, 1.98), (2, 4.0), (3, 0.4)])
  def test_timestamp_embeddings(self, default_model, num_audio, seconds):
    audio = _white_noise(num_audio, seconds, default_model.sample_rate)
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, default_model)
    assert embeddings.dtype == tf.float32
    embeddings, timestamps = embeddings.numpy(), timestamps.numpy()
    assert embeddings.ndim == 3 and timestamps.ndim == 2
    assert embeddings.shape[0] == num_audio
    assert embeddings.shape[:2] == timestamps.shape
    assert embeddings.shape[2] == default_model.timestamp_embedding_size
    assert np.all(np.isfinite(embeddings))
    assert timestamps.shape[1] > 1
    diff = np.diff(timestamps)
    avg = np.mean(diff)
    assert np.max(diff) <= 50.0
    assert np.max(np.abs(diff - avg)) <= 1.0
    length_ms = 1000 * seconds
    assert np.min(timestamps) <= avg
    assert length_ms - 2 * avg <= np.max(timestamps) <= length_ms
    # Stricter than the validator: the warning thresholds hold too.
    assert np.max(timestamps) >= min(length_ms - avg, length_ms - 50)

  def test_scene_embeddings(self, default_model):
    for num_audio, seconds in ((4, 2.74), (8, 3.74)):
      audio = _white_noise(num_audio, seconds, default_model.sample_rate, seed=1)
      embeddings = hear.get_scene_embeddings(audio, default_model)
      assert embeddings.dtype == tf.float32
      embeddings = embeddings.numpy()
      assert embeddings.shape == (num_audio, default_model.scene_embedding_size)
      assert np.all(np.isfinite(embeddings))


class TestBehaviour:

  def test_batch_rows_equal_sounds_embedded_alone(self, default_model):
    audio = _white_noise(3, 1.5, 16000, seed=2).numpy()
    audio[1] *= 0.01  # a quiet sound, so rows differ
    batch, stamps = hear.get_timestamp_embeddings(audio, default_model)
    for i in range(3):
      alone, alone_stamps = hear.get_timestamp_embeddings(audio[i:i + 1], default_model)
      np.testing.assert_allclose(batch.numpy()[i], alone.numpy()[0], atol=1e-4)
      np.testing.assert_array_equal(stamps.numpy()[i], alone_stamps.numpy()[0])
    assert not np.allclose(batch.numpy()[0], batch.numpy()[1], atol=1e-3)

  def test_scene_is_the_clip_embedding_of_the_evaluation(self, default_model):
    audio = _white_noise(2, 2.2, 16000, seed=3).numpy()
    scenes = hear.get_scene_embeddings(audio, default_model).numpy()
    for i in range(2):
      _, windows = default_model.embedder.embed(audio[i], 16000, hop_seconds=0.5)
      np.testing.assert_allclose(scenes[i], windows.mean(axis=0), atol=1e-5)

  def test_run_directory_and_encoder_file_load(self, tiny_run):
    for path in (tiny_run, os.path.join(tiny_run, model_dir.ENCODER_FILE)):
      model = hear.load_model(path)
      assert model.timestamp_embedding_size == TINY.encoder.embedding_dim
      embeddings, _ = hear.get_timestamp_embeddings(_white_noise(1, 1.0, 16000), model)
      assert embeddings.shape[-1] == TINY.encoder.embedding_dim

  def test_default_model_is_seeded(self, default_model):
    audio = _white_noise(1, 1.0, 16000, seed=4)
    again = hear.load_model()
    np.testing.assert_allclose(hear.get_scene_embeddings(audio, default_model).numpy(),
                               hear.get_scene_embeddings(audio, again).numpy(), atol=1e-6)

  def test_bad_input_is_a_clear_error(self, default_model, tmp_path):
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
      hear.get_timestamp_embeddings(np.zeros(16000, np.float32), default_model)
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
      hear.get_scene_embeddings(np.zeros((0, 16000), np.float32), default_model)
    with pytest.raises(ValueError, match="not found"):
      hear.load_model(str(tmp_path / "no_such_run"))
    with pytest.raises(ValueError, match="load_model"):
      hear.get_scene_embeddings(np.zeros((1, 16000), np.float32), object())
