"""Audio2Vec CBoW and SkipGram: reconstruct a slice from its neighbours, or back.

Tagliasacchi et al. 2019 (arXiv 1905.11796), after word2vec. Around a target
slice sit P past and P future slices of the same length, separated by G
frames. CBoW embeds the 2P context slices with the shared encoder,
concatenates the embeddings and decodes the target slice's log-mel; SkipGram
embeds the target slice and decodes the 2P context slices (one output channel
per position: the heads share the decoder trunk). Loss: mean squared error
per slice, summed over SkipGram's heads, on the log-mel (the paper's) or on
each target slice standardized (`task.audio2vec_target`).

The decoder mirrors the encoder: a dense layer to the encoder's last feature
map (96/32 x 64/32 x C), then per block UpSampling 2x2 -> Conv 1x3 -> BN ->
ReLU -> Conv 3x1 -> BN -> ReLU with the encoder's channels in reverse, and a
1x1 conv to the output channels.
"""


import keras
import tensorflow as tf

from mobile_ssl.core import batch_norm
from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import sampling


def _span(params: params_lib.Params) -> int:
  p, g, s = params.task.context_slices, params.task.gap_frames, params.features.slice_frames
  return (2 * p + 1) * s + 2 * p * g


def min_frames(params: params_lib.Params) -> int:
  return _span(params)


def _windows(clips: sampling.ClipBatch, params, seed):
  """All 2P + 1 slices [B, 2P+1, S, bins, 1] of a randomly placed context window per clip."""
  s = params.features.slice_frames
  step = s + params.task.gap_frames
  last = clips.lengths - _span(params)
  start = sampling.uniform_int(seed, 0, last)
  count = 2 * params.task.context_slices + 1
  return clips.crop(start[:, None] + step * tf.range(count)[None, :], s)


def make_cbow_examples(clips: sampling.ClipBatch, params: params_lib.Params, seed: tf.Tensor):
  """-> ({'context': [B, 2P, S, bins, 1]}, target [B, S, bins, 1])."""
  windows = _windows(clips, params, seed)
  p = params.task.context_slices
  context = tf.concat([windows[:, :p], windows[:, p + 1:]], axis=1)
  return {"context": context}, windows[:, p]


def make_skipgram_examples(clips: sampling.ClipBatch, params: params_lib.Params,
                           seed: tf.Tensor):
  """-> ({'centre': [B, S, bins, 1]}, context [B, S, bins, 2P] (one channel per position))."""
  windows = _windows(clips, params, seed)
  p = params.task.context_slices
  context = tf.concat([windows[:, :p], windows[:, p + 1:]], axis=1)  # [B, 2P, S, bins, 1]
  return {"centre": windows[:, p]}, tf.transpose(context[..., 0], [0, 2, 3, 1])


def build_decoder(params: params_lib.Params, input_dim: int, out_channels: int) -> keras.Model:
  """[B, input_dim] -> [B, S, bins, out_channels]: the encoder's mirror image."""
  channels = params.encoder.channels()
  scale = 2 ** len(channels)
  s, bins = params.features.slice_frames, params.features.num_mel_bins
  if s % scale or bins % scale:
    raise ValueError(f"the Audio2Vec decoder needs slice_frames ({s}) and num_mel_bins ({bins}) "
                     f"divisible by {scale}")
  inputs = keras.Input((input_dim,), name="code")
  x = keras.layers.Dense((s // scale) * (bins // scale) * channels[-1], name="project")(inputs)
  x = keras.layers.Reshape((s // scale, bins // scale, channels[-1]), name="to_map")(x)
  for b in reversed(range(len(channels))):
    x = keras.layers.UpSampling2D(2, name=f"up{b + 1}")(x)
    for kernel, tag in (((1, 3), "freq"), ((3, 1), "time")):
      x = keras.layers.Conv2D(channels[b], kernel, padding="same", use_bias=False,
                              name=f"up{b + 1}_conv_{tag}")(x)
      x = batch_norm.FusedBatchNormalization(name=f"up{b + 1}_conv_{tag}_bn")(x)
      x = keras.layers.ReLU(name=f"up{b + 1}_conv_{tag}_relu")(x)
  outputs = keras.layers.Conv2D(out_channels, 1, name="reconstruction")(x)
  return keras.Model(inputs, outputs, name="decoder")


def build_cbow_model(encoder: keras.Model, params: params_lib.Params) -> keras.Model:
  p2 = 2 * params.task.context_slices
  context = keras.Input((p2,) + tuple(encoder.input_shape[1:]), name="context")
  # The encoder is called once per position (not wrapped in TimeDistributed) so
  # that it stays a direct layer: get_layer("encoder") finds it. One call on the
  # B x 2P windows stacked was slower on 2 vCPUs (100 against 111 examples/s).
  embeddings = [encoder(keras.layers.Lambda(lambda t, k=k: t[:, k], name=f"context{k}")(context))
                for k in range(p2)]
  code = keras.layers.Concatenate(name="concat_context")(embeddings)
  decoder = build_decoder(params, p2 * encoder.output_shape[-1], 1)
  return keras.Model({"context": context}, decoder(code), name="audio2vec_cbow")


def build_skipgram_model(encoder: keras.Model, params: params_lib.Params) -> keras.Model:
  centre = keras.Input(encoder.input_shape[1:], name="centre")
  decoder = build_decoder(params, encoder.output_shape[-1], 2 * params.task.context_slices)
  return keras.Model({"centre": centre}, decoder(encoder(centre)), name="audio2vec_skipgram")


# Floor of a normalized target's standard deviation, in log-mel units: a
# silent slice (all cells at the log floor) stays near zero, not amplified noise.
_MIN_STDDEV = 0.1


def _normalize(targets):
  """Each target slice and channel standardized over its frames and mel bins."""
  mean, variance = tf.nn.moments(targets, axes=[1, 2], keepdims=True)
  return (targets - mean) / tf.maximum(tf.sqrt(variance), _MIN_STDDEV)


def _mse(targets, outputs, params, sum_channels: bool):
  targets = tf.cast(targets, tf.float32)
  if params.task.audio2vec_target == "normalized":
    targets = _normalize(targets)
  squared = tf.square(targets - outputs)
  per_channel = tf.reduce_mean(squared, axis=[1, 2])  # [B, channels]
  return tf.reduce_sum(per_channel, -1) if sum_channels else tf.reduce_mean(per_channel, -1)


def cbow_loss(targets, outputs, params):
  return _mse(targets, outputs, params, sum_channels=False)


def skipgram_loss(targets, outputs, params):
  return _mse(targets, outputs, params, sum_channels=True)

