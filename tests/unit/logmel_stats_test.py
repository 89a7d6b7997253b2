"""Tests of mobile_ssl.evaluation.logmel_stats: the classical floor's features."""

import numpy as np
import tensorflow as tf

from mobile_ssl.evaluation import logmel_stats


def test_statistics_match_a_numpy_reference():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 96, 64)).astype(np.float32)
  got = logmel_stats.statistics(tf.constant(x)).numpy()
  dct = logmel_stats._dct_matrix(64, 20)
  mfcc = x @ dct
  want = []
  for y in (x, mfcc):
    d = y[:, 1:] - y[:, :-1]
    want += [y.mean(1), y.std(1), d.mean(1), d.std(1)]
  np.testing.assert_allclose(got, np.concatenate(want, -1), rtol=1e-4, atol=1e-4)
  assert got.shape == (3, 4 * 64 + 4 * 20)


def test_dct_basis_is_orthonormal():
  basis = logmel_stats._dct_matrix(64, 64)
  np.testing.assert_allclose(basis.T @ basis, np.eye(64), atol=1e-5)


def test_model_has_no_weights_and_the_encoder_input():
  model = logmel_stats.build()
  assert model.name == "logmel_stats" and not model.weights
  out = model(tf.zeros([2, 96, 64, 1]))
  assert out.shape == (2, 336)
