r"""Where an Audio2Vec training step's time goes: encoder passes against the decoder.

  python bench/audio2vec_step.py [--batch_size=64] [--steps=15] [--repeats=3]

Times one optimizer step (forward, backward, AdamW; random inputs, no input
pipeline) of the tuned recipe's models in one run, interleaved, the median of
`--repeats` rounds of `--steps` steps each:

- the encoder alone on one batch of slices (one encoder pass, the peer),
- Audio2Vec SkipGram (P = 2: one pass, a decoder with four output channels),
- Audio2Vec CBoW with P = 2 (the paper's, four passes) and P = 1 (two).

It prints each step's time and its ratio to one encoder pass, so the share of
the step that the context slices' passes take is plain. This is why CBoW's
step costs about twice SkipGram's at P = 2, and what P = 1 buys
(docs/evaluation.md, "Goal 2: CBoW and SkipGram with one context slice each
side"). Not a test.
"""

import dataclasses
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import tasks
from mobile_ssl.training import trainer

flags.DEFINE_integer("batch_size", 64, "Examples per step.", lower_bound=1)
flags.DEFINE_integer("steps", 15, "Timed steps per round (after 5 warm-up steps).", lower_bound=1)
flags.DEFINE_integer("repeats", 3, "Rounds; the median is reported.", lower_bound=1)
FLAGS = flags.FLAGS


def _case(task: str, context_slices: int, batch: int):
  """(model, loss, inputs, targets) of `task` in the tuned recipe with P = context_slices."""
  params = params_lib.recipe(task if task != "encoder" else "triplet")
  params = dataclasses.replace(params, task=dataclasses.replace(
      params.task, context_slices=context_slices))
  encoder = encoder_lib.build_encoder(params.encoder, params.features, seed=0)
  s, bins = params.features.slice_frames, params.features.num_mel_bins
  rng = tf.random.Generator.from_seed(0)
  if task == "encoder":
    return (encoder, lambda y, out: tf.reduce_mean(tf.square(out), -1),
            rng.normal([batch, s, bins, 1]), None)
  spec = tasks.get(task)
  model = spec.build_model(encoder, params)
  p2 = 2 * context_slices
  if task == "audio2vec_cbow":
    inputs = {"context": rng.normal([batch, p2, s, bins, 1])}
    targets = rng.normal([batch, s, bins, 1])
  else:
    inputs = {"centre": rng.normal([batch, s, bins, 1])}
    targets = rng.normal([batch, s, bins, p2])
  return model, lambda y, out: spec.loss(y, out, params), inputs, targets


def _step_function(model, loss_fn, inputs, targets):
  optimizer = trainer.make_optimizer(params_lib.recipe().train)
  optimizer.build(model.trainable_variables)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(loss_fn(targets, model(inputs, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss

  return step


def main(argv):
  del argv
  cases = {"encoder alone, one pass (peer)": ("encoder", 2),
           "SkipGram, P = 2": ("audio2vec_skipgram", 2),
           "CBoW, P = 2 (the paper's)": ("audio2vec_cbow", 2),
           "CBoW, P = 1": ("audio2vec_cbow", 1)}
  steps = {name: _step_function(*_case(task, p, FLAGS.batch_size))
           for name, (task, p) in cases.items()}
  for step in steps.values():
    for _ in range(5):
      float(step())
  seconds = {name: [] for name in steps}
  for _ in range(FLAGS.repeats):
    for name, step in steps.items():
      started = time.perf_counter()
      for _ in range(FLAGS.steps):
        float(step())
      seconds[name].append((time.perf_counter() - started) / FLAGS.steps)
  peer = float(np.median(seconds["encoder alone, one pass (peer)"]))
  print(f"batch {FLAGS.batch_size}, median of {FLAGS.repeats} rounds of {FLAGS.steps} steps")
  print("| model | ms per step | examples/s | / one encoder pass |")
  print("|---|---:|---:|---:|")
  for name, values in seconds.items():
    median = float(np.median(values))
    print(f"| {name} | {median * 1e3:.0f} | {FLAGS.batch_size / median:.0f} | "
          f"{median / peer:.2f} |")


if __name__ == "__main__":
  app.run(main)
