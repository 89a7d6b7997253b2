"""BYOL-A: two augmented views of one slice, an online network predicts the target's.

Niizumi et al., "BYOL for Audio: Self-Supervised Learning for General-Purpose
Audio Representation" (IJCNN 2021; nttcslab/byol-a). Both views are the same
975 ms slice of a clip; what makes them differ are the augmentations (BYOL-A
uses mixup with other clips of the pool and a random resized crop:
`params.augment`, applied by the input pipeline). The online branch is the
shared encoder, a projector MLP and a predictor MLP; the target branch is an
encoder and projector of the same shape whose weights are an exponential
moving average of the online ones (`after_update`, run by the training loop
after every optimizer step), with no gradient. Loss: 2 - 2 cos(prediction of
one view, target projection of the other), symmetrized. No negatives, so
batches of one user's own clips suffice.

MLP sizes are smaller than the paper's 4096 hidden units: the encoder here
has 128 dimensions, and on a CPU the MLPs would cost more than the encoder.
"""

import keras
import tensorflow as tf

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import sampling

TARGET_ENCODER = "target_encoder"


def min_frames(params: params_lib.Params) -> int:
  return params.features.slice_frames


def make_examples(clips: sampling.ClipBatch, params: params_lib.Params, seed: tf.Tensor):
  """-> ({'view1', 'view2'}: the same random slice [B, S, bins, 1] twice, dummy targets 0 [B])."""
  piece = sampling.random_crop(clips, seed, params.features.slice_frames)
  return {"view1": piece, "view2": piece}, tf.zeros([clips.size])


def _mlp(name: str, params: params_lib.Params, trainable: bool = True) -> keras.Sequential:
  task = params.task
  mlp = keras.Sequential([
      keras.layers.Dense(task.byol_hidden_dim, name="hidden"),
      keras.layers.BatchNormalization(name="bn"),
      keras.layers.ReLU(name="relu"),
      keras.layers.Dense(task.byol_projection_dim, name="out")], name=name)
  mlp.trainable = trainable
  return mlp


class ByolModel(keras.Model):
  """Online and target branches; a subclass because Keras 3's functional API
  refuses two nested encoders whose layers share names."""

  def __init__(self, encoder: keras.Model, params: params_lib.Params):
    super().__init__(name="byol_a")
    self.encoder = encoder
    self.projector = _mlp("projector", params)
    self.predictor = _mlp("predictor", params)
    self.target_encoder = encoder_lib.build_encoder(params.encoder, params.features,
                                                    name=TARGET_ENCODER)
    self.target_encoder.trainable = False
    self.target_projector = _mlp("target_projector", params, trainable=False)

  def call(self, inputs, training=False):
    views = (inputs["view1"], inputs["view2"])
    online = [self.predictor(self.projector(self.encoder(v, training=training),
                                            training=training), training=training)
              for v in views]
    target = [keras.ops.stop_gradient(self.target_projector(self.target_encoder(v)))
              for v in views]
    return keras.ops.stack(online + target, axis=1)


def build_model(encoder: keras.Model, params: params_lib.Params) -> keras.Model:
  """Online encoder/projector/predictor and the EMA target, copied from the online weights."""
  model = ByolModel(encoder, params)
  shape = (1,) + tuple(encoder.input_shape[1:])
  model({"view1": keras.ops.zeros(shape), "view2": keras.ops.zeros(shape)})  # Builds.
  for target_weight, online_weight in _pairs(model):
    target_weight.assign(online_weight)
  return model


def _pairs(model: keras.Model):
  """(target variable, online variable) in matching order, BN statistics included."""
  pairs = []
  for target_name, online_name in ((TARGET_ENCODER, encoder_lib.NAME),
                                   ("target_projector", "projector")):
    target, online = model.get_layer(target_name), model.get_layer(online_name)
    if len(target.weights) != len(online.weights):
      raise ValueError(f"{target_name} and {online_name} differ in shape")
    pairs += list(zip(target.weights, online.weights))
  return pairs


def after_update(model: keras.Model, params: params_lib.Params) -> None:
  """target <- decay * target + (1 - decay) * online, after each optimizer step."""
  decay = params.task.byol_ema_decay
  for target_weight, online_weight in _pairs(model):
    target_weight.assign(decay * target_weight + (1.0 - decay) * online_weight)


def _cosine_distance(a, b):
  a, b = tf.math.l2_normalize(a, axis=-1), tf.math.l2_normalize(b, axis=-1)
  return 2.0 - 2.0 * tf.reduce_sum(a * b, axis=-1)


def loss(targets, outputs, params: params_lib.Params) -> tf.Tensor:
  """Per-example symmetric BYOL loss; outputs [B, 4, D] = (p1, p2, z1', z2')."""
  del targets, params
  return _cosine_distance(outputs[:, 0], outputs[:, 3]) + _cosine_distance(outputs[:, 1],
                                                                           outputs[:, 2])
