"""Peer architectures a mobile engineer would otherwise ship, built with random weights.

All take the same input as our encoder, a log-mel slice [B, 96, 64, 1], and go
through the same converter at the same precision, so a benchmark compares
architectures, not conversion paths (export/convert.py). Weights are random
(seeded): latency and size do not depend on their values, and nothing is
downloaded.

  * yamnet: YAMNet's MobileNet v1 as yamnet.py defines it (tensorflow/models
    research/audioset/yamnet): a 3x3/2 conv then 13 depthwise-separable
    layers (14 layers, BN without scale, eps 1e-4, ReLU), global average
    pooling, and the 521-class AudioSet head it ships with: 3.75 M
    parameters, 69.2 M multiply-adds per 96x64 patch (the published 3.7 M /
    69.2 M). Its embedding is the 1024-d pooled layer; the head is kept
    because the shipped yamnet.tflite has it.
  * frill: FRILL-like. FRILL's student (non_semantic_speech_benchmark
    distillation/models.py) is keras.applications.MobileNetV3Small on the
    96x64x1 patch (include_top=False, weights=None, minimalistic=False,
    average pooling) + a dense bottleneck. We use alpha 1.0 and a 128-d
    bottleneck (our embedding size); FRILL picks both by search.
  * yamnet_waveform: YAMNet's waveform-in model, the fair peer of our
    waveform-in file: the same MobileNet v1 behind YAMNet's own TFLite front
    end (features.py with `tflite_compatible=True`): frames of 400 samples
    every 160, periodic Hann, zero-padded to 512 in the middle of the frame,
    the real DFT as two [512, 257] matmuls (real and imaginary DFT matrices
    as constants), sqrt(re^2 + im^2), a dense [257, 64] mel matmul, log(x +
    0.001). That is 25.3 M multiply-adds per 975 ms window for the DFT alone
    (an FFT needs ~0.2 M); ours computes it as two small DFTs in matmuls,
    4.6 M (`features.dft_magnitude`). The front
    end subclasses `inference_model_lib.LogMel`, so the converter keeps it float32 in
    every precision exactly as it does ours: same converter, same precision.
  * cola: COLA-like. COLA's encoder is EfficientNet-B0 on the log-mel patch
    with global max pooling, a 1280-d embedding (its projection head is for
    training only). keras.applications.EfficientNetB0 keeps its input
    Rescaling/Normalization layers (two element-wise ops, negligible).
"""

import typing

import keras
import numpy as np
import tensorflow as tf

from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from mobile_ssl.export import inference_model as inference_model_lib

# (kind, stride, output channels), as _YAMNET_LAYER_DEFS in yamnet.py.
YAMNET_LAYERS = (
    ("conv", 2, 32), ("separable", 1, 64), ("separable", 2, 128), ("separable", 1, 128),
    ("separable", 2, 256), ("separable", 1, 256), ("separable", 2, 512),
    ("separable", 1, 512), ("separable", 1, 512), ("separable", 1, 512),
    ("separable", 1, 512), ("separable", 1, 512), ("separable", 2, 1024),
    ("separable", 1, 1024))
YAMNET_CLASSES = 521
FRILL_EMBEDDING_DIM = 128

PEERS = {
    "yamnet": "YAMNet's MobileNet v1 (14 layers, 521-class head)",
    "yamnet_waveform": "YAMNet's waveform-in model: DFT-matmul STFT front end + MobileNet v1",
    "frill": "FRILL-like MobileNetV3-Small + 128-d bottleneck",
    "cola": "COLA-like EfficientNet-B0, global max pool (1280-d)",
}


WAVEFORM_PEERS = ("yamnet_waveform",)


def input_kind(name: str) -> str:
  """'waveform' for peers with their own front end, else 'log_mel'."""
  return "waveform" if name in WAVEFORM_PEERS else "log_mel"


