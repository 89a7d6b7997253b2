"""Checks of an exported .tflite against its Keras encoder: ops, tensors, cosines.

`export_tflite` runs these on the written file before it is moved into place
(export/exporter.py). Real audio comes from `windows`: 975 ms windows of a
dataset split (`mobile_ssl.data.pipeline.waveform_windows`, cut exactly as
`Embedder.embed` cuts a file). The probe check is export/probe_accuracy.py
(mobile-ssl-eval's own probe path).
"""

import collections
import typing

import numpy as np
import tensorflow_datasets as tfds
from ai_edge_litert import schema_py_generated as schema

from mobile_ssl.core import params as params_lib
from mobile_ssl.core import progress as progress_bar
from mobile_ssl.data import pipeline

# Ops that must never be in an exported file: resource variables mean the
# Keras-3 weights were left unfrozen (the file gives NaN on x86), and
# Flex ops need the TF-ops delegate, which phones and ai-edge-litert lack.
FORBIDDEN_OPS = ("VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE")
_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def op_histogram(tflite: bytes) -> typing.Dict[str, int]:
  """{op name: count} over all subgraphs; custom ops as 'CUSTOM:<name>'."""
  model = schema.Model.GetRootAs(tflite, 0)
  names = []
  for i in range(model.OperatorCodesLength()):
    code = model.OperatorCodes(i)
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
      names.append("CUSTOM:" + (code.CustomCode() or b"").decode("utf-8"))
    else:
      names.append(_OP_NAMES.get(builtin, str(builtin)))
  counts = collections.Counter()
  for s in range(model.SubgraphsLength()):
    subgraph = model.Subgraphs(s)
    for o in range(subgraph.OperatorsLength()):
      counts[names[subgraph.Operators(o).OpcodeIndex()]] += 1
  return dict(sorted(counts.items()))


def forbidden_ops(ops: typing.Dict[str, int]) -> typing.List[str]:
  """The ops of `op_histogram` that a phone cannot run (see FORBIDDEN_OPS)."""
  return sorted(op for op in ops if op in FORBIDDEN_OPS or op.startswith("CUSTOM:Flex"))


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Row-wise cosine similarity of [n, d] arrays (NaN rows stay NaN)."""
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
  return np.sum(a * b, axis=1) / np.maximum(norms, 1e-30)


def centred_cosines(a: np.ndarray, reference: np.ndarray) -> np.ndarray:
  """`cosines` of a and reference [n, d], both minus the reference's mean row.

  Embeddings share a large mean, which makes plain cosines look better than a
  probe sees them ('high cosine, lost accuracy'); removing the reference's
  mean over these rows (their common offset) leaves what tells rows apart
  (docs/export.md).
  """
  mean = np.mean(reference, axis=0)
  return cosines(np.asarray(a) - mean, np.asarray(reference) - mean)


def windows(builder: tfds.core.DatasetBuilder, split: str, count: int,
            feature_params: params_lib.FeatureParams, *, hop_seconds: float,
            max_per_clip: int = 4, progress: bool = False) -> np.ndarray:
  """Up to `count` real 975 ms windows [n, slice_samples] float32, in file order.

  At most `max_per_clip` windows per clip, so the set spans many clips.
  """
  out, total = [], 0
  bar = progress_bar.bar(total=count, desc=f"windows {builder.name}[{split}]", unit="win",
                         show=progress)
  for frames in pipeline.waveform_windows(builder, split, feature_params, hop_seconds):
    frames = frames[:min(max_per_clip, count - total)]
    out.append(frames)
    total += len(frames)
    bar.update(len(frames))
    if total >= count:
      break
  bar.close()
  if not total:
    raise ValueError(f"dataset {builder.name!r} split {split!r} has no audio")
  return np.concatenate(out)
