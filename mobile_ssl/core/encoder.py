"""The small conv encoder: a 96x64 log-mel slice -> a d-dimensional embedding.

Built from a layer table (one row per layer) so that variants are data, not
code. The 'paper' variant (Tagliasacchi et al. 2019): five blocks of Conv 3x1 (time)
-> BN -> ReLU -> Conv 1x3 (frequency) -> BN -> ReLU -> MaxPool 2x2 with
8/16/32/64/128 channels times `width`, global max pooling, and a dense layer to
the embedding. At width 1.0 that is 116,632 parameters and 8.4 M multiply-adds.
The 'fast' variant (`_fast_table`) is the same stack with block 1's max pool
folded into strides of its two convs, laid out for XNNPACK's int8 kernels
(its speed and accuracy against 'paper': docs/benchmark.md, "Where the int8
time goes, before and after").

The encoder knows nothing of tasks; tasks wrap the Keras model named
`encoder`, and evaluation and export only ever touch that model.
"""

import typing

import keras
import numpy as np

from mobile_ssl.core import batch_norm
from mobile_ssl.core import params as params_lib

NAME = "encoder"

# One row per layer: (name, kind, options); names are hierarchical with '_'
# because Keras 3 forbids '/' in layer names. Kinds: conv (kernel, channel
# index into EncoderParams.channels(), stride), bn, relu, maxpool (pool size),
# global_max, dense (embedding).
LayerRow = typing.Tuple[str, str, dict]


def _paper_table(num_blocks: int) -> typing.List[LayerRow]:
  rows = []
  for b in range(num_blocks):
    block = f"block{b + 1}"
    rows += [
        (f"{block}_conv_time", "conv", {"kernel": (3, 1), "channels": b}),
        (f"{block}_conv_time_bn", "bn", {}),
        (f"{block}_conv_time_relu", "relu", {}),
        (f"{block}_conv_freq", "conv", {"kernel": (1, 3), "channels": b}),
        (f"{block}_conv_freq_bn", "bn", {}),
        (f"{block}_conv_freq_relu", "relu", {}),
        (f"{block}_pool", "maxpool", {"pool": (2, 2)}),
    ]
  return rows + [("global_pool", "global_max", {}), ("embedding", "dense", {})]


def _fast_table(num_blocks: int) -> typing.List[LayerRow]:
  """'paper' with block 1's max pool folded into strides: the layout for XNNPACK's int8 kernels.

  XNNPACK's cost per conv is per output pixel more than per multiply-add when
  a layer has few channels (its int8 kernels pad each tap's input channels to
  8, so the 1-channel 3x1 conv does 8x the work it needs), and the paper's
  block 1 runs two 8-channel convs and a pool over the full 96x64 grid, which
  makes it the most expensive block of the int8 encoder for a small share of
  its multiply-adds (docs/benchmark.md has the per-op profile). Here block 1's 3x1 conv strides 2 in time and its
  1x3 conv strides 2 in frequency (each kernel is longer than its stride, so
  no frame or mel bin is skipped), and its 2x2 max pool goes: the 3x1 conv
  runs on 48x64 outputs, the 1x3 conv on 48x32. Same kernels and parameters
  as 'paper' (116,632 at width 1.0), 11 % fewer multiply-adds. It is a
  different network, so it needs its own pretraining; its measured latency
  and probe accuracy against 'paper' are in docs/benchmark.md.
  """
  rows = [
      ("block1_conv_time", "conv", {"kernel": (3, 1), "channels": 0, "stride": (2, 1)}),
      ("block1_conv_time_bn", "bn", {}),
      ("block1_conv_time_relu", "relu", {}),
      ("block1_conv_freq", "conv", {"kernel": (1, 3), "channels": 0, "stride": (1, 2)}),
      ("block1_conv_freq_bn", "bn", {}),
      ("block1_conv_freq_relu", "relu", {}),
  ]
  paper = _paper_table(num_blocks)
  return rows + [row for row in paper if not row[0].startswith("block1_")]


