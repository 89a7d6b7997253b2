"""Keras encoder -> TFLite flatbuffer in one of four precisions.

The only conversion path used in the project (the exporter and the
benchmark's peers both call `convert`). It goes through `model.export()` (a
SavedModel) and `TFLiteConverter.from_saved_model`: converting a tf.function
that wraps a Keras 3 model silently leaves the weights out (the file then
gives NaN outputs), so no such path exists here.

Inference models have batch 1 and named tensors: `waveform` [1, 15600] (the
log-mel front end inside the graph, builtin ops only: the STFT as two small
DFTs in FULLY_CONNECTED, MUL, ADD, TRANSPOSE, ...; SQRT, STRIDED_SLICE, LOG)
or `log_mel` [1, 96, 64, 1], and one output `embedding` [1, d] (`scores` for a
classifier). The names are those of the signature and, since the converter
calls the tensors themselves `serving_default_waveform:0` and
`StatefulPartitionedCall_1:0`, also of the graph's input and output tensors
(`name_io_tensors`), which is what benchmark_model, Netron and MediaPipe show.

Quantization applies to the encoder only; the front end stays float32 in
every precision. Quantizing the magnitude spectrum before the mel projection
and the log sends quiet bins to the log floor, and float16 constants (the
Hann window) raise the spectral leakage floor; either moves the waveform
model's embedding visibly away from the same encoder's on log-mel input
(the measured cosines: docs/export.md, "What is in the file"). See
`_int8_with_float_ends` and `_restore_float_front_end` for how. A
waveform-in int8 file keeps its statistics pooling float32 too (`float_nodes`).

int8 calibration has one sampler, `calibration_windows`, and our encoder one
file builder, `encoder_tflite`: `export_tflite` and the benchmark's line-up
(mobile_ssl/benchmark/lineup.py) both call them, so for the same encoder and calibration
settings the benchmark times byte for byte the file a user ships.
"""

import dataclasses
import enum
import os
import re
import tempfile
import typing
import warnings

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import features
from mobile_ssl.core import params as params_lib
from mobile_ssl.data import datasets
from mobile_ssl.export import metadata
from mobile_ssl.export import tflite_embedder as embedder_lib
from mobile_ssl.export import validation


# Non-overlapping windows (more distinct audio per window), at most 4 per clip
# (so the set spans many clips), in file order of the split: deterministic.
CALIBRATION_HOP_SECONDS = 0.975
CALIBRATION_WINDOWS_PER_CLIP = 4
DEFAULT_CALIBRATION_WINDOWS = 200


class Quantization(enum.Enum):
  FLOAT32 = "float32"
  FLOAT16 = "float16"  # float16 weights, float32 compute
  DYNAMIC = "dynamic"  # int8 weights, activations quantized at run time
  INT8 = "int8"  # full integer, calibrated on representative data
  # int8 weights, int16 activations (TFLite's 16x8 mode): no measurable loss
  # where int8 loses, but TFLite runs it on reference kernels (docs/export.md).
  INT16X8 = "int16x8"


CALIBRATED = (Quantization.INT8, Quantization.INT16X8)


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


def _front_end(model: keras.Model) -> typing.Optional[LogMel]:
  layers = [layer for layer in model.layers if isinstance(layer, LogMel)]
  return layers[0] if layers else None


def _tensor_names(tflite: bytes) -> typing.List[str]:
  subgraph = schema.Model.GetRootAs(tflite, 0).Subgraphs(0)
  return [subgraph.Tensors(i).Name().decode("utf-8") for i in range(subgraph.TensorsLength())]


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


def _int8_with_float_ends(converter, examples, model: keras.Model) -> bytes:
  """Full int8 encoder between a float front end and a float pooling, via the debugger's denylist.

  Plain int8 conversion quantizes everything it can: the waveform itself
  (QUANTIZE right after the input: 8-bit audio), the framing, the mel
  projection and the LOG, so quiet bins collapse to the log floor.
  Denylisting the front end's nodes keeps it float32 (only RFFT2D never had
  an int8 kernel). The statistics pooling and what follows it stay float32
  too (`float_nodes`): the convolutions, nearly all of the work, are int8.
  """
  with warnings.catch_warnings():
    # The debugger itself runs tf.lite.Interpreter; we never do.
    warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=lambda: ([x] for x in examples[:1]))
    # (export/quantization_debug.py denylists the same nodes)
    denied = float_nodes(debugger.calibrated_model, model)
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denied)
    return debugger.get_nondebug_quantized_model()


