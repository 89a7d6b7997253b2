"""Batch normalization of conv feature maps whose training step is one fused kernel.

What: `FusedBatchNormalization`, Keras's `BatchNormalization` layer with the
same weights, config and inference, whose training-mode call on 4-D
channels-last float32 maps runs TensorFlow's `FusedBatchNormV3` (oneDNN's
kernel on x86) and its fused gradient, then updates the moving mean and
variance by Keras's formula. Every other call (inference, a frozen layer,
other ranks or axes, masks, renorm, synchronized statistics, other dtypes,
another Keras backend, `fused=False`) is Keras's own.

Why: Keras 3 computes the batch moments and the normalization as separate
element-wise ops (`tf.nn.moments`, `tf.nn.batch_normalization`), each a pass
over the feature map forward and more passes backward. On the encoder's first
block (96 x 64 x 8 values per window) those passes were about half of a
training step: a triplet step of the tuned recipe took 289 ms with Keras's ops
and 135 ms with this layer on 2 vCPUs, and every task's step was 1.3-2.0x
faster (bench/batch_norm_step.py; docs/benchmark.md, "The training step:
fused batch normalization").

The values are batch normalization's to float32 rounding, not to the bit:
oneDNN sums the moments in another order (its outputs were within 2e-5 of
Keras's, relative, on the encoder), so a run trained with it follows another
float path from the same seed (the quickstart's rows over three seeds each
way: docs/evaluation.md, "Fused batch normalization"). Nor is a run
reproducible to the bit: when oneDNN's kernels share the cores with other
ops their results vary in the last bits from run to run (equal again with
one inter-op or one intra-op thread), where Keras's ops gave the same run
every time. The fused op returns the unbiased batch variance; the moving
variance keeps Keras's biased one.
"""

import keras
import tensorflow as tf

# FusedBatchNormV3 rejects a smaller epsilon.
_MIN_FUSED_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="mobile_ssl")
class FusedBatchNormalization(keras.layers.BatchNormalization):
  """`keras.layers.BatchNormalization` with a fused training step on [B, H, W, C] float32 maps.

  `fused`: False runs Keras's own ops in training too (bench/batch_norm_step.py
  times both in one run).
  """

  def __init__(self, *args, fused: bool = True, **kwargs):
    super().__init__(*args, **kwargs)
    self.fused = fused

  def get_config(self):
    return {**super().get_config(), "fused": self.fused}

  def _fuses(self, inputs, training, mask) -> bool:
    return (self.fused and training is True and self.trainable and mask is None
            and keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 4 and list(self._reduction_axes) == [0, 1, 2]
            and inputs.dtype == tf.float32 and self.compute_dtype == "float32"
            and self.scale and self.center and not self.renorm and not self.synchronized
            and self.epsilon >= _MIN_FUSED_EPSILON)

  def call(self, inputs, training=None, mask=None):
    if not self._fuses(inputs, training, mask):
      return super().call(inputs, training=training, mask=mask)
    outputs, mean, unbiased, _, _, _ = tf.raw_ops.FusedBatchNormV3(
        x=inputs, scale=self.gamma, offset=self.beta,
        mean=tf.constant([], tf.float32), variance=tf.constant([], tf.float32),
        epsilon=self.epsilon, exponential_avg_factor=1.0, data_format="NHWC",
        is_training=True)
    count = tf.cast(tf.reduce_prod(tf.shape(inputs)[:3]), tf.float32)
    variance = unbiased * tf.maximum(count - 1.0, 0.0) / tf.maximum(count, 1.0)
    # As Keras's layer: the moving statistics follow the batch's biased moments.
    self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
    self.moving_variance.assign(
        self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
    return outputs
