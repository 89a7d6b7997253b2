"""Metadata inside a .tflite: TFLite Support `ModelMetadata` and mobile_ssl's JSON.

`add` puts two named buffers in the flatbuffer's `metadata` list (the TFLite
schema's place for named data; the converter already stores
`min_runtime_version` and `CONVERSION_METADATA` there):

* `TFLITE_METADATA`: a TFLite Support `ModelMetadata` flatbuffer, as
  MediaPipe and the Task Library read it: name, description, licence, the
  input's and output's tensor metadata, a classifier's label file
  (export/model_metadata.py builds and parses it).
* `mobile_ssl`: UTF-8 JSON with everything needed to use the model: sample
  rate, channels, STFT window/hop, slice length, embedding size, input kind,
  precision, input/output dtype and quantization, and the encoder's complete
  params.json (`read_metadata`).

Associated files (the label map) are not flatbuffer data: as TFLite Support's
MetadataPopulator does, they are appended to the flatbuffer as an uncompressed
(stored) ZIP archive, so the .tflite is also a valid .zip; MediaPipe and the
Task Library read them from there (`associated_files` reads them back).

Why not tflite-support's metadata writer: tflite-support 0.4.4 (the last,
2023) pins protobuf<4, while TF 2.21 needs >=6.31. It imports only when
installed with `pip install --no-deps` plus the system libusb-1.0, which
setup.py cannot express. The ModelMetadata subset written here needs only the
`flatbuffers` package (a dependency of ai-edge-litert); its slot numbers follow
the field order of metadata_schema.fbs, and tflite-support 0.4.4's
`MetadataDisplayer` parses the result (docs/export.md). The model itself is
re-serialized with the TFLite schema that ai-edge-litert ships
(`ai_edge_litert.schema_py_generated`), weights 16-byte aligned as the
converter writes them.
"""

import importlib.metadata
import io
import json
import os
import typing
import zipfile

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.tools import flatbuffer_utils

from mobile_ssl.export import model_metadata

METADATA_NAME = "mobile_ssl"
TFLITE_METADATA_NAME = "TFLITE_METADATA"
TFLITE_FILE_IDENTIFIER = b"TFL3"
_ALIGNMENT = 16  # The converter aligns weight buffers to 16 bytes; keep it.


def model_bytes(model: typing.Union[str, bytes, os.PathLike]) -> bytes:
  """The bytes of a .tflite given as a path or bytes; ValueError naming a bad file."""
  if isinstance(model, (bytes, bytearray)):
    data = bytes(model)
  else:
    if not os.path.isfile(model):
      raise ValueError(f"{model}: file not found")
    with open(model, "rb") as f:
      data = f.read()
  if len(data) < 8 or data[4:8] != TFLITE_FILE_IDENTIFIER:
    where = model if not isinstance(model, (bytes, bytearray)) else "model bytes"
    raise ValueError(f"{where}: not a TFLite model (no 'TFL3' file identifier)")
  return data


def _version() -> str:
  try:
    return importlib.metadata.version("mobile_ssl")
  except importlib.metadata.PackageNotFoundError:
    return "unknown"


def tensor_summary(details: dict) -> dict:
  """JSON-friendly shape/dtype/quantization of a tensor's LiteRT details."""
  scale, zero_point = details["quantization"]
  quantized = np.dtype(details["dtype"]).kind != "f"
  return {"shape": [int(d) for d in details["shape"]],
          "dtype": np.dtype(details["dtype"]).name,
          "quantization": ({"scale": float(scale), "zero_point": int(zero_point)}
                           if quantized else None)}


def describe(params, input_kind: str, quantization: str, signature: str,
             input_details: dict, output_details: dict,
             classifier: typing.Optional[dict] = None) -> dict:
  """The mobile_ssl metadata of an exported encoder (or classifier).

  Args:
    params: the run's `mobile_ssl.core.params.Params`.
    input_kind, quantization: what was exported.
    signature: the signature name.
    input_details, output_details: LiteRT details of the signature's tensors.
    classifier: for a classifier (output `scores`): {'task', 'labels', ...},
      stored as the 'classifier' entry; its labels become the label file.
  """
  fp = params.features
  extra = {"classifier": classifier} if classifier else {}
  return extra | {
      "format": 1, "producer": f"mobile_ssl {_version()} export_tflite",
      "signature": signature, "input_kind": input_kind, "quantization": quantization,
      "input": {"name": input_kind, **tensor_summary(input_details)},
      "output": {"name": "scores" if classifier else "embedding",
                 **tensor_summary(output_details)},
      "sample_rate_hz": fp.sample_rate_hz, "channels": 1,
      "slice_samples": fp.slice_samples, "slice_seconds": fp.slice_seconds,
      "slice_frames": fp.slice_frames, "num_mel_bins": fp.num_mel_bins,
      "stft_window_samples": fp.window_samples, "stft_hop_samples": fp.hop_samples,
      "fft_length": fp.fft_length, "embedding_dim": params.encoder.output_dim(fp),
      "params": params.to_dict(),
  }


