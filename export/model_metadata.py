"""TFLite Support `ModelMetadata`: the subset export_tflite writes, and a reader for it.

The flatbuffer MediaPipe and the Task Library read from a .tflite's
`TFLITE_METADATA` entry (schema metadata_schema.fbs 1.5.0, file identifier
M001): name, description, version, author, license, and tensor metadata for
the input (`AudioProperties {sample_rate, channels}` for the waveform input,
`FeatureProperties` for log-mel) and the output (`FeatureProperties`); a
classifier's `scores` output names its label file as an `AssociatedFile` of
type TENSOR_AXIS_LABELS, the layout of YAMNet's MediaPipe model. Built with
the `flatbuffers` package alone, slot numbers following the field order of
metadata_schema.fbs (export/metadata.py says why not tflite-support's
writer). export/metadata.py puts it into the file (`add`) and finds it there
(`read_tflite_metadata`).
"""

import typing

import flatbuffers

METADATA_FILE_IDENTIFIER = b"M001"
# Oldest metadata parser that reads what is written: AudioProperties came in
# schema 1.3.0, everything else here is 1.0.
AUDIO_PARSER_VERSION = "1.3.0"
BASE_PARSER_VERSION = "1.0.0"
# AssociatedFileType (metadata_schema.fbs): one label per line along the class axis.
TENSOR_AXIS_LABELS = 2
LABELS_FILE = "labels.txt"

# ContentProperties union members (metadata_schema.fbs).
FEATURE_PROPERTIES = 1
AUDIO_PROPERTIES = 4
_CONTENT_NAMES = {0: "none", FEATURE_PROPERTIES: "FeatureProperties", 2: "ImageProperties",
                  3: "BoundingBoxProperties", AUDIO_PROPERTIES: "AudioProperties"}


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


def build(info: dict, details_entry: str) -> bytes:
  """The `ModelMetadata` flatbuffer of an exported file from its mobile_ssl metadata `info`.

  `details_entry`: the name of the entry that holds `info` itself, which the
  description points readers to.
  """
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
      f"full parameters in the '{details_entry}' metadata entry.",
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


def parse(data: bytes) -> dict:
  """A `ModelMetadata` flatbuffer (a `TFLITE_METADATA` entry's bytes) as a dict.

  Returns:
    {'name', 'description', 'version', 'author', 'license',
    'min_parser_version', 'inputs': [...], 'outputs': [...]}, each tensor
    {'name', 'description', 'content', and for AudioProperties
    'sample_rate', 'channels'; 'associated_files' [{'name', 'description',
    'type'}] when the tensor has any}.
  """
  if data[4:8] != METADATA_FILE_IDENTIFIER:
    raise ValueError("TFLITE_METADATA is not a ModelMetadata flatbuffer")
  root = _Table(data, flatbuffers.encode.Get(flatbuffers.packer.uoffset, data, 0))
  out = {key: root.string(slot) for key, slot in (
      ("name", 0), ("description", 1), ("version", 2), ("author", 4), ("license", 5),
      ("min_parser_version", 7))}
  subgraphs = root.tables(3)
  out["inputs"] = [_read_tensor(t) for t in subgraphs[0].tables(2)] if subgraphs else []
  out["outputs"] = [_read_tensor(t) for t in subgraphs[0].tables(3)] if subgraphs else []
  return out
