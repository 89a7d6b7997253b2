"""The params whose training step the step benchmarks time: one pretext task of a recipe.

bench/train_throughput.py and bench/batch_norm_step.py both time one task's step of
a recipe at a given width and batch on synthetic_audio; this is the one place that
says how that run is set up (its `supervised` task learns the 8 event classes), so
the two scripts' figures are of the same step. A module of its own because each
script defines absl flags on import and cannot import the other.
"""

import dataclasses

from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes

# synthetic_audio's label the `supervised` task learns, and its classes.
LABEL_KEY, NUM_CLASSES = "event", 8


def task_params(recipe: str, task: str, width: float, batch_size: int) -> params_lib.Params:
  """`recipe`'s params for pretext task `task` at encoder `width` and `batch_size`."""
  base = recipes.recipe(name=recipe)
  return dataclasses.replace(
      base, encoder=dataclasses.replace(base.encoder, width=width),
      task=dataclasses.replace(base.task, name=task, num_classes=NUM_CLASSES,
                               label_key=LABEL_KEY),
      train=dataclasses.replace(base.train, batch_size=batch_size))
