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
  assert isinstance(trainer.make_optimizer(dataclasses.replace(train, weight_decay=1e-4)),
                    keras.optimizers.AdamW)
  with pytest.raises(ValueError, match="schedule"):
    trainer.learning_rate(dataclasses.replace(train, schedule="linear"))