class _AlignedBuffer(schema.BufferT):
  """A weight buffer packed 16-byte aligned (the generated code aligns to 1)."""

  def Pack(self, builder):
    if self.data is None or not len(self.data):
      return super().Pack(builder)
    data = np.frombuffer(np.asarray(self.data, np.uint8).tobytes(), np.uint8)
    # Align the vector's first byte: Prep pads so that after `len(data)` more
    # bytes the head is on a 16-byte boundary (the builder writes backwards).
    builder.Prep(_ALIGNMENT, len(data))
    offset = builder.CreateNumpyVector(data)
    schema.BufferStart(builder)
    schema.BufferAddData(builder, offset)
    return schema.BufferEnd(builder)


def _entries(data: bytes) -> typing.Dict[str, bytes]:
  """Named metadata buffers of a .tflite: name -> bytes."""
  model = schema.Model.GetRootAs(data, 0)
  out = {}
  for i in range(model.MetadataLength()):
    entry = model.Metadata(i)
    buffer = model.Buffers(entry.Buffer())
    name = entry.Name().decode("utf-8")
    out[name] = b"" if buffer.DataIsNone() else buffer.DataAsNumpy().tobytes()
  return out


def serialize(model: schema.ModelT) -> bytes:
  """A model object -> .tflite bytes, weight buffers 16-byte aligned."""
  model.buffers = [_AlignedBuffer(data=b.data) if b.data is not None else b
                   for b in model.buffers or []]
  builder = flatbuffers.Builder(1024 + sum(len(b.data) for b in model.buffers
                                           if b.data is not None))
  builder.Finish(model.Pack(builder), file_identifier=TFLITE_FILE_IDENTIFIER)
  return bytes(builder.Output())


def add(tflite: bytes, info: dict) -> bytes:
  """Returns `tflite` with both metadata entries (replacing older ones).

  Args:
    tflite: a .tflite flatbuffer, as `convert.convert` returns it.
    info: the mobile_ssl metadata (`describe`); needs
      'input' and 'output' ({'name', 'shape', ...}), 'input_kind',
      'sample_rate_hz', 'channels', 'embedding_dim', 'quantization'; with
      'classifier' {'labels': [...], ...} the output is a classifier's
      `scores` and the labels go into `model_metadata.LABELS_FILE`, an associated file.

  Returns:
    the new .tflite bytes; the graph and weights are unchanged (an older
    appended ZIP of associated files is replaced too).
  """
  model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes(tflite)))
  payloads = {TFLITE_METADATA_NAME: model_metadata.build(info, METADATA_NAME),
              METADATA_NAME: json.dumps(info, sort_keys=True).encode("utf-8")}
  kept = []
  for entry in model.metadata or []:
    if entry.name.decode("utf-8") in payloads:
      model.buffers[entry.buffer].data = None  # An older copy: drop its bytes too.
    else:
      kept.append(entry)
  model.metadata = kept
  for name, payload in payloads.items():
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers)
    model.buffers.append(schema.BufferT(data=np.frombuffer(payload, np.uint8)))
    model.metadata.append(entry)
  data = serialize(model)
  if "classifier" in info:
    data = _append_zip(data, {model_metadata.LABELS_FILE: labels_text(info["classifier"]["labels"])})
  return data


def labels_text(labels: typing.Sequence[str]) -> bytes:
  """The label file: one class name per line, in class-index order."""
  names = [str(label).replace("\n", " ").strip() for label in labels]
  if any(not name for name in names):
    raise ValueError(f"empty class name in {list(labels)}")
  return ("\n".join(names) + "\n").encode("utf-8")


def _append_zip(data: bytes, files: typing.Dict[str, bytes]) -> bytes:
  """`data` followed by an uncompressed ZIP of `files` (offsets from the file start)."""
  stream = io.BytesIO()
  stream.write(data)
  # Mode 'a' on bytes that are not a ZIP appends a new archive, its offsets
  # counted from the start of the stream, as MetadataPopulator writes it.
  with zipfile.ZipFile(stream, "a", compression=zipfile.ZIP_STORED) as archive:
    for name, payload in files.items():
      info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
      archive.writestr(info, payload)
  return stream.getvalue()


def associated_files(model: typing.Union[str, bytes, os.PathLike]) -> typing.Dict[str, bytes]:
  """The associated files appended to a .tflite: name -> bytes ({} when none)."""
  data = model_bytes(model)
  try:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
      return {name: archive.read(name) for name in archive.namelist()}
  except zipfile.BadZipFile:
    return {}


def read_metadata(model: typing.Union[str, bytes, os.PathLike]) -> dict:
  """The mobile_ssl metadata of a .tflite (path or bytes) as a dict.

  Raises:
    ValueError: not a .tflite, or one without mobile_ssl metadata.
  """
  entries = _entries(model_bytes(model))
  if METADATA_NAME not in entries:
    where = model if not isinstance(model, (bytes, bytearray)) else "model bytes"
    raise ValueError(f"{where}: no {METADATA_NAME!r} metadata (not exported by export_tflite)")
  return json.loads(entries[METADATA_NAME].decode("utf-8"))


def read_tflite_metadata(model: typing.Union[str, bytes, os.PathLike]) -> dict:
  """The TFLite Support ModelMetadata of a .tflite (path or bytes), as a dict.

  See `model_metadata.parse` for the keys.
  """
  data = _entries(model_bytes(model)).get(TFLITE_METADATA_NAME)
  if data is None:
    raise ValueError(f"no {TFLITE_METADATA_NAME} entry in the model")
  return model_metadata.parse(data)
