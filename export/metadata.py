"""Metadata inside a .tflite: TFLite Support `ModelMetadata` and mobile_ssl's JSON.

`add` puts two named buffers in the flatbuffer's `metadata` list (the TFLite
schema's place for named data; the converter already stores
`min_runtime_version` and `CONVERSION_METADATA` there):

* `TFLITE_METADATA`: a TFLite Support `ModelMetadata` flatbuffer (schema
  metadata_schema.fbs 1.5.0, file identifier M001), as MediaPipe and the Task
  Library read it: name, description, version, author, license, and tensor
  metadata for the input (`AudioProperties {sample_rate, channels}` for the
  waveform input, `FeatureProperties` for log-mel) and the output
  (`FeatureProperties`). A classifier's `scores` output also names its label
  file as an `AssociatedFile` of type TENSOR_AXIS_LABELS (one class name per
  line), the layout of YAMNet's MediaPipe model.
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

METADATA_NAME = "mobile_ssl"
TFLITE_METADATA_NAME = "TFLITE_METADATA"
TFLITE_FILE_IDENTIFIER = b"TFL3"
METADATA_FILE_IDENTIFIER = b"M001"
# Oldest metadata parser that reads what is written: AudioProperties came in
# schema 1.3.0, everything else here is 1.0.
AUDIO_PARSER_VERSION = "1.3.0"
BASE_PARSER_VERSION = "1.0.0"
_ALIGNMENT = 16  # The converter aligns weight buffers to 16 bytes; keep it.

# AssociatedFileType (metadata_schema.fbs): one label per line along the class axis.
TENSOR_AXIS_LABELS = 2
LABELS_FILE = "labels.txt"

# ContentProperties union members (metadata_schema.fbs).
FEATURE_PROPERTIES = 1
AUDIO_PROPERTIES = 4
_CONTENT_NAMES = {0: "none", FEATURE_PROPERTIES: "FeatureProperties", 2: "ImageProperties",
                  3: "BoundingBoxProperties", AUDIO_PROPERTIES: "AudioProperties"}


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
      `scores` and the labels go into LABELS_FILE, an associated file.

  Returns:
    the new .tflite bytes; the graph and weights are unchanged (an older
    appended ZIP of associated files is replaced too).
  """
  model = flatbuffer_utils.read_model_from_bytearray(bytearray(model_bytes(tflite)))
  payloads = {TFLITE_METADATA_NAME: _model_metadata(info),
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
    data = _append_zip(data, {LABELS_FILE: labels_text(info["classifier"]["labels"])})
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


# --- TFLite Support ModelMetadata: writer and reader of the subset we use. ---

def _associated_file(builder, name: str, description: str, file_type: int) -> int:
  name_off, description_off = builder.CreateString(name), builder.CreateString(description)
  builder.StartObject(4)  # AssociatedFile {name, description, type, locale}
  builder.PrependUOffsetTRelativeSlot(0, name_off, 0)
  builder.PrependUOffsetTRelativeSlot(1, description_off, 0)
  builder.PrependInt8Slot(2, file_type, 0)
  return builder.EndObject()


def _tensor_metadata(builder, name: str, description: str, content_type: int,
                     sample_rate: int = 0, channels: int = 0,
                     associated_files: typing.Sequence[int] = ()) -> int:
  files = _table_vector(builder, associated_files) if associated_files else 0
  name_off, description_off = builder.CreateString(name), builder.CreateString(description)
  if content_type == AUDIO_PROPERTIES:
    builder.StartObject(2)  # AudioProperties {sample_rate, channels}
    builder.PrependUint32Slot(0, sample_rate, 0)
    builder.PrependUint32Slot(1, channels, 0)
  else:
    builder.StartObject(0)  # FeatureProperties {}
  properties = builder.EndObject()
  builder.StartObject(3)  # Content {content_properties_type, content_properties, range}
  builder.PrependUint8Slot(0, content_type, 0)
  builder.PrependUOffsetTRelativeSlot(1, properties, 0)
  content = builder.EndObject()
  builder.StartObject(7)  # TensorMetadata {name, description, dimension_names, content, ...}
  builder.PrependUOffsetTRelativeSlot(0, name_off, 0)
  builder.PrependUOffsetTRelativeSlot(1, description_off, 0)
  builder.PrependUOffsetTRelativeSlot(3, content, 0)
  if files:
    builder.PrependUOffsetTRelativeSlot(6, files, 0)  # associated_files
  return builder.EndObject()


def _table_vector(builder, offsets: typing.Sequence[int]) -> int:
  builder.StartVector(4, len(offsets), 4)
  for offset in reversed(offsets):
    builder.PrependUOffsetTRelative(offset)
  return builder.EndVector()


def _model_metadata(info: dict) -> bytes:
  builder = flatbuffers.Builder(1024)
  audio = info["input_kind"] == "waveform"
  input_description = (
      f"{info['input']['shape'][-1]} samples of mono audio at {info['sample_rate_hz']} Hz "
      "in [-1, 1] (975 ms)" if audio else
      "log-mel slice [1, frames, bins, 1]: log(mel magnitude + offset), see 'mobile_ssl' metadata")
  inputs = [_tensor_metadata(builder, info["input"]["name"], input_description,
                             AUDIO_PROPERTIES if audio else FEATURE_PROPERTIES,
                             info["sample_rate_hz"], info["channels"])]
  classifier = info.get("classifier")
  if classifier:
    labels = [_associated_file(builder, LABELS_FILE, "class names, one per line",
                               TENSOR_AXIS_LABELS)]
    outputs = [_tensor_metadata(
        builder, info["output"]["name"],
        f"softmax scores of {len(classifier['labels'])} classes of {classifier['task']}",
        FEATURE_PROPERTIES, associated_files=labels)]
  else:
    outputs = [_tensor_metadata(builder, info["output"]["name"],
                                f"{info['embedding_dim']}-d audio embedding", FEATURE_PROPERTIES)]
  input_vector, output_vector = _table_vector(builder, inputs), _table_vector(builder, outputs)
  builder.StartObject(10)  # SubGraphMetadata {name, description, inputs, outputs, ...}
  builder.PrependUOffsetTRelativeSlot(2, input_vector, 0)
  builder.PrependUOffsetTRelativeSlot(3, output_vector, 0)
  subgraph = builder.EndObject()
  strings = [builder.CreateString(s) for s in (
      "mobile_ssl audio classifier" if classifier else "mobile_ssl audio encoder",
      f"Self-supervised audio embedding ({info['input_kind']} input, {info['quantization']}); "
      f"full parameters in the '{METADATA_NAME}' metadata entry.",
      str(info.get("producer", "")), "mobile_ssl", "Apache-2.0",
      AUDIO_PARSER_VERSION if audio else BASE_PARSER_VERSION)]
  subgraphs = _table_vector(builder, [subgraph])
  builder.StartObject(8)  # ModelMetadata
  # Slots: 0 name, 1 description, 2 version, 4 author, 5 license, 7 min_parser_version.
  for slot, offset in zip((0, 1, 2, 4, 5, 7), strings):
    builder.PrependUOffsetTRelativeSlot(slot, offset, 0)
  builder.PrependUOffsetTRelativeSlot(3, subgraphs, 0)
  builder.Finish(builder.EndObject(), file_identifier=METADATA_FILE_IDENTIFIER)
  return bytes(builder.Output())


class _Table:
  """Read access to one flatbuffer table by slot number."""

  def __init__(self, buf: bytes, pos: int):
    self._tab = flatbuffers.table.Table(buf, pos)

  def _offset(self, slot: int) -> int:
    return self._tab.Offset(4 + 2 * slot)

  def string(self, slot: int) -> typing.Optional[str]:
    o = self._offset(slot)
    return self._tab.String(o + self._tab.Pos).decode("utf-8") if o else None

  def uint(self, slot: int, flags=flatbuffers.number_types.Uint32Flags) -> int:
    o = self._offset(slot)
    return int(self._tab.Get(flags, o + self._tab.Pos)) if o else 0

  def table(self, slot: int) -> typing.Optional["_Table"]:
    o = self._offset(slot)
    return _Table(self._tab.Bytes, self._tab.Indirect(o + self._tab.Pos)) if o else None

  def tables(self, slot: int) -> typing.List["_Table"]:
    o = self._offset(slot)
    if not o:
      return []
    start = self._tab.Vector(o)
    return [_Table(self._tab.Bytes, self._tab.Indirect(start + 4 * i))
            for i in range(self._tab.VectorLen(o))]


def _read_tensor(tensor: _Table) -> dict:
  out = {"name": tensor.string(0), "description": tensor.string(1)}
  content = tensor.table(3)
  kind = content.uint(0, flatbuffers.number_types.Uint8Flags) if content else 0
  out["content"] = _CONTENT_NAMES.get(kind, str(kind))
  if kind == AUDIO_PROPERTIES:
    properties = content.table(1)
    out["sample_rate"], out["channels"] = properties.uint(0), properties.uint(1)
  files = tensor.tables(6)
  if files:
    out["associated_files"] = [
        {"name": f.string(0), "description": f.string(1),
         "type": f.uint(2, flatbuffers.number_types.Int8Flags)} for f in files]
  return out


def read_tflite_metadata(model: typing.Union[str, bytes, os.PathLike]) -> dict:
  """The TFLite Support ModelMetadata of a .tflite, as a dict.

  Returns:
    {'name', 'description', 'version', 'author', 'license',
    'min_parser_version', 'inputs': [...], 'outputs': [...]}, each tensor
    {'name', 'description', 'content', and for AudioProperties
    'sample_rate', 'channels'; 'associated_files' [{'name', 'description',
    'type'}] when the tensor has any}.
  """
  entries = _entries(model_bytes(model))
  data = entries.get(TFLITE_METADATA_NAME)
  if data is None:
    raise ValueError(f"no {TFLITE_METADATA_NAME} entry in the model")
  if data[4:8] != METADATA_FILE_IDENTIFIER:
    raise ValueError(f"{TFLITE_METADATA_NAME} is not a ModelMetadata flatbuffer")
  root = _Table(data, flatbuffers.encode.Get(flatbuffers.packer.uoffset, data, 0))
  out = {key: root.string(slot) for key, slot in (
      ("name", 0), ("description", 1), ("version", 2), ("author", 4), ("license", 5),
      ("min_parser_version", 7))}
  subgraphs = root.tables(3)
  out["inputs"] = [_read_tensor(t) for t in subgraphs[0].tables(2)] if subgraphs else []
  out["outputs"] = [_read_tensor(t) for t in subgraphs[0].tables(3)] if subgraphs else []
  return out
