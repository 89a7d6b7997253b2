"""Training that gives the same weights to the bit from the same seed, on request.

Every random draw of a run is seeded (initialization, file order, shuffles,
crops, augmentations), but since the encoder's batch normalization trains
through oneDNN's fused kernel (`batch_norm.FusedBatchNormalization`, 1.3-2.0x
faster steps) the last bits of its sums depend on which other ops TensorFlow
runs beside it on the cores. Two runs of one seed then drift apart, by about
1e-5 in the weights after a few steps, into different runs after a few hundred
(quickstart seed 0: triplet 98.0 / 94.7 in one run, 97.3 / 94.7 in another).

With one inter-op thread TensorFlow runs one op at a time, each op still on
all the intra-op threads, and runs of one seed were the same to the bit: two
whole quickstarts gave the same encoders, rows and int8 file, where the
default gave two different triplet encoders. Neither one intra-op thread nor
`tf.config.experimental.enable_op_determinism()` did that. The price is the
overlap of independent ops (a triplet's anchor and positive branches): the
quickstart's triplet pretraining ran at 296 examples/s against 411 (164 s
against 108 s); its one-branch supervised baseline at the same speed
(docs/evaluation.md, "Reproducible to the bit on request").

It is a process-wide setting that TensorFlow fixes when it runs its first op,
so the commands (`--deterministic`) apply it before anything runs.
"""

import tensorflow as tf


def make_deterministic() -> None:
  """One inter-op thread for this process: training is then reproducible to the bit.

  Raises:
    RuntimeError: TensorFlow already ran an op in this process with another
      inter-op thread count (it can no longer be changed).
  """
  try:
    tf.config.threading.set_inter_op_parallelism_threads(1)
  except RuntimeError as e:
    raise RuntimeError(
        "deterministic training must be chosen before TensorFlow runs its first op in this "
        f"process ({e})") from e
