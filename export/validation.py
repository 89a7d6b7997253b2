"""Checks of an exported .tflite against its Keras encoder: ops, tensors, cosine, probe.

`export_tflite` runs these on the written file before it is moved into place
(export/tflite.py). Real audio comes from `windows` and `embed_split`: 975 ms
windows of a dataset split, read through `mobile_ssl.data.clips` and cut by
`features.frame_waveform` exactly as `Embedder.embed` cuts a file.
"""

import collections
import typing

import numpy as np
import tensorflow_datasets as tfds
import tqdm
from ai_edge_litert import schema_py_generated as schema

from mobile_ssl import data
from mobile_ssl import datasets
from mobile_ssl import embedding
from mobile_ssl import features
from mobile_ssl import params as params_lib
from mobile_ssl import probe

# Ops that must never be in an exported file: resource variables mean the
# Keras-3 weights were left unfrozen (NaN on x86, ../shared/STACK.md), and
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


def dataset_split(spec: str, default_split: str, data_dir: typing.Optional[str] = None):
  """(prepared builder, split) of a 'NAME[@SPLIT]' or folder spec; clear error for a bad split."""
  name, split = datasets.parse_spec(spec)
  builder = datasets.builder(name, data_dir=data_dir)
  return builder, _split_of(builder, split or default_split, name)


def _split_of(builder: tfds.core.DatasetBuilder, split: str, name: str) -> str:
  try:  # also accepts slices such as 'train[:80%]'
    builder.info.splits[split]
  except (KeyError, ValueError):
    raise ValueError(f"dataset {name!r} has no split {split!r} (it has "
                     f"{', '.join(sorted(builder.info.splits))}); name one as {name}@SPLIT"
                     ) from None
  return split


def windows(builder: tfds.core.DatasetBuilder, split: str, count: int,
            feature_params: params_lib.FeatureParams, *, hop_seconds: float,
            max_per_clip: int = 4, progress: bool = False) -> np.ndarray:
  """Up to `count` real 975 ms windows [n, slice_samples] float32, in file order.

  At most `max_per_clip` windows per clip, so the set spans many clips.
  """
  out, total = [], 0
  bar = tqdm.tqdm(total=count, desc=f"windows {builder.name}[{split}]", unit="win",
                  disable=not progress, leave=False)
  for clip in data.clips(builder, split, feature_params=feature_params).as_numpy_iterator():
    frames, _ = features.frame_waveform(clip["waveform"], hop_seconds, feature_params)
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


def embed_split(embedders: typing.Dict[str, embedding.Embedder],
                builder: tfds.core.DatasetBuilder, split: str, label_key: str,
                feature_params: params_lib.FeatureParams, *, audio_key: str = "audio",
                hop_seconds: float = 0.5, chunk: int = 256, progress: bool = False):
  """Window embeddings of a whole labelled split with several embedders.

  Returns:
    ({name: [n, d] float32}, labels [n] int64, clip ids [n] int64).
  """
  outputs = {name: [] for name in embedders}
  labels, clips, pending = [], [], []

  def flush():
    if pending:
      batch = np.concatenate(pending)
      for name, embedder in embedders.items():
        outputs[name].append(embedder.embed_windows(batch))
      pending.clear()

  stream = data.clips(builder, split, label_key=label_key, audio_key=audio_key,
                      feature_params=feature_params)
  total = builder.info.splits[split].num_examples
  for index, clip in enumerate(tqdm.tqdm(stream.as_numpy_iterator(), total=total,
                                         desc=f"probe {split}", unit="clip",
                                         disable=not progress, leave=False)):
    frames, _ = features.frame_waveform(clip["waveform"], hop_seconds, feature_params)
    pending.append(frames)
    labels += [int(clip["label"])] * len(frames)
    clips += [index] * len(frames)
    if sum(len(p) for p in pending) >= chunk:
      flush()
  flush()
  if not labels:
    raise ValueError(f"dataset {builder.name!r} split {split!r} is empty")
  return ({name: np.concatenate(parts) for name, parts in outputs.items()},
          np.asarray(labels, np.int64), np.asarray(clips, np.int64))


def probe_report(embedders: typing.Dict[str, embedding.Embedder], task_spec: str,
                 feature_params: params_lib.FeatureParams, *,
                 data_dir: typing.Optional[str] = None, progress: bool = False) -> dict:
  """Linear-probe test accuracy per embedder, each probe trained on its own embeddings.

  Every window of the task's train and test splits is embedded by every
  embedder in one pass over the data (`embed_split`); `mobile_ssl.probe`
  fits the probe and scores clips.

  Args:
    embedders: name -> embedder (e.g. 'keras' and 'tflite').
    task_spec: a task code or DATASET:LABEL_KEY.
    feature_params: the front end that frames the clips.

  Returns:
    {'task', 'accuracy': {name: float}, 'train_windows', 'test_clips'}.
  """
  task = datasets.downstream_task(task_spec)
  builder = datasets.builder(task.dataset, data_dir=data_dir)
  num_classes = len(datasets.label_names(builder, task.label_key))
  train, test = [embed_split(embedders, builder, _split_of(builder, split, task.dataset),
                             task.label_key, feature_params, audio_key=task.audio_key,
                             progress=progress)
                 for split in (task.train_split, task.test_split)]
  num_classes = num_classes or int(max(train[1].max(), test[1].max())) + 1
  accuracy = {}
  for name in embedders:
    model = probe.train(train[0][name], train[1], train[2], num_classes)
    accuracy[name] = probe.evaluate(model, test[0][name], test[1], test[2])["accuracy"]
  return {"task": task_spec, "accuracy": accuracy, "train_windows": int(len(train[1])),
          "test_clips": int(len(np.unique(test[2])))}
