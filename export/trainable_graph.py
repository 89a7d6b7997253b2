"""The encoder, the contrastive task and Adam as plain TF ops whose gradients are TFLite builtins.

On-device training needs the backward pass inside the .tflite, run by the
LiteRT interpreter that phones ship. `ai_edge_litert` links no Flex delegate
(google-ai-edge/LiteRT#6458), so every op of the gradient graph must be a
builtin, and TF's own gradients of conv, max-pool and ReLU are not: a
builtins-only conversion fails on Conv2DBackpropFilter, MaxPoolGrad and
ReluGrad (TF 2.21). The training path here therefore rebuilds the Keras
encoder of mobile_ssl/core/encoder.py from ops whose gradients are builtins (PAD,
SLICE, RESHAPE, BATCH_MATMUL, SUM, MUL, ...):

* conv: one matmul per kernel tap on a shifted slice (a 3x1 conv is three
  [N, C_in] x [C_in, C_out] products); strides by reshape-and-slice, whose
  gradients are PAD and RESHAPE (no StridedSlice and its StridedSliceGrad);
* max-pool 2x2: reshape to [B, H/2, 2, W/2, 2, C] and reduce_max (inputs are
  post-ReLU, >= 0, so zero padding is exact);
* ReLU: a custom gradient (a MUL by the x > 0 mask); rsqrt, tanh and log
  too, to keep the gradient graph to plain elementwise builtins.

The inference path (`training=False`) uses tf.nn.conv2d and max_pool2d: the
same function, XNNPACK's fast kernels. Tests hold both to the Keras model.
Weights are plain tf.Variables (never a wrapped Keras model, whose weights
the converter can silently drop); the converter keeps them as
resource variables (VAR_HANDLE/ASSIGN_VARIABLE), the device's training state.
"""

import math
import typing

import numpy as np
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib

# Keras defaults of the layers mirrored here (BatchNormalization, LayerNormalization, Adam).
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.99
LN_EPSILON = 1e-3
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7


@tf.custom_gradient
def relu(x):
  def grad(g):
    return g * tf.cast(x > 0, g.dtype)
  return tf.maximum(x, 0.0), grad


@tf.custom_gradient
def rsqrt(x):
  y = 1.0 / tf.sqrt(x)
  def grad(g):
    return -0.5 * g * y * y * y
  return y, grad


@tf.custom_gradient
def tanh(x):
  y = tf.tanh(x)
  def grad(g):
    return g * (1.0 - y * y)
  return y, grad


@tf.custom_gradient
def log(x):
  def grad(g):
    return g / x
  return tf.math.log(x), grad


def weight_names(params: params_lib.Params) -> typing.List[typing.Tuple[str, str]]:
  """(layer name, weight kind) of every encoder weight, in the file's fixed order."""
  names = []
  for name, kind, _ in encoder_lib.layer_table(params.encoder):
    if kind == "conv":
      names.append((name, "kernel"))
    elif kind == "bn":
      names += [(name, w) for w in ("gamma", "beta", "moving_mean", "moving_variance")]
    elif kind == "dense" and params.encoder.embedding_dim:
      names += [(name, "kernel"), (name, "bias")]
  return names


def keras_encoder_weights(encoder, params: params_lib.Params) -> typing.List[np.ndarray]:
  """The Keras encoder's weights in `weight_names` order."""
  out = []
  for name, kind, _ in encoder_lib.layer_table(params.encoder):
    if kind in ("conv", "bn") or (kind == "dense" and params.encoder.embedding_dim):
      out += [np.asarray(w, np.float32) for w in encoder.get_layer(name).get_weights()]
  return out


def set_keras_encoder_weights(encoder, params: params_lib.Params, arrays) -> None:
  """Inverse of `keras_encoder_weights`."""
  arrays = list(arrays)
  for name, kind, _ in encoder_lib.layer_table(params.encoder):
    if kind in ("conv", "bn") or (kind == "dense" and params.encoder.embedding_dim):
      layer = encoder.get_layer(name)
      count = len(layer.get_weights())
      layer.set_weights(arrays[:count])
      arrays = arrays[count:]
  if arrays:
    raise ValueError(f"{len(arrays)} encoder weights left over: the layout does not match params")


