"""Tests of the synthetic_audio recipes (mobile_ssl_tfds.synthetic_audio.synthesis), without a build."""

import numpy as np
import tensorflow_datasets as tfds

from mobile_ssl_tfds.synthetic_audio import synthesis


class SynthesisTest(tfds.testing.TestCase):

  def test_clip_is_deterministic_and_in_range(self):
    a, event_a, pitch_a = synthesis.make_clip(7, 3)
    b, event_b, pitch_b = synthesis.make_clip(7, 3)
    np.testing.assert_array_equal(a, b)
    self.assertEqual((event_a, pitch_a), (event_b, pitch_b))
    self.assertLessEqual(np.abs(a).max(), 1.0)
    self.assertBetween(len(a) / synthesis.SAMPLE_RATE_HZ, 2.0, 10.0)

  def test_clips_have_silences_and_onsets(self):
    # Temporal structure: short-time energy varies by > 15 dB within a clip.
    for index in range(8):
      clip, _, _ = synthesis.make_clip(0, index)
      frames = clip[: len(clip) // 160 * 160].reshape(-1, 160)
      energy_db = 10 * np.log10(np.mean(frames ** 2, axis=1) + 1e-12)
      self.assertGreater(np.percentile(energy_db, 95) - np.percentile(energy_db, 5), 15.0)

  def test_labels_cover_all_classes(self):
    labels = [synthesis.make_clip(0, i)[1:] for i in range(200)]
    self.assertLen({e for e, _ in labels}, len(synthesis.EVENT_CLASSES))
    self.assertLen({p for _, p in labels}, len(synthesis.PITCH_CLASSES))
