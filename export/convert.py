"""Keras encoder -> TFLite flatbuffer in one of five precisions.

The only conversion path used in the project (the exporter and the
benchmark's peers both call `convert`). It goes through `model.export()` (a
SavedModel) and `TFLiteConverter.from_saved_model`: converting a tf.function
that wraps a Keras 3 model silently leaves the weights out (the file then
gives NaN outputs), so no such path exists here.

The model converted is an inference model (export/inference_model.py): batch
1, input `waveform` [1, 15600] with the log-mel front end inside, or
`log_mel` [1, 96, 64, 1], and one output `embedding` [1, d] (`scores` for a
classifier). The names are those of the signature and, since the converter
calls the tensors themselves `serving_default_waveform:0` and
`StatefulPartitionedCall_1:0`, also of the graph's input and output tensors
(`name_io_tensors`), which is what benchmark_model, Netron and MediaPipe show.

Quantization applies to the encoder only: the front end stays float32 in
every precision, and a waveform-in int8 file keeps its statistics pooling
float32 too (export/float_ends.py says why and how).

Our encoder has one file builder, `encoder_tflite`, and int8 calibration one
sampler (export/calibration.py): `export_tflite` and the benchmark's line-up
(mobile_ssl/benchmark/lineup.py) both call them, so for the same encoder and
calibration settings the benchmark times byte for byte the file a user ships.
"""

import enum
import os
import tempfile
import typing

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.tools import flatbuffer_utils

from mobile_ssl.core import params as params_lib
from mobile_ssl.export import float_ends
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import metadata
from mobile_ssl.export import tflite_embedder as embedder_lib


class Quantization(enum.Enum):
  FLOAT32 = "float32"
  FLOAT16 = "float16"  # float16 weights, float32 compute
  DYNAMIC = "dynamic"  # int8 weights, activations quantized at run time
  INT8 = "int8"  # full integer, calibrated on representative data
  # int8 weights, int16 activations (TFLite's 16x8 mode): no measurable loss
  # where int8 loses, but TFLite runs it on reference kernels (docs/export.md).
  INT16X8 = "int16x8"


CALIBRATED = (Quantization.INT8, Quantization.INT16X8)


def name_io_tensors(tflite: bytes) -> bytes:
  """Renames each signature's input and output tensors after their signature keys.

  The converter names them after the SavedModel's internals
  (`serving_default_waveform:0`, `StatefulPartitionedCall_1:0`); signatures
  refer to tensors by index, so renaming keeps `get_signature_runner()`
  working. Returns the bytes unchanged when the names already match.
  """
  model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
  renamed = 0
  for signature in model.signatureDefs or []:
    graph = model.subgraphs[signature.subgraphIndex]
    for entry in (signature.inputs or []) + (signature.outputs or []):
      tensor = graph.tensors[entry.tensorIndex]
      if tensor.name != entry.name:
        tensor.name, renamed = entry.name, renamed + 1
  return metadata.serialize(model) if renamed else tflite



def saved_model_converter(model: keras.Model, folder: str) -> tf.lite.TFLiteConverter:
  """A builtins-only converter of `model`, exported as a SavedModel into `folder` (keep it)."""
  saved = os.path.join(folder, "saved_model")
  # The model's own input shape, batch included: `export()` alone makes the
  # batch dynamic ([-1, 15600]), which leaves SHAPE/RANGE/GATHER ops for
  # the STFT framing in the graph and a dynamic tensor delegates dislike.
  spec = tf.TensorSpec(model.inputs[0].shape, model.inputs[0].dtype, name=model.inputs[0].name)
  model.export(saved, verbose=False, input_signature=[spec])
  converter = tf.lite.TFLiteConverter.from_saved_model(saved)
  converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
  return converter



