"""A frozen encoder's inference copy: batch norm folded into the conv before it.

Why: in inference a BatchNormalization layer is a per-channel affine map, so
`BN(conv(x, W))` equals `conv(x, W * s) + (beta - mean * s)` with
`s = gamma / sqrt(var + eps)`. Keras runs BN as four element-wise passes over
each full feature map (96x64x8 floats in block 1); folded, they disappear
(the same fold that grappler does on a frozen graph, and that the TFLite
converter does on export; the speed-up: docs/evaluation.md, "Embedding
throughput"). Outputs agree with the Keras
model within float32 round-off (`fold` checks that before returning).

Only the pattern the encoders use is folded: a Conv2D without activation
whose output feeds a BatchNormalization layer directly (layer order and
`bn.input is conv.output`). Anything else (logmel_stats, peers without BN,
subclassed models) is returned unchanged. The evaluation's linear probe embeds
through `joint_embed_function`; fine-tuning trains the Keras model itself.
"""

import collections
import typing

import keras
import numpy as np
import tensorflow as tf

from mobile_ssl.core import params as params_lib

# The folded copy must match the Keras model this closely on a random batch
# (relative to the output's scale), else the Keras model itself is used.
TOLERANCE = 1e-4


class _PassThrough(keras.layers.Layer):
  """Stands in for a folded BN; takes BN's call arguments (Identity refuses `mask`)."""

  def call(self, inputs, training=None, mask=None):
    del training, mask
    return inputs


def _pairs(model: keras.Model) -> dict:
  """{conv layer name: its BN layer} for each foldable Conv2D -> BatchNormalization."""
  pairs = {}
  layers = model.layers
  for previous, layer in zip(layers[:-1], layers[1:]):
    if (isinstance(layer, keras.layers.BatchNormalization)
        and type(previous) is keras.layers.Conv2D
        and previous.get_config().get("activation") == "linear"
        and layer.input is previous.output
        and layer.axis in (-1, [-1], [3], 3)):
      pairs[previous.name] = layer
  return pairs


def _folded_weights(conv: keras.layers.Conv2D, bn: keras.layers.BatchNormalization):
  """(kernel, bias) of the conv that computes BN(conv(x)) in inference.

  Variables are read with `.numpy()`: `keras.ops.convert_to_numpy` of a Keras 3.15
  variable calls its `__array__` without numpy 2's `copy` argument (a DeprecationWarning).
  """
  kernel = conv.kernel.numpy().astype(np.float64)
  bias = (conv.bias.numpy().astype(np.float64) if conv.use_bias
          else np.zeros(kernel.shape[-1]))
  mean = bn.moving_mean.numpy().astype(np.float64)
  variance = bn.moving_variance.numpy().astype(np.float64)
  gamma = (bn.gamma.numpy().astype(np.float64) if bn.scale
           else np.ones_like(mean))
  beta = (bn.beta.numpy().astype(np.float64) if bn.center
          else np.zeros_like(mean))
  scale = gamma / np.sqrt(variance + bn.epsilon)
  return (kernel * scale).astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def fold(model: keras.Model) -> keras.Model:
  """A copy of `model` with BN folded into its convs, or `model` itself if none folds.

  Raises nothing for an unsupported model: it is returned as it is.
  """
  try:
    pairs = _pairs(model)
  except (AttributeError, ValueError):  # a subclassed model has no layer graph
    return model
  if not pairs:
    return model
  folded_bns = {bn.name for bn in pairs.values()}

  def clone(layer):
    if layer.name in pairs:
      config = dict(layer.get_config(), use_bias=True)
      return type(layer).from_config(config)
    if layer.name in folded_bns:
      return _PassThrough(name=layer.name)
    return layer.__class__.from_config(layer.get_config())

  copy = keras.models.clone_model(model, clone_function=clone)
  for layer in model.layers:
    target = copy.get_layer(layer.name)
    if layer.name in pairs:
      target.set_weights(list(_folded_weights(layer, pairs[layer.name])))
    elif layer.name not in folded_bns and layer.weights:
      target.set_weights(layer.get_weights())
  return copy if _agrees(model, copy) else model


def _agrees(model: keras.Model, copy: keras.Model) -> bool:
  shape = [2] + list(model.inputs[0].shape[1:])
  x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
  a = keras.ops.convert_to_numpy(model(x, training=False))
  b = keras.ops.convert_to_numpy(copy(x, training=False))
  return bool(np.max(np.abs(a - b)) <= TOLERANCE * max(1.0, float(np.max(np.abs(a)))))


_FUNCTIONS: "collections.OrderedDict[tuple, typing.Callable]" = collections.OrderedDict()
_MAX_FUNCTIONS = 8


def joint_embed_function(encoders: typing.Sequence[keras.Model],
                         feature_params: params_lib.FeatureParams,
                         keys: typing.Sequence[str]) -> typing.Callable:
  """log-mel windows [B, frames, bins] float32 -> a tuple of embeddings [B, d_i], one per encoder.

  All encoders (BN folded) run in one traced graph: TensorFlow's executor then
  runs their independent ops side by side, where each small model alone
  leaves cores waiting on its ops' joins, and the graph is traced once, not
  once per encoder (3 quickstart encoders on 20,315 windows: 10.7 s against
  12.2 s one after another, docs/evaluation.md, "One graph for a pass's encoders").

  One traced function per `keys`, whatever B (the last batch is smaller). A
  folded copy holds the weights as they are now, so each key must name them
  (`window_embeddings.fingerprint`): an encoder trained further gets a new key
  and a new copy, never a stale one.
  """
  key = tuple(keys)
  if len(key) != len(encoders):
    raise ValueError(f"{len(encoders)} encoders need as many keys, got {len(key)}")
  if key in _FUNCTIONS:
    _FUNCTIONS.move_to_end(key)
    return _FUNCTIONS[key]
  models = [fold(encoder) for encoder in encoders]

  def run(x):
    x = tf.expand_dims(x, -1)
    return tuple(model(x, training=False) for model in models)

  function = tf.function(run, input_signature=[
      tf.TensorSpec([None, feature_params.slice_frames, feature_params.num_mel_bins],
                    tf.float32)])
  _FUNCTIONS[key] = function
  while len(_FUNCTIONS) > _MAX_FUNCTIONS:
    _FUNCTIONS.popitem(last=False)
  return function


def embed_function(encoder: keras.Model, feature_params: params_lib.FeatureParams,
                   key: str) -> typing.Callable:
  """log-mel windows [B, frames, bins] float32 -> embeddings [B, d], BN folded.

  `joint_embed_function` of one encoder, keyed by `key` (the same rules).
  """
  joint = joint_embed_function([encoder], feature_params, [key])
  return lambda x: joint(x)[0]