def _restore_float_front_end(quantized: bytes, reference: bytes, front_end: LogMel) -> bytes:
  """Puts the front end's constants of a float16/dynamic model back to float32.

  float16 conversion stores every constant as float16 behind a DEQUANTIZE:
  a float16 Hann window alone lifts the leakage floor next to a pure tone
  far above float32's, and the log turns that into a visible embedding error.
  Dynamic-range conversion makes the mel projection's FULLY_CONNECTED ops
  (mobile_ssl/core/features.py) hybrid: int8 weights, and the magnitude
  spectrum quantized to int8 at run time, which zeroes quiet bins. Neither
  mode has a denylist, so each front-end constant gets its exact float32
  value from the float32 conversion of the same SavedModel (same tensor
  names): a float16 constant loses the DEQUANTIZE feeding it, an int8 weight
  becomes float32 again (and its op a float one). Fails loudly if a
  front-end constant stays quantized. The measured errors of each mode with
  a quantized front end: docs/export.md, "What is in the file".
  """
  exact = {}
  ref = flatbuffer_utils.read_model_from_bytearray(bytearray(reference))
  for tensor in ref.subgraphs[0].tensors:
    if front_end.name in tensor.name.decode("utf-8") and tensor.type == schema.TensorType.FLOAT32:
      if ref.buffers[tensor.buffer].data is not None:
        exact[tensor.name] = ref.buffers[tensor.buffer].data
  model = flatbuffer_utils.read_model_from_bytearray(bytearray(quantized))
  graph, kept, restored = model.subgraphs[0], [], 0
  for op in graph.operators:
    code = flatbuffer_utils.get_builtin_code_from_operator_code(model.operatorCodes[op.opcodeIndex])
    source = graph.tensors[op.inputs[0]] if op.inputs else None
    if (code == schema.BuiltinOperator.DEQUANTIZE and source.name in exact
        and source.type == schema.TensorType.FLOAT16):
      model.buffers[source.buffer].data = None  # The float16 copy is dropped...
      source.buffer = 0
      model.buffers.append(schema.BufferT(data=exact[source.name]))
      graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1  # ...its user gets float32.
      restored += 1
      continue
    kept.append(op)
  graph.operators = kept
  for tensor in graph.tensors:  # hybrid (dynamic-range) weights
    if tensor.name in exact and tensor.type == schema.TensorType.INT8:
      tensor.type, tensor.quantization = schema.TensorType.FLOAT32, None
      model.buffers[tensor.buffer].data = exact[tensor.name]
      restored += 1
  left = [t.name.decode("utf-8") for t in graph.tensors
          if front_end.name in t.name.decode("utf-8")
          and t.type in (schema.TensorType.FLOAT16, schema.TensorType.INT8)
          and model.buffers[t.buffer].data is not None]
  if left:
    raise ValueError(f"front-end constants left quantized ({', '.join(left[:3])}); "
                     "the converter changed")
  return metadata.serialize(model) if restored else quantized


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


def _pooling_tail(model: keras.Model) -> typing.List[str]:
  """Names of the layers from the first `TimeMeanStd` pooling to the output (none without one)."""
  names, seen = [], False
  for layer in model.layers:
    inner = layer.layers if isinstance(layer, keras.Model) else [layer]
    for sub in inner:
      seen = seen or isinstance(sub, encoder_lib.TimeMeanStd)
      if seen:
        names.append(sub.name)
  return names


def float_nodes(calibrated_model: bytes, model: keras.Model) -> typing.List[str]:
  """The nodes a waveform-in int8 file keeps float32: its front end and its pooling.

  * The `LogMel` front end (see `_int8_with_float_ends`).
  * The statistics pooling (`encoder.TimeMeanStd`), the concatenation of its
    blocks and anything after it (the output; a projection or classifier head
    where there is one). In int8 each of those tensors has one scale for all
    of its values, and the pooled means and standard deviations of three
    blocks span very different ranges: the values with the smallest spread,
    which a standardizing probe weighs like any other, kept a few int8 steps
    each. On the quickstart's triplet encoder that was a relative error of
    0.095 of the standardized embedding (0.40 of the spread for the quarter
    of values with the least), against 0.0020 with the pooling float
    (docs/export.md, "The pooling in float"). The pooling's float ops work
    on the last blocks' small maps: an embedding file is as fast and no
    larger; a classifier's head, float too, keeps 4 bytes per weight.

  Log-mel-in int8 files are fully integer (integer-only accelerators) and
  keep nothing float: for a model without a front end this is empty.
  """
  front_end = _front_end(model)
  if front_end is None:
    return []
  tail = [re.compile(rf"(^|[/;]){re.escape(name)}(_\d+)?/") for name in _pooling_tail(model)]
  subgraph = schema.Model.GetRootAs(calibrated_model, 0).Subgraphs(0)
  outputs = ({subgraph.Tensors(subgraph.Outputs(i)).Name().decode("utf-8")
              for i in range(subgraph.OutputsLength())} if tail else set())
  return [n for n in _tensor_names(calibrated_model)
          if front_end.name in n or n in outputs or any(p.search(n) for p in tail)]