def convert(model: keras.Model, quantization: Quantization,
            representative_data: typing.Optional[typing.Iterable[np.ndarray]] = None,
            *, int8_io: bool = False, int8_output: bool = False) -> bytes:
  """Converts a Keras model to a TFLite flatbuffer.

  A log-mel front end (`inference_model.LogMel`) stays float32 in every precision;
  quantization applies to the encoder.

  Args:
    model: a Keras model with a single input.
    quantization: target precision.
    representative_data: for INT8, real input examples, each one batch-1 array
      shaped like the model input (never random noise: calibration sets the
      activation ranges).
    int8_io: for INT8, make the input int8 too (for integer-only
      accelerators). Only sensible for log-mel input: an int8 waveform would
      be 8-bit audio.
    int8_output: for INT8 with `int8_io`, make the output int8 too, so the
      graph has no float tensor at all. It costs no accuracy: a float output
      is the same int8 values behind a DEQUANTIZE op.

  Returns:
    The .tflite bytes, input and output tensors named after the signature's
    keys (`name_io_tensors`).
  """
  quantization = Quantization(quantization)
  if int8_output and not (int8_io and quantization == Quantization.INT8):
    raise ValueError("int8_output needs int8 quantization with int8_io")
  front_end = inference_model_lib.front_end(model)
  if int8_io and front_end is not None:
    raise ValueError("int8 input with the waveform front end would be 8-bit audio; "
                     "use log-mel input for a fully integer model")
  with tempfile.TemporaryDirectory() as tmp:
    converter = saved_model_converter(model, tmp)
    if quantization in (Quantization.FLOAT16, Quantization.DYNAMIC):
      reference = converter.convert() if front_end else None  # float32
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
      if quantization == Quantization.FLOAT16:
        converter.target_spec.supported_types = [tf.float16]
      tflite = converter.convert()
      if front_end:
        tflite = float_ends.restore_float_front_end(tflite, reference, front_end)
      return name_io_tensors(tflite)
    elif quantization in (Quantization.INT8, Quantization.INT16X8):
      if representative_data is None:
        raise ValueError(f"{quantization.value} quantization needs representative data "
                         "(real audio)")
      examples = [np.asarray(x, np.float32) for x in representative_data]
      if not examples:
        raise ValueError(f"{quantization.value} quantization: the representative data is empty")
      converter.optimizations = [tf.lite.Optimize.DEFAULT]
      converter.representative_dataset = lambda: ([x] for x in examples)
      if quantization == Quantization.INT16X8:
        # TFLITE_BUILTINS too: ops without a 16x8 kernel stay float.
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
            tf.lite.OpsSet.TFLITE_BUILTINS]
        if front_end is not None:
          raise ValueError("int16x8 is made for log-mel input (--input=log_mel): the "
                           "converter's 16x8 mode has no way to keep the front end float")
        return name_io_tensors(converter.convert())
      if front_end is not None:
        return name_io_tensors(float_ends.int8_with_float_ends(converter, examples, model))
      if int8_io:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        if int8_output:
          converter.inference_output_type = tf.int8
    return name_io_tensors(converter.convert())



def representative(windows: np.ndarray, input_kind: inference_model_lib.InputKind,
                   feature_params: params_lib.FeatureParams) -> typing.List[np.ndarray]:
  """Calibration windows -> the converter's batch-1 examples for a model of `input_kind`."""
  kind = inference_model_lib.InputKind(input_kind).value
  return [x[None] for x in embedder_lib.model_inputs(windows, kind, feature_params)]


def integer_io(quantization: Quantization,
               input_kind: inference_model_lib.InputKind) -> bool:
  """int8 log-mel models are fully integer (int8 in and out); waveform ones keep float audio."""
  return (Quantization(quantization) == Quantization.INT8
          and inference_model_lib.InputKind(input_kind)
          == inference_model_lib.InputKind.LOG_MEL)


def encoder_tflite(encoder: keras.Model, params, input_kind: inference_model_lib.InputKind,
                   quantization: Quantization,
                   windows: typing.Optional[np.ndarray] = None,
                   head: typing.Optional[keras.layers.Layer] = None,
                   classifier: typing.Optional[dict] = None,
                   stft: str = inference_model_lib.DEFAULT_STFT) -> bytes:
  """The .tflite of an encoder as it ships: converted, tensors named, metadata added.

  Args:
    encoder: the Keras encoder (log-mel [B, 96, 64, 1] -> [B, d]).
    params: its run's `mobile_ssl.core.params.Params` (front end, metadata).
    input_kind, quantization: what to build.
    windows: int8 calibration windows [n, slice_samples] (`calibration.calibration_windows`).
    head, classifier: a classifier's softmax layer and its metadata entry.
    stft: a waveform model's STFT, 'matmul' or 'fft' (`inference_model.LogMel`).
  """
  fp = params.features
  calibrated = Quantization(quantization) in CALIBRATED
  if calibrated and windows is None:
    raise ValueError(f"{Quantization(quantization).value} quantization needs calibration "
                     "windows (real audio)")
  examples = representative(windows, input_kind, fp) if calibrated else None
  io = integer_io(quantization, input_kind)
  model = inference_model_lib.inference_model(encoder, fp, input_kind, head=head, stft=stft)
  tflite = convert(model, quantization, examples, int8_io=io, int8_output=io)
  runner = embedder_lib.TFLiteEmbedder(tflite)
  return metadata.add(tflite, metadata.describe(
      params, inference_model_lib.InputKind(input_kind).value, Quantization(quantization).value,
      embedder_lib.SIGNATURE, runner.input_details, runner.output_details,
      classifier=classifier))

