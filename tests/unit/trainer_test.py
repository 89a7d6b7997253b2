"""Tests of mobile_ssl.training.trainer without training: the learning-rate schedule, the optimizer."""

import dataclasses

import keras
import pytest
import numpy as np

from mobile_ssl.core import params as params_lib
from mobile_ssl.training import trainer

TINY = params_lib.tiny()


def test_cosine_schedule_warms_up_then_decays_to_zero():
  train = dataclasses.replace(TINY.train, steps=100, schedule="cosine", warmup_steps=10,
                              learning_rate=1e-3)
  rate = trainer.learning_rate(train)
  values = [float(rate(step)) for step in (0, 5, 10, 55, 100)]
  np.testing.assert_allclose(values, [0.0, 5e-4, 1e-3, 5e-4, 0.0], atol=2e-5)
  short = trainer.learning_rate(dataclasses.replace(train, steps=20, warmup_steps=200))
  assert float(short(2)) == pytest.approx(1e-3, rel=1e-3)  # warm-up capped at steps // 10
  with pytest.raises(ValueError, match="schedule"):
    trainer.learning_rate(dataclasses.replace(train, schedule="linear"))


def test_optimizer_is_adam_or_adamw_with_the_decay_and_clipping_asked_for():
  train = dataclasses.replace(TINY.train, learning_rate=2e-3)
  adam = trainer.make_optimizer(train)
  assert type(adam) is keras.optimizers.Adam and adam.global_clipnorm is None
  assert float(adam.learning_rate) == pytest.approx(2e-3)
  adamw = trainer.make_optimizer(dataclasses.replace(train, weight_decay=1e-4, clip_norm=5.0))
  assert type(adamw) is keras.optimizers.AdamW
  assert (adamw.weight_decay, adamw.global_clipnorm) == (1e-4, 5.0)
  with pytest.raises(ValueError, match="--weight_decay and --clip_norm must be >= 0"):
    trainer.make_optimizer(dataclasses.replace(train, clip_norm=-1.0))
