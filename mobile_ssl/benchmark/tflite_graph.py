"""What a .tflite file holds: operators, weights, multiply-adds, precision, and one-op sub-models.

Read from the flatbuffer itself (LiteRT's schema and flatbuffer_utils), so the
figures describe exactly the file that ships, whatever built it: BN is folded
into the convolutions, so `weights` is smaller than the Keras parameter count
(which also counts BN's moving statistics). Multiply-adds are counted from
the operator shapes like `mobile_ssl.core.encoder.complexity`: convolutions,
depthwise convolutions, fully connected and batch matmul; FFT, pooling and
element-wise ops are not multiply-adds.

`single_op_model` cuts one operator out into a model of its own (its
constant inputs kept, its other inputs made graph inputs) with the same
tensors, quantization and kernels: `latency.op_profile` times these one by
one, which is the per-operator profile of `benchmark_model
--enable_op_profiling` without needing that binary.

Imports only numpy and ai_edge_litert (+ its flatbuffers dependency), so it
also runs in the emulated aarch64 Python.
"""

import copy
import os
import typing

import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils

TFLITE_IDENTIFIER = b"TFL3"
_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
# Which inputs of an op are its weights (filter, bias).
_WEIGHT_POSITIONS = {"CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2),
                     "CONV_3D": (1, 2), "TRANSPOSE_CONV": (1, 3), "BATCH_MATMUL": (1,)}


def read(path: str) -> bytes:
  """The bytes of a .tflite file; ValueError naming the file if it is not one."""
  if not os.path.isfile(path):
    raise ValueError(f"{path}: model file not found")
  with open(path, "rb") as f:
    data = f.read()
  # A flatbuffer starts with the root offset, then the 4-byte file identifier.
  if len(data) < 8 or data[4:8] != TFLITE_IDENTIFIER:
    raise ValueError(f"{path}: not a TFLite flatbuffer (no 'TFL3' identifier)")
  return data


def _model(data: bytes) -> schema.ModelT:
  return flatbuffer_utils.read_model_from_bytearray(bytearray(data))


def _op_name(model: schema.ModelT, op: schema.OperatorT) -> str:
  code = model.operatorCodes[op.opcodeIndex]
  builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
  for name, value in vars(schema.BuiltinOperator).items():
    if value == builtin and not name.startswith("_"):
      return name if name != "CUSTOM" else f"CUSTOM:{code.customCode.decode()}"
  return str(builtin)


def _is_constant(model: schema.ModelT, tensor: schema.TensorT) -> bool:
  data = model.buffers[tensor.buffer].data if tensor.buffer < len(model.buffers) else None
  return data is not None and len(data) > 0


def _shape(tensor: schema.TensorT) -> typing.List[int]:
  return [int(d) for d in tensor.shape] if tensor.shape is not None else []


def _weight_tensor(model, graph, index):
  """The constant behind an op input, looking through a DEQUANTIZE (float16 models)."""
  tensor = graph.tensors[index]
  if _is_constant(model, tensor):
    return tensor
  for op in graph.operators:
    if index in list(op.outputs) and _op_name(model, op) == "DEQUANTIZE":
      source = graph.tensors[op.inputs[0]]
      return source if _is_constant(model, source) else None
  return None


def _macs(name: str, inputs, outputs) -> int:
  """Multiply-adds of one op from its input/output shapes (0 if not a MAC op)."""
  if not outputs or not inputs:
    return 0
  out = outputs[0]
  if name == "CONV_2D" and len(inputs) > 1:  # filter [Cout, kh, kw, Cin]
    return int(np.prod(out)) * int(np.prod(inputs[1][1:]))
  if name == "DEPTHWISE_CONV_2D" and len(inputs) > 1:  # filter [1, kh, kw, Cout]
    return int(np.prod(out)) * int(np.prod(inputs[1][1:3]))
  if name == "FULLY_CONNECTED" and len(inputs) > 1:  # weights [out, in]
    return int(np.prod(out)) * int(inputs[1][-1])
  if name == "BATCH_MATMUL" and len(inputs) > 1:
    return int(np.prod(out)) * int(inputs[0][-1])
  if name == "TRANSPOSE_CONV" and len(inputs) > 2:  # filter [Cout, kh, kw, Cin]
    return int(np.prod(inputs[2])) * int(np.prod(inputs[1][1:]))
  return 0


