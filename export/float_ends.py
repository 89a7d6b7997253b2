"""What stays float32 in a quantized file, and how the converter is made to keep it so.

Quantization applies to the encoder only; the front end stays float32 in
every precision. Quantizing the magnitude spectrum before the mel projection
and the log sends quiet bins to the log floor, and float16 constants (the
Hann window) raise the spectral leakage floor; either moves the waveform
model's embedding visibly away from the same encoder's on log-mel input
(the measured cosines: docs/export.md, "What is in the file"). int8 files
keep the front end and the statistics pooling float through the quantization
debugger's denylist (`int8_with_float_ends`, `float_nodes`); float16 and
dynamic-range files, which have no denylist, get the front end's float32
constants put back (`restore_float_front_end`). export/convert.py calls them.
"""

import re
import typing
import warnings

import keras
import tensorflow as tf
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import metadata


def _tensor_names(tflite: bytes) -> typing.List[str]:
  subgraph = schema.Model.GetRootAs(tflite, 0).Subgraphs(0)
  return [subgraph.Tensors(i).Name().decode("utf-8") for i in range(subgraph.TensorsLength())]



def int8_with_float_ends(converter, examples, model: keras.Model) -> bytes:
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


def restore_float_front_end(quantized: bytes, reference: bytes,
                            front_end: inference_model_lib.LogMel) -> bytes:
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

  * The `LogMel` front end (see `int8_with_float_ends`).
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
  front_end = inference_model_lib.front_end(model)
  if front_end is None:
    return []
  tail = [re.compile(rf"(^|[/;]){re.escape(name)}(_\d+)?/") for name in _pooling_tail(model)]
  subgraph = schema.Model.GetRootAs(calibrated_model, 0).Subgraphs(0)
  outputs = ({subgraph.Tensors(subgraph.Outputs(i)).Name().decode("utf-8")
              for i in range(subgraph.OutputsLength())} if tail else set())
  return [n for n in _tensor_names(calibrated_model)
          if front_end.name in n or n in outputs or any(p.search(n) for p in tail)]