def layer_table(params: params_lib.EncoderParams) -> typing.List[LayerRow]:
  """The rows of the encoder for `params.variant`."""
  if params.variant == "paper":
    return _paper_table(len(params.base_channels))
  if params.variant == "fast":
    return _fast_table(len(params.base_channels))
  raise ValueError(f"unknown encoder variant {params.variant!r}; valid: {VARIANTS}")


VARIANTS = ("paper", "fast")


def build_encoder(encoder_params: params_lib.EncoderParams,
                  feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
                  seed: typing.Optional[int] = None, name: str = NAME) -> keras.Model:
  """Builds the Keras model named 'encoder': [B, 96, 64, 1] -> [B, embedding_dim].

  Args:
    encoder_params: width, embedding size, variant, pooling.
    feature_params: gives the input size (slice_frames x num_mel_bins).
    seed: seeds the initializers (reproducible untrained baselines).
    name: the model's name; tasks that hold a second copy (BYOL-A's target)
      name it differently, since evaluation and export look up `NAME`.
  """
  encoder_params.validate()
  model_name = name
  channels = encoder_params.channels()
  init = lambda i: keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)
  inputs = keras.Input((feature_params.slice_frames, feature_params.num_mel_bins, 1),
                       name="log_mel")
  x = inputs
  if encoder_params.input_norm == "time_mean":
    x = TimeMeanSubtract(name="input_norm")(x)
  block_outputs = {}  # block name -> its last layer's output
  for i, (name, kind, options) in enumerate(layer_table(encoder_params)):
    if kind == "conv":
      x = keras.layers.Conv2D(channels[options["channels"]], options["kernel"],
                              strides=options.get("stride", 1), padding="same",
                              use_bias=False, kernel_initializer=init(i), name=name)(x)
    elif kind == "bn":
      x = batch_norm.FusedBatchNormalization(name=name)(x)
    elif kind == "relu":
      x = keras.layers.ReLU(name=name)(x)
    elif kind == "maxpool":
      x = keras.layers.MaxPooling2D(options["pool"], padding="same", name=name)(x)
    elif kind == "global_max" and encoder_params.pooling == "multi_mean_std":
      levels = list(block_outputs.values())[-encoder_params.pool_blocks:]
      stats = [TimeMeanStd(name=f"{name}_{block}") for block in list(block_outputs)[-len(levels):]]
      x = keras.layers.Concatenate(name=name)([s(level) for s, level in zip(stats, levels)])
    elif kind == "global_max":
      x = pool(x, encoder_params.pooling, name)
    elif kind == "dense" and encoder_params.embedding_dim == 0:
      # No projection: the pooled statistics are the embedding (see `_pool`).
      x = keras.layers.Identity(name=name)(x)
    elif kind == "dense":
      x = keras.layers.Dense(encoder_params.embedding_dim, kernel_initializer=init(i),
                             name=name)(x)
    else:
      raise ValueError(f"layer {name}: unknown kind {kind!r}")
    if name.startswith("block"):
      block_outputs[name.split("_")[0]] = x
  return keras.Model(inputs, x, name=model_name)


@keras.saving.register_keras_serializable(package="mobile_ssl")
class TimeMeanSubtract(keras.layers.Layer):
  """[B, T, F, C] -> the same, each frequency row's mean over time subtracted.

  Cepstral mean normalization on the log-mel (`--input_norm=time_mean`): a
  constant gain or a fixed filter (the speaker's vocal tract on average, the
  microphone) is an offset per mel bin in the log domain, and this takes it
  away. Builtin TFLite ops only (MEAN, SUB).
  """

  def call(self, x):
    return x - keras.ops.mean(x, axis=1, keepdims=True)


STD_EPSILON = 1e-5  # keeps the square root's gradient finite where a unit never varies