@keras.saving.register_keras_serializable(package="mobile_ssl")
class YamnetLogMel(inference_model_lib.LogMel):
  """YAMNet's `tflite_compatible` front end: [B, samples] -> [B, frames, 64, 1].

  A `inference_model_lib.LogMel` for the converter (kept float32 at every precision);
  its own computation, after tensorflow/models research/audioset/yamnet
  features.py `_tflite_stft_magnitude`, with YAMNet's dense mel matrix.
  """

  def call(self, waveform):
    fp = self.feature_params
    frame, fft = fp.window_samples, fp.fft_length
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)
    dft = np.exp(2j * np.pi / fft * np.outer(np.arange(fft), np.arange(fft)))
    kept = dft[:fft // 2 + 1, :].T  # [fft, bins]
    frames = tf.signal.frame(waveform, frame, fp.hop_samples) * tf.constant(
        hann.astype(np.float32))
    half = (fft - frame) // 2
    padded = tf.pad(frames, [[0, 0], [0, 0], [half, fft - frame - half]])
    real = tf.matmul(padded, tf.constant(np.real(kept).astype(np.float32)))
    imag = tf.matmul(padded, tf.constant(np.imag(kept).astype(np.float32)))
    magnitude = tf.sqrt(real * real + imag * imag)
    mel = tf.matmul(magnitude, features.mel_matrix(fp))
    return tf.expand_dims(tf.math.log(mel + fp.log_offset), -1)


def _input(feature_params: params_lib.FeatureParams) -> keras.KerasTensor:
  return keras.Input((feature_params.slice_frames, feature_params.num_mel_bins, 1),
                     name="log_mel")


def _bn_relu(x, name):
  # yamnet.py: BatchNormalization(center=True, scale=False, epsilon=1e-4) then ReLU.
  x = keras.layers.BatchNormalization(center=True, scale=False, epsilon=1e-4,
                                      name=f"{name}_bn")(x)
  return keras.layers.ReLU(name=f"{name}_relu")(x)


def _yamnet(inputs) -> keras.KerasTensor:
  x = inputs
  for i, (kind, stride, channels) in enumerate(YAMNET_LAYERS):
    name = f"layer{i + 1}"
    if kind == "conv":
      x = keras.layers.Conv2D(channels, 3, strides=stride, padding="same", use_bias=False,
                              name=f"{name}_conv")(x)
      x = _bn_relu(x, f"{name}_conv")
    else:
      x = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False,
                                       name=f"{name}_depthwise_conv")(x)
      x = _bn_relu(x, f"{name}_depthwise_conv")
      x = keras.layers.Conv2D(channels, 1, padding="same", use_bias=False,
                              name=f"{name}_pointwise_conv")(x)
      x = _bn_relu(x, f"{name}_pointwise_conv")
  x = keras.layers.GlobalAveragePooling2D(name="embedding")(x)
  return keras.layers.Dense(YAMNET_CLASSES, name="logits")(x)


def _frill(inputs) -> keras.KerasTensor:
  backbone = keras.applications.MobileNetV3Small(
      input_tensor=inputs, alpha=1.0, minimalistic=False, include_top=False, weights=None,
      pooling="avg", dropout_rate=0.0, include_preprocessing=False)
  return keras.layers.Dense(FRILL_EMBEDDING_DIM, name="distilled_output")(backbone.output)


def _cola(inputs) -> keras.KerasTensor:
  backbone = keras.applications.EfficientNetB0(
      input_tensor=inputs, include_top=False, weights=None, pooling="max")
  return backbone.output


def build_peer(name: str, feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
               seed: typing.Optional[int] = 0) -> keras.Model:
  """A peer as a Keras model: log_mel [B, 96, 64, 1] -> its embedding (or YAMNet's logits).

  Args:
    name: one of PEERS.
    feature_params: gives the input size.
    seed: seeds Keras' global RNG before building (keras.applications takes
      no initializer seeds), so sizes and outputs are reproducible.

  Raises:
    ValueError: unknown peer name.
  """
  if name not in PEERS:
    raise ValueError(f"unknown peer {name!r}; valid: {', '.join(PEERS)}")
  if seed is not None:
    keras.utils.set_random_seed(seed)
  if name == "yamnet_waveform":
    return waveform_peer(feature_params)
  inputs = _input(feature_params)
  outputs = {"yamnet": _yamnet, "frill": _frill, "cola": _cola}[name](inputs)
  # keras.applications build on `input_tensor`, so their layers sit flat in this
  # model and encoder.complexity() counts them.
  return keras.Model(inputs, outputs, name=name)


def waveform_peer(feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
                  batch_size: typing.Optional[int] = None) -> keras.Model:
  """YAMNet's waveform-in model: waveform [B, slice_samples] -> {'embedding': logits}.

  The output is named like our inference models' (`inference_model_lib.inference_model`);
  `batch_size=1` gives the batch-1 graph the benchmark converts.
  """
  inputs = keras.Input((feature_params.slice_samples,), batch_size=batch_size, name="waveform")
  fp = {k: getattr(feature_params, k) for k in feature_params.__dataclass_fields__}
  log_mel = YamnetLogMel(fp, name="yamnet_log_mel_front_end")(inputs)
  return keras.Model(inputs, {"embedding": _yamnet(log_mel)}, name="yamnet_waveform")
