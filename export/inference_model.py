"""The Keras model an exported file is converted from: named input, front end, encoder, head.

`inference_model` wraps a run's encoder into the batch-1 model every file is
converted from (export/convert.py): input `waveform` [1, 15600], the log-mel
front end inside the graph as the `LogMel` layer (builtin ops only: the STFT
as two small DFTs in FULLY_CONNECTED, MUL, ADD, TRANSPOSE, ...; SQRT,
STRIDED_SLICE, LOG), or input `log_mel` [1, 96, 64, 1]; one output
`embedding` [1, d] (`scores` with a classifier's head). The trainable
on-device file (export/trainable.py) computes its windows' log-mels with the
same `exported_log_mel`.
"""

import dataclasses
import enum
import typing

import keras
import tensorflow as tf

from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib


class InputKind(enum.Enum):
  WAVEFORM = "waveform"
  LOG_MEL = "log_mel"



# How an exported graph computes its STFT by default (`features.log_mel_spectrogram`'s
# `transform`; export_tflite --stft): two small DFTs in matmuls, which XNNPACK runs 2.9x
# faster than TFLite's RFFT2D kernel on x86, the whole int8 waveform model 2.15x
# (docs/benchmark.md, "The front end as two small DFTs"). 'fft' keeps RFFT2D: far fewer
# operations, which emulated arm64 ran faster.
DEFAULT_STFT = "matmul"


def exported_log_mel(waveform: tf.Tensor, feature_params: params_lib.FeatureParams,
                     stft: str = DEFAULT_STFT) -> tf.Tensor:
  """[..., samples] -> [..., frames, bins, 1]: the log-mel every exported graph computes.

  The STFT in float32 (RFFT2D has no float64 kernel, and the matmul DFT's
  float32 products are what XNNPACK runs), computed as `stft` says. `LogMel`
  (inference models) and the trainable model's `log_mel` signature
  (export/trainable.py) both call it, so a device makes its training windows
  exactly as the inference file does.
  """
  feature_params = dataclasses.replace(feature_params, stft_dtype="float32")
  log_mel = features.log_mel_spectrogram(waveform, feature_params, transform=stft)
  return tf.expand_dims(log_mel, -1)  # not [..., None]: new_axis is not a builtin


@keras.saving.register_keras_serializable(package="mobile_ssl")
class LogMel(keras.layers.Layer):
  """The front end as a Keras layer: [B, samples] -> [B, frames, bins, 1] (`exported_log_mel`).

  By default the STFT is two small DFTs in matmuls (`stft` 'matmul',
  `features.dft_magnitude`): XNNPACK runs them in about a third of the time
  of TFLite's RFFT2D kernel, which `stft` 'fft' keeps (docs/benchmark.md,
  "The front end as two small DFTs").
  """

  def __init__(self, feature_params: typing.Optional[dict] = None, stft: str = DEFAULT_STFT,
               **kwargs):
    super().__init__(**kwargs)
    # The STFT's float32 is `exported_log_mel`'s to set, for this layer and for the
    # trainable model alike.
    self.feature_params = params_lib.FeatureParams(**dict(feature_params or {}))
    self.stft = stft

  def call(self, waveform):
    return exported_log_mel(waveform, self.feature_params, self.stft)

  def get_config(self):
    config = super().get_config()
    config["feature_params"] = {k: getattr(self.feature_params, k)
                                for k in self.feature_params.__dataclass_fields__}
    config["stft"] = self.stft
    return config


def inference_model(encoder: keras.Model, feature_params: params_lib.FeatureParams,
                    input_kind: InputKind,
                    head: typing.Optional[keras.layers.Layer] = None,
                    stft: str = DEFAULT_STFT) -> keras.Model:
  """Batch-1 model with named input (`waveform`|`log_mel`) and output `embedding`.

  With `head` (a layer on the embedding, e.g. export/classifier.py's softmax
  dense layer) the one output is `scores`, the head's output. `stft`: how a
  waveform model's front end computes its STFT (`LogMel`).
  """
  input_kind = InputKind(input_kind)
  if input_kind == InputKind.WAVEFORM:
    inputs = keras.Input((feature_params.slice_samples,), batch_size=1, name="waveform")
    fp = {k: getattr(feature_params, k) for k in feature_params.__dataclass_fields__}
    log_mel = LogMel(fp, stft=stft, name="log_mel_front_end")(inputs)
  else:
    inputs = keras.Input((feature_params.slice_frames, feature_params.num_mel_bins, 1),
                         batch_size=1, name="log_mel")
    log_mel = inputs
  embedding = encoder(log_mel)
  if head is not None:
    return keras.Model(inputs, {"scores": head(embedding)},
                       name=f"{encoder.name}_{input_kind.value}_classifier")
  return keras.Model(inputs, {"embedding": embedding}, name=f"{encoder.name}_{input_kind.value}")


def front_end(model: keras.Model) -> typing.Optional[LogMel]:
  """The model's `LogMel` front-end layer; None for a log-mel-in model."""
  layers = [layer for layer in model.layers if isinstance(layer, LogMel)]
  return layers[0] if layers else None