def _same_padding(size: int, kernel: int, stride: int) -> typing.Tuple[int, int, int]:
  """(output size, pad before, pad after) of TF's 'same' padding."""
  out = -(-size // stride)
  total = max((out - 1) * stride + kernel - size, 0)
  return out, total // 2, total - total // 2


def _conv_taps(x, kernel, stride):
  """'same' conv as a sum of per-tap matmuls: gradients are SLICE/PAD/BATCH_MATMUL only."""
  _, height, width, channels = x.shape
  kh, kw, _, out_channels = kernel.shape
  sh, sw = stride
  out_h, top, bottom = _same_padding(height, kh, sh)
  out_w, left, right = _same_padding(width, kw, sw)
  # Extra (stride - 1) rows/columns at the end so every tap's window spans
  # out * stride positions, which reshape into [out, stride] groups.
  x = tf.pad(x, [[0, 0], [top, bottom + sh - 1], [left, right + sw - 1], [0, 0]])
  taps = tf.unstack(tf.reshape(kernel, [kh * kw, kernel.shape[2], out_channels]))
  total = None
  for i in range(kh):
    for j in range(kw):
      piece = tf.slice(x, [0, i, j, 0], [-1, out_h * sh, out_w * sw, channels])
      if sh > 1 or sw > 1:
        piece = tf.reshape(piece, [-1, out_h, sh, out_w, sw, channels])
        piece = tf.slice(piece, [0, 0, 0, 0, 0, 0], [-1, out_h, 1, out_w, 1, channels])
      flat = tf.matmul(tf.reshape(piece, [-1, channels]), taps[i * kw + j])
      total = flat if total is None else total + flat
  return tf.reshape(total, [-1, out_h, out_w, out_channels])


def _max_pool_2x2(x):
  """2x2 'same' max pool as reshape + reduce_max (its gradient: EQUAL, CAST, SUM, DIV)."""
  _, height, width, channels = x.shape
  out_h, out_w = -(-height // 2), -(-width // 2)
  # Inputs follow a ReLU (>= 0), so zeros pad exactly like 'same' does.
  x = tf.pad(x, [[0, 0], [0, 2 * out_h - height], [0, 2 * out_w - width], [0, 0]])
  x = tf.reshape(x, [-1, out_h, 2, out_w, 2, channels])
  return tf.reduce_max(x, axis=[2, 4])


def encoder_forward(weights: typing.Sequence, log_mel, params: params_lib.Params,
                    training: bool):
  """The encoder of mobile_ssl/core/encoder.py on explicit weights.

  Args:
    weights: tensors or variables in `weight_names` order.
    log_mel: float32 [B, frames, bins, 1].
    params: the run's params (variant, pooling, embedding size).
    training: batch statistics and builtin-gradient ops (True) or moving
      statistics and tf.nn kernels (False).

  Returns:
    (embedding [B, d], [(layer name, batch mean, batch variance)] of each BN when training).
  """
  it = iter(weights)
  x, stats, block_outputs = log_mel, [], {}
  if params.encoder.input_norm == "time_mean":
    x = x - tf.reduce_mean(x, axis=1, keepdims=True)
  for name, kind, options in encoder_lib.layer_table(params.encoder):
    if kind == "conv":
      kernel, stride = next(it), tuple(options.get("stride", (1, 1)))
      if isinstance(stride, int):
        stride = (stride, stride)
      x = (_conv_taps(x, kernel, stride) if training else
           tf.nn.conv2d(x, kernel, strides=[1, *stride, 1], padding="SAME"))
    elif kind == "bn":
      gamma, beta, moving_mean, moving_variance = (next(it) for _ in range(4))
      if training:
        mean = tf.reduce_mean(x, axis=[0, 1, 2])
        variance = tf.reduce_mean(tf.square(x - mean), axis=[0, 1, 2])
        stats.append((name, mean, variance))
      else:
        mean, variance = moving_mean, moving_variance
      x = (x - mean) * (rsqrt(variance + BN_EPSILON) * gamma) + beta
    elif kind == "relu":
      x = relu(x)
    elif kind == "maxpool":
      x = _max_pool_2x2(x) if training else tf.nn.max_pool2d(x, 2, 2, "SAME")
    elif kind == "global_max" and params.encoder.pooling == "multi_mean_std":
      levels = list(block_outputs.values())[-params.encoder.pool_blocks:]
      x = tf.concat([_time_mean_std(level) for level in levels], -1)
    elif kind == "global_max":
      x = _pool(x, params.encoder.pooling)
    elif kind == "dense" and params.encoder.embedding_dim:
      kernel, bias = next(it), next(it)
      x = tf.matmul(x, kernel) + bias
    if name.startswith("block"):
      block_outputs[name.split("_")[0]] = x
  return x, stats


def _time_mean_std(x):
  """encoder.TimeMeanStd on plain tensors.

  The variance stays in the one-pass form E[x^2] - E[x]^2 here: equal to the
  Keras layer's two-pass form in float32 (this graph is never quantized; the
  two-pass form exists for int8), and its gradient is elementwise.
  """
  _, _, freq, channels = x.shape
  mean = tf.reduce_mean(x, axis=1)
  variance = tf.maximum(tf.reduce_mean(tf.square(x), axis=1) - tf.square(mean), 0.0)
  shifted = variance + encoder_lib.STD_EPSILON
  joined = tf.concat([mean, shifted * rsqrt(shifted)], -1)  # sqrt with a builtin gradient
  return tf.reshape(joined, [-1, freq * 2 * channels])


def _pool(x, pooling: str):
  if pooling == "max":
    return tf.reduce_max(x, axis=[1, 2])
  if pooling == "mean_max":
    return tf.concat([tf.reduce_mean(x, axis=[1, 2]), tf.reduce_max(x, axis=[1, 2])], -1)
  if pooling == "time_mean_max":
    _, _, freq, channels = x.shape
    joined = tf.concat([tf.reduce_mean(x, axis=1), tf.reduce_max(x, axis=1)], -1)
    return tf.reshape(joined, [-1, freq * 2 * channels])
  raise ValueError(f"unknown pooling {pooling!r}; valid: {params_lib.POOLINGS}")


def layer_norm_tanh(x, gamma, beta):
  """COLA's head (tasks/contrastive.py): LayerNormalization then tanh."""
  mean = tf.reduce_mean(x, axis=-1, keepdims=True)
  variance = tf.reduce_mean(tf.square(x - mean), axis=-1, keepdims=True)
  return tanh((x - mean) * rsqrt(variance + LN_EPSILON) * gamma + beta)


def softmax_cross_entropy(logits, one_hot):
  """Mean softmax cross-entropy with a builtin-only gradient (log-sum-exp by hand)."""
  peak = tf.stop_gradient(tf.reduce_max(logits, axis=-1, keepdims=True))
  log_sum = log(tf.reduce_sum(tf.exp(logits - peak), axis=-1)) + tf.squeeze(peak, -1)
  return tf.reduce_mean(log_sum - tf.reduce_sum(logits * one_hot, axis=-1))


def l2_normalize(x):
  """tf.math.l2_normalize along the last axis with a builtin gradient."""
  return x * rsqrt(tf.maximum(tf.reduce_sum(tf.square(x), axis=-1, keepdims=True), 1e-12))


def contrastive_loss(anchor_embedding, positive_embedding, head_weights, temperature: float,
                     batch_size: int, similarity: str = "bilinear"):
  """tasks/contrastive.py's loss: the matching clip among the batch's positives."""
  gamma, beta, bilinear = head_weights
  a = layer_norm_tanh(anchor_embedding, gamma, beta)
  wp = tf.matmul(layer_norm_tanh(positive_embedding, gamma, beta), bilinear)
  if similarity == "cosine":
    a, wp = l2_normalize(a), l2_normalize(wp)
  logits = tf.matmul(a, wp, transpose_b=True) / temperature
  return softmax_cross_entropy(logits, tf.eye(batch_size))


class Adam(tf.Module):
  """Keras 3's Adam / AdamW update on tf.Variables (same formulas, same epsilon), no Keras object inside.

  `apply` takes the step's learning rate as a tensor, so the host feeds a
  schedule (core/schedule.py) through the file's inputs, and clips the
  gradients to a global norm and decays the weights (decoupled, before the
  Adam step, by learning rate x decay) as Keras's `global_clipnorm` and
  AdamW do: the central recipe's stabilizers, on the device.
  """

  def __init__(self, variables, name: str, weight_decay: float = 0.0, clip_norm: float = 0.0):
    super().__init__(name=name)
    self.weight_decay = float(weight_decay)
    self.clip_norm = float(clip_norm)
    self.step = tf.Variable(0.0, name=f"{name}_step")
    self.slots = [(tf.Variable(tf.zeros_like(v), name=f"{name}_m{i}"),
                   tf.Variable(tf.zeros_like(v), name=f"{name}_v{i}"))
                  for i, v in enumerate(variables)]

  def apply(self, variables, gradients, learning_rate) -> None:
    if self.clip_norm:
      norm = tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(g)) for g in gradients]))
      scale = self.clip_norm / tf.maximum(norm, self.clip_norm)
      gradients = [g * scale for g in gradients]
    step = self.step + 1.0
    alpha = (learning_rate * tf.sqrt(1.0 - tf.pow(ADAM_BETA_2, step)) /
             (1.0 - tf.pow(ADAM_BETA_1, step)))
    for var, grad, (m, v) in zip(variables, gradients, self.slots):
      if self.weight_decay:
        var.assign_sub(var * (self.weight_decay * learning_rate))
      m.assign(m + (grad - m) * (1.0 - ADAM_BETA_1))
      v.assign(v + (grad * grad - v) * (1.0 - ADAM_BETA_2))
      var.assign_sub(alpha * m / (tf.sqrt(v) + ADAM_EPSILON))
    self.step.assign(step)


def update_moving_stats(variables: dict, stats) -> None:
  """Keras BN's moving-average update for each (layer, mean, variance), in call order.

  `variables` maps 'layer:moving_mean' / 'layer:moving_variance' to tf.Variables.
  """
  for name, mean, variance in stats:
    for kind, value in (("moving_mean", mean), ("moving_variance", variance)):
      var = variables[f"{name}:{kind}"]
      var.assign(var * BN_MOMENTUM + value * (1.0 - BN_MOMENTUM))


def glorot(shape, seed: int) -> np.ndarray:
  limit = math.sqrt(6.0 / (shape[0] + shape[1]))
  return np.random.default_rng(seed).uniform(-limit, limit, shape).astype(np.float32)