def convert(model: keras.Model, quantization: Quantization,
            representative_data: typing.Optional[typing.Iterable[np.ndarray]] = None,
            *, int8_io: bool = False, int8_output: bool = False) -> bytes:
  """Converts a Keras model to a TFLite flatbuffer.

  A log-mel front end (`LogMel` layer) stays float32 in every precision;
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
  front_end = _front_end(model)
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
        tflite = _restore_float_front_end(tflite, reference, front_end)
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
        return name_io_tensors(_int8_with_float_ends(converter, examples, model))
      if int8_io:
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        if int8_output:
          converter.inference_output_type = tf.int8
    return name_io_tensors(converter.convert())


def calibration_windows(spec: str, count: int = DEFAULT_CALIBRATION_WINDOWS,
                        feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
                        *, data_dir: typing.Optional[str] = None, default_split: str = "train",
                        progress: bool = False) -> typing.Tuple[np.ndarray, dict]:
  """The one int8 calibration sampler: real 975 ms waveform windows of a dataset split.

  Args:
    spec: TFDS name, NAME@SPLIT or audio folder; or several, comma-separated
      (a pool, as `mobile-ssl-train --dataset` takes it), each giving an equal
      share: calibrate on every kind of audio the file will see, since int8
      clips what lies outside the calibrated ranges (docs/export.md).
    count: windows wanted (fewer if the split is shorter).
    default_split: the split when `spec` names none.

  Returns:
    (windows [n, slice_samples] float32, {'dataset', 'split', 'windows'}).
  """
  specs = [s.strip() for s in spec.split(",") if s.strip()]
  if len(specs) > 1:
    share = -(-count // len(specs))
    parts = [calibration_windows(s, share, feature_params, data_dir=data_dir,
                                 default_split=default_split, progress=progress) for s in specs]
    windows = np.concatenate([w for w, _ in parts])
    return windows, {"dataset": spec, "split": ",".join(i["split"] for _, i in parts),
                     "windows": int(len(windows))}
  builder, split = datasets.builder_and_split(spec, default_split, data_dir)
  windows = validation.windows(builder, split, count, feature_params,
                               hop_seconds=CALIBRATION_HOP_SECONDS,
                               max_per_clip=CALIBRATION_WINDOWS_PER_CLIP, progress=progress)
  return windows, {"dataset": spec, "split": split, "windows": int(len(windows))}


def representative(windows: np.ndarray, input_kind: InputKind,
                   feature_params: params_lib.FeatureParams) -> typing.List[np.ndarray]:
  """Calibration windows -> the converter's batch-1 examples for a model of `input_kind`."""
  return [x[None] for x in embedder_lib.model_inputs(windows, InputKind(input_kind).value,
                                                     feature_params)]


def integer_io(quantization: Quantization, input_kind: InputKind) -> bool:
  """int8 log-mel models are fully integer (int8 in and out); waveform ones keep float audio."""
  return (Quantization(quantization) == Quantization.INT8
          and InputKind(input_kind) == InputKind.LOG_MEL)


def encoder_tflite(encoder: keras.Model, params, input_kind: InputKind,
                   quantization: Quantization,
                   windows: typing.Optional[np.ndarray] = None,
                   head: typing.Optional[keras.layers.Layer] = None,
                   classifier: typing.Optional[dict] = None,
                   stft: str = DEFAULT_STFT) -> bytes:
  """The .tflite of an encoder as it ships: converted, tensors named, metadata added.

  Args:
    encoder: the Keras encoder (log-mel [B, 96, 64, 1] -> [B, d]).
    params: its run's `mobile_ssl.core.params.Params` (front end, metadata).
    input_kind, quantization: what to build.
    windows: int8 calibration windows [n, slice_samples] (`calibration_windows`).
    head, classifier: a classifier's softmax layer and its metadata entry.
    stft: a waveform model's STFT, 'matmul' or 'fft' (`LogMel`).
  """
  fp = params.features
  calibrated = Quantization(quantization) in CALIBRATED
  if calibrated and windows is None:
    raise ValueError(f"{Quantization(quantization).value} quantization needs calibration "
                     "windows (real audio)")
  examples = representative(windows, input_kind, fp) if calibrated else None
  io = integer_io(quantization, input_kind)
  model = inference_model(encoder, fp, input_kind, head=head, stft=stft)
  tflite = convert(model, quantization, examples, int8_io=io, int8_output=io)
  runner = embedder_lib.TFLiteEmbedder(tflite)
  return metadata.add(tflite, metadata.describe(
      params, InputKind(input_kind).value, Quantization(quantization).value,
      embedder_lib.SIGNATURE, runner.input_details, runner.output_details,
      classifier=classifier))