def describe(path: str) -> dict:
  """Size, op histogram, weights, multiply-adds, precision and I/O of a .tflite file.

  Returns:
    {'size_bytes', 'op_histogram' {op: count}, 'ops' [names in execution
    order], 'weights' (elements of constant filter/bias tensors), 'macs' (per
    invocation), 'precision' ('float32'|'float16'|'dynamic'|'int8'),
    'inputs'/'outputs' [{'name', 'shape', 'dtype'}]}.
  """
  data = read(path)
  model = _model(data)
  graph = model.subgraphs[0]
  histogram, names, weights, macs, counted = {}, [], 0, 0, set()
  weight_types, activation_types = [], []
  for op in graph.operators:
    name = _op_name(model, op)
    names.append(name)
    histogram[name] = histogram.get(name, 0) + 1
    in_shapes = [_shape(graph.tensors[i]) if i >= 0 else [] for i in op.inputs]
    out_shapes = [_shape(graph.tensors[i]) for i in op.outputs]
    macs += _macs(name, in_shapes, out_shapes)
    for position in _WEIGHT_POSITIONS.get(name, ()):
      if position >= len(op.inputs) or op.inputs[position] < 0:
        continue
      tensor = _weight_tensor(model, graph, op.inputs[position])
      if tensor is not None and id(tensor) not in counted:  # shared constants count once
        counted.add(id(tensor))
        weights += int(np.prod(_shape(tensor)))
        if position == 1:
          weight_types.append(tensor.type)
          data_input = op.inputs[2 if name == "TRANSPOSE_CONV" else 0]
          activation_types.append(graph.tensors[data_input].type)
  return {
      "size_bytes": len(data),
      "op_histogram": dict(sorted(histogram.items(), key=lambda kv: -kv[1])),
      "ops": names,
      "weights": weights,
      "macs": macs,
      "precision": _precision(weight_types, activation_types),
      "inputs": [_io(graph.tensors[i]) for i in graph.inputs],
      "outputs": [_io(graph.tensors[i]) for i in graph.outputs],
  }


def _precision(weight_types, activation_types) -> str:
  if not weight_types:
    return "float32"
  t = schema.TensorType
  if all(w == t.FLOAT16 for w in weight_types):
    return "float16"
  if any(w in (t.INT8, t.UINT8, t.INT4) for w in weight_types):
    quantized = sum(a in (t.INT8, t.UINT8, t.INT16) for a in activation_types)
    return "int8" if quantized * 2 >= len(activation_types) else "dynamic"
  return "float32"


def _io(tensor: schema.TensorT) -> dict:
  name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
  return {"name": name, "shape": _shape(tensor), "dtype": _TYPE_NAMES.get(tensor.type, "?")}


def single_op_models(path: str) -> typing.Iterator[dict]:
  """Yields one dict per op, in execution order: 'index', 'op' (name), 'output_shape',
  'inputs' (the tensor ids, in the whole model, that feed the sub-model's inputs, in order)
  and 'content' (.tflite bytes of that op alone).

  The sub-model keeps the op's tensors (shapes, types, quantization) and its
  constant inputs; its non-constant inputs become graph inputs, in the op's
  input order. Ops that call other subgraphs (WHILE, IF, ...) are skipped.
  """
  model = _model(read(path))
  graph = model.subgraphs[0]
  for index, op in enumerate(graph.operators):
    name = _op_name(model, op)
    if name in ("WHILE", "IF", "CALL_ONCE", "STABLEHLO_COMPOSITE") or len(model.subgraphs) > 1 and (
        name.startswith("CUSTOM")):
      continue
    sub = schema.ModelT()
    sub.version = model.version
    sub.description = model.description
    sub.operatorCodes = model.operatorCodes
    sub.buffers = [schema.BufferT()]  # buffer 0: the empty sentinel every model has
    tensors, remap = [], {}
    for t in list(op.inputs) + list(op.outputs) + list(op.intermediates or []):
      if t < 0 or t in remap:
        continue
      tensor = copy.copy(graph.tensors[t])
      if _is_constant(model, tensor):
        sub.buffers.append(model.buffers[tensor.buffer])
        tensor.buffer = len(sub.buffers) - 1
      else:
        sub.buffers.append(schema.BufferT())
        tensor.buffer = len(sub.buffers) - 1
      remap[t] = len(tensors)
      tensors.append(tensor)
    single = copy.copy(op)
    single.inputs = [remap[t] if t >= 0 else -1 for t in op.inputs]
    single.outputs = [remap[t] for t in op.outputs]
    single.intermediates = [remap[t] for t in op.intermediates] if op.intermediates else []
    subgraph = schema.SubGraphT()
    subgraph.tensors = tensors
    subgraph.operators = [single]
    # Empty tensors (shape [0], e.g. a RESHAPE to a scalar) cannot be set: they stay internal.
    feeds = [t for t in op.inputs if t >= 0 and not _is_constant(model, graph.tensors[t])
             and (graph.tensors[t].shape is None or np.prod(_shape(graph.tensors[t])) > 0)]
    subgraph.inputs = [remap[t] for t in feeds]
    subgraph.outputs = list(single.outputs)
    subgraph.name = graph.name
    sub.subgraphs = [subgraph]
    content = bytes(flatbuffer_utils.convert_object_to_bytearray(sub))
    yield {"index": index, "op": name, "output_shape": _shape(graph.tensors[op.outputs[0]]),
           "inputs": feeds, "content": content}
