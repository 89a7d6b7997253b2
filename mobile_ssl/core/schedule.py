"""The learning rate at a step, as plain Python: what a device without TensorFlow needs.

The central trainer hands Keras its own schedule object
(mobile_ssl/training/trainer.py, `learning_rate`); a federated client runs the
trainable .tflite in LiteRT without TF (mobile_ssl/federated/device.py) and feeds
the step's rate to the file's `train` signature. Both follow `params.train`:
'constant', or a linear warm-up (capped at a tenth of the run, as the
trainer caps it) then cosine decay to 0 at `steps`, the formula of Keras's
CosineDecay with `alpha=0` (tests hold the two equal).
"""

import math

from mobile_ssl.core import training_params


def warmup_steps(train: training_params.TrainParams) -> int:
  """The warm-up actually used: a recipe's warm-up is capped at a tenth of a short run."""
  return min(train.warmup_steps, train.steps // 10)


def learning_rate_at(train: training_params.TrainParams, step: int) -> float:
  """The rate of the update after `step` earlier updates (0-based, Keras's `iterations`)."""
  if train.schedule == "constant":
    return float(train.learning_rate)
  if train.schedule != "cosine":
    raise ValueError(f"--schedule must be 'constant' or 'cosine', got {train.schedule!r}")
  warmup = warmup_steps(train)
  if warmup and step < warmup:
    return float(train.learning_rate) * step / warmup
  decay = max(1, train.steps - warmup)
  progress = min(max(step - warmup, 0), decay) / decay
  return float(train.learning_rate) * 0.5 * (1.0 + math.cos(math.pi * progress))