@keras.saving.register_keras_serializable(package="mobile_ssl")
class TimeMeanStd(keras.layers.Layer):
  """[B, T, F, C] -> [B, F * 2C]: mean and standard deviation over time, frequency rows kept.

  The statistics pooling of speaker and language embeddings (x-vectors),
  applied per frequency row: how strongly and how steadily each unit fires
  over the slice. Builtin TFLite ops only (MEAN, SUB, MUL, ADD, SQRT,
  CONCATENATION, RESHAPE).

  The variance is computed in two passes, E[(x - E[x])^2], not as
  E[x^2] - E[x]^2: the two are equal in float, but in an int8 graph the
  one-pass form subtracts two large quantized numbers whose difference is
  small, and that cancellation was most of the int8 file's error
  (`export_tflite --debug_quantization`: the E[x^2] MEANs and the SUBs held
  87-99 % of it; docs/export.md, "int8 and what it loses").
  """

  def call(self, x):
    mean = keras.ops.mean(x, axis=1, keepdims=True)
    # centred * centred, not square(x - mean): the converter fuses the latter into
    # SQUARED_DIFFERENCE, which TFLite has no int16 kernel for (--quantization=int16x8).
    centred = x - mean
    variance = keras.ops.mean(centred * centred, axis=1)
    mean = keras.ops.squeeze(mean, axis=1)
    joined = keras.ops.concatenate([mean, keras.ops.sqrt(variance + STD_EPSILON)], axis=-1)
    return keras.ops.reshape(joined, (-1, joined.shape[1] * joined.shape[2]))

  def compute_output_shape(self, input_shape):
    return (input_shape[0], input_shape[2] * 2 * input_shape[3])


def pool(x, pooling: str, name: str):
  """The last feature map [B, T, F, C] -> one vector per slice.

  'max' is the paper's global max pool (C values). 'mean_max' adds the global
  mean (2C): a max alone keeps the loudest position and drops how much of the
  slice holds the sound. 'time_mean_max' pools over time only and keeps the
  F frequency rows (2FC): the coarse spectral shape that tells vowels and
  speakers apart, which a global pool averages away. All are builtin TFLite
  ops (MEAN, REDUCE_MAX, CONCATENATION, RESHAPE).
  """
  if pooling == "max":
    return keras.layers.GlobalMaxPooling2D(name=name)(x)
  if pooling == "mean_max":
    mean = keras.layers.GlobalAveragePooling2D(name=f"{name}_mean")(x)
    peak = keras.layers.GlobalMaxPooling2D(name=f"{name}_max")(x)
    return keras.layers.Concatenate(name=name)([mean, peak])
  if pooling == "time_mean_max":
    # Pooling layers over the whole time axis rather than Lambdas: the saved
    # encoder.keras then loads without unsafe deserialization.
    frames = (x.shape[1], 1)
    mean = keras.layers.AveragePooling2D(frames, name=f"{name}_mean")(x)
    peak = keras.layers.MaxPooling2D(frames, name=f"{name}_max")(x)
    joined = keras.layers.Concatenate(name=f"{name}_concat")([mean, peak])
    return keras.layers.Flatten(name=name)(joined)
  raise ValueError(f"unknown pooling {pooling!r}; valid: {params_lib.POOLINGS}")


def complexity(model: keras.Model) -> typing.Dict[str, int]:
  """Parameters and multiply-adds for one input slice, from the layer shapes.

  Counts convolutions (output positions x kernel area x input channels x
  output channels / groups) and dense layers (inputs x outputs); BN, ReLU and
  pooling are not multiply-adds. Parameters include BN's moving statistics,
  as Keras counts them.
  """
  macs = 0
  for layer in model.layers:
    if isinstance(layer, keras.layers.DepthwiseConv2D):
      out_h, out_w, out_c = layer.output.shape[1:]
      kh, kw = layer.kernel_size
      macs += out_h * out_w * kh * kw * out_c
    elif isinstance(layer, keras.layers.Conv2D):
      out_h, out_w, out_c = layer.output.shape[1:]
      kh, kw = layer.kernel_size
      in_c = layer.input.shape[-1]
      macs += out_h * out_w * kh * kw * (in_c // layer.groups) * out_c
    elif isinstance(layer, keras.layers.Dense):
      macs += int(np.prod(layer.input.shape[1:])) * layer.units
  return {"params": int(model.count_params()), "macs": int(macs)}
