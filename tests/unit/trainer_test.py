"""Tests of mobile_ssl.training.trainer without training: the learning-rate schedule, the optimizer."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from mobile_ssl.core import recipes
from mobile_ssl.training import trainer

TINY = recipes.tiny()


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


def test_resume_check_reads_an_older_params_json_with_the_fields_added_since(tmp_path):
  """A params.json written before a field existed resumes under that field's default, and a
  real change is still refused by name (training/pretraining.check_resumable)."""
  import json  # pylint: disable=import-outside-toplevel
  from mobile_ssl.training import pretraining  # pylint: disable=import-outside-toplevel
  earlier = recipes.recipe("triplet", "tuned")
  earlier = dataclasses.replace(earlier, augment=dataclasses.replace(
      earlier.augment, freq_crop_scale=(0.0, 0.0)))
  written = json.loads(earlier.to_json())
  del written["augment"]["freq_crop_scale"]  # as written before the option existed
  (tmp_path / "params.json").write_text(json.dumps(written))
  pretraining.check_resumable(str(tmp_path), earlier)  # the same run: resumes
  with pytest.raises(ValueError, match="augment.freq_crop_scale"):
    pretraining.check_resumable(str(tmp_path), recipes.recipe("triplet", "tuned"))


def test_an_input_errors_line_keeps_the_ops_message_and_drops_tensorflows_frame():
  # The message a tf.function step raises when a tf.data map's file read fails, with and
  # without a stack trace: the one line kept names the file and what is wrong with it.
  body = ("Error in user-defined function passed to MapDataset:1 transformation with "
          "iterator: Iterator::Root::Prefetch::ParallelMapV2: /x/00000003.f32; No such file "
          "or directory\n\t [[{{node ReadFile}}]]\n\t [[IteratorGetNext]] [Op:__inference_f_17]")
  for trace in ("<stack traces unavailable>\n",
                '  File "/x/train.py", line 3, in <module>\n    run()\n'):
    error = tf.errors.NotFoundError(
        None, None, f"Graph execution error:\n\nDetected at node ReadFile defined at (most "
                    f"recent call last):\n{trace}{body}")
    assert trainer._first_line(error) == "/x/00000003.f32; No such file or directory"
  plain = tf.errors.DataLossError(None, None, "{{function_node __wrapped__X}} corrupted record")
  assert trainer._first_line(plain) == "corrupted record"
