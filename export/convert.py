"""Keras encoder -> TFLite flatbuffer in one of four precisions.

The only conversion path used in the project (the exporter and the
benchmark's peers both call `convert`). It goes through `model.export()` (a
SavedModel) and `TFLiteConverter.from_saved_model`: converting a tf.function
that wraps a Keras 3 model silently leaves the weights out (NaN outputs,
../shared/STACK.md), so no such path exists here.

Inference models have batch 1 and named tensors: `waveform` [1, 15600] (the
log-mel front end inside the graph, builtin ops only: RFFT2D, COMPLEX_ABS, ...)
or `log_mel` [1, 96, 64, 1], and one output `embedding` [1, d].
"""

import enum
import os
import tempfile
import typing

import keras
import numpy as np
import tensorflow as tf

from mobile_ssl import features
from mobile_ssl import params as params_lib


class Quantization(enum.Enum):
  FLOAT32 = "float32"
  FLOAT16 = "float16"  # float16 weights, float32 compute
  DYNAMIC = "dynamic"  # int8 weights, activations quantized at run time
  INT8 = "int8"  # full integer, calibrated on representative data


class InputKind(enum.Enum):
  WAVEFORM = "waveform"
  LOG_MEL = "log_mel"


@keras.saving.register_keras_serializable(package="mobile_ssl")
class LogMel(keras.layers.Layer):
  """The front end as a Keras layer: [B, samples] -> [B, frames, bins, 1].

  Uses a float32 STFT: TFLite's RFFT2D has no float64 kernel.
  """

  def __init__(self, feature_params: typing.Optional[dict] = None, **kwargs):
    super().__init__(**kwargs)
    values = dict(feature_params or {})
    values["stft_dtype"] = "float32"
    self.feature_params = params_lib.FeatureParams(**values)

  def call(self, waveform):
    log_mel = features.log_mel_spectrogram(waveform, self.feature_params)
    return tf.expand_dims(log_mel, -1)  # not [..., None]: new_axis is not a builtin

  def get_config(self):
    config = super().get_config()
    config["feature_params"] = {k: getattr(self.feature_params, k)
                                for k in self.feature_params.__dataclass_fields__}
    return config


def inference_model(encoder: keras.Model, feature_params: params_lib.FeatureParams,
                    input_kind: InputKind) -> keras.Model:
  """Batch-1 model with named input (`waveform`|`log_mel`) and output `embedding`."""
  input_kind = InputKind(input_kind)
  if input_kind == InputKind.WAVEFORM:
    inputs = keras.Input((feature_params.slice_samples,), batch_size=1, name="waveform")
    fp = {k: getattr(feature_params, k) for k in feature_params.__dataclass_fields__}
    log_mel = LogMel(fp, name="log_mel_front_end")(inputs)
  else:
    inputs = keras.Input((feature_params.slice_frames, feature_params.num_mel_bins, 1),
                         batch_size=1, name="log_mel")
    log_mel = inputs
  embedding = encoder(log_mel)
  return keras.Model(inputs, {"embedding": embedding}, name=f"{encoder.name}_{input_kind.value}")


def convert(model: keras.Model, quantization: Quantization,
            representative_data: typing.Optional[typing.Iterable[np.ndarray]] = None,
            *, int8_io: bool = False) -> bytes:
  """Converts a Keras model to a TFLite flatbuffer.

  Args:
    model: a Keras model with a single input.
    quantization: target precision.
    representative_data: for INT8, real input examples, each one batch-1 array
      shaped like the model input (never random noise: calibration sets the
      activation ranges).
    int8_io: for INT8, make the input int8 too (fully integer graph, for
      integer-only accelerators). Only sensible for log-mel input.

  Returns:
    The .tflite bytes.
  """
  quantization = Quantization(quantization)
  with tempfile.TemporaryDirectory() as tmp:
    saved = os.path.join(tmp, "saved_model")
    model.export(saved, verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(saved)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == Quantization.FLOAT16:
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
      converter.target_spec.supported_types = [tf.float16]
    elif quantization == Quantization.DYNAMIC:
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization == Quantization.INT8:
      if representative_data is None:
        raise ValueError("int8 quantization needs representative data (real audio)")
      examples = [np.asarray(x, np.float32) for x in representative_data]
      if not examples:
        raise ValueError("int8 quantization: the representative data is empty")
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
      converter.representative_dataset = lambda: ([x] for x in examples)
      if int8_io:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
    return converter.convert()
