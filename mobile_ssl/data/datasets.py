"""Which data: dataset names, audio folders, and the paper's task codes.

A dataset *spec* on a command line is one of
  * a TFDS name, ours (`synthetic_audio`, `musan`, ...) or the catalog's
    (`speech_commands`, `nsynth/full`, ...), optionally `@split`;
  * a path to a local folder of audio files (built once into `audio_folder`);
  * a paper task code (`MUS`, `SPC`, ...) where a labelled task is expected.
Datasets that need no download (`synthetic_audio`, folders) are built on first
use, offline; the others must have been built with `tfds build` (BUILD.md).
"""

import dataclasses
import os
import typing

import tensorflow_datasets as tfds

import mobile_ssl_tfds  # noqa: F401  (registers our builders)
from mobile_ssl_tfds.audio_folder import audio_folder_dataset_builder as audio_folder

# Builders that generate their data offline, so a missing build is made here.
SELF_CONTAINED = ("synthetic_audio",)
OURS = ("synthetic_audio", "audio_folder", "musan", "bird_audio_detection",
        "tut_urban_scenes_2018", "audioset")
CATALOG_AUDIO = ("speech_commands", "nsynth", "librispeech", "voxforge", "spoken_digit")


@dataclasses.dataclass(frozen=True)
class DownstreamTask:
  """A labelled evaluation task: where its audio and labels are."""
  code: str
  dataset: str
  label_key: str  # '/' separates nested features, e.g. 'instrument/family'
  train_split: str = "train"
  test_split: str = "test"
  audio_key: str = "audio"
  description: str = ""
  # Hold out whole groups of this key (e.g. FSDD's 'speaker'): folders only.
  group_key: str = ""


DOWNSTREAM_TASKS = {t.code: t for t in (
    DownstreamTask("MUS", "musan", "label", description="MUSAN speech/music/noise (3)"),
    DownstreamTask("BSD", "bird_audio_detection", "label",
                   description="DCASE 2018 bird audio detection (2)"),
    DownstreamTask("TUT", "tut_urban_scenes_2018", "label",
                   description="TUT Urban Acoustic Scenes 2018, fold 1 (10)"),
    DownstreamTask("LSP", "librispeech", "speaker_id", "train_clean100[:80%]",
                   "train_clean100[80%:]", audio_key="speech",
                   description="LibriSpeech train-clean-100 speaker id (251)"),
    DownstreamTask("SPC", "speech_commands", "label",
                   description="Speech Commands keywords (12)"),
    DownstreamTask("LID", "voxforge", "label", description="VoxForge language id (6)"),
    DownstreamTask("NSP", "nsynth/full", "pitch", description="NSynth pitch (128)"),
    DownstreamTask("NSI", "nsynth/full", "instrument/family",
                   description="NSynth instrument family (11)"),
    DownstreamTask("SYN_EVENT", "synthetic_audio", "event",
                   description="synthetic_audio sound-event class (8)"),
    DownstreamTask("SYN_PITCH", "synthetic_audio", "pitch",
                   description="synthetic_audio root pitch, half-octave bins (8)"),
)}


def parse_spec(spec: str) -> typing.Tuple[str, typing.Optional[str]]:
  """'name@split' -> (name, split); the split is None when not given."""
  name, _, split = spec.strip().partition("@")
  if not name:
    raise ValueError(f"empty dataset name in {spec!r}")
  return name, (split or None)


def split_list(specs: str) -> typing.List[str]:
  """'a,b , c' -> ['a', 'b', 'c'] (for comma-separated flags)."""
  return [s.strip() for s in specs.split(",") if s.strip()]


def _looks_like_path(name: str) -> bool:
  return os.path.isdir(os.path.expanduser(name)) or name.startswith((".", "/", "~"))


def valid_names() -> str:
  return (f"our datasets: {', '.join(OURS)}; TFDS catalog audio: {', '.join(CATALOG_AUDIO)} "
          "(or any TFDS name); or a path to a folder of audio files")


def _rebuilt(builder: tfds.core.DatasetBuilder) -> tfds.core.DatasetBuilder:
  """A fresh builder of the same class, config and data dir (re-reads what is on disk)."""
  return type(builder)(config=builder.builder_config, data_dir=builder.data_dir_root)


def builder(name: str, data_dir: typing.Optional[str] = None,
            on_bad_file: str = "skip", group_key: str = "") -> tfds.core.DatasetBuilder:
  """A prepared builder for a TFDS name or an audio folder.

  Args:
    name: TFDS name (`name` or `name/config`) or a folder path.
    data_dir: TFDS data dir (default: TFDS's, `~/tensorflow_datasets`).
    on_bad_file: policy for unreadable files when a folder is built.
    group_key: for a folder, split train/test by whole groups of this label
      (speaker-disjoint evaluation); see the audio_folder builder.

  Raises:
    ValueError: unknown name, missing folder, or a dataset that must be
      downloaded and built first (the message gives the command).
  """
  if _looks_like_path(name):
    path = os.path.expanduser(name)
    if not os.path.isdir(path):
      raise ValueError(f"{name}: audio folder not found")
    extra = {"group_key": group_key} if group_key else {}
    config = audio_folder.config_for_folder(path, on_bad_file=on_bad_file, **extra)
    result = audio_folder.Builder(config=config, data_dir=data_dir)
  else:
    if group_key:
      raise ValueError(f"{name}@{group_key}: group-disjoint splits are made for audio folders "
                       "(labels from file names or a CSV); this is a TFDS dataset")
    try:
      result = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
      raise ValueError(f"unknown dataset {name!r}; valid: {valid_names()}") from None
  if not result.is_prepared():
    base = result.name
    if base in SELF_CONTAINED or base == "audio_folder" and result.builder_config.root_dir:
      try:
        result.download_and_prepare()
      except FileExistsError:
        # Another process (a second command on the same folder) finished
        # building the very same version first: its copy is complete (TFDS
        # renames a whole folder into place), so use it.
        result = _rebuilt(result)
        if not result.is_prepared():
          raise
    else:
      where = f" --data_dir={data_dir}" if data_dir else ""
      manual = " --manual_dir=DIR_WITH_THE_DOWNLOAD" if result.MANUAL_DOWNLOAD_INSTRUCTIONS else ""
      raise ValueError(
          f"dataset {name!r} is not built in {result.data_dir}; this project never downloads "
          f"at run time: build it first with `tfds build {name} --imports mobile_ssl_tfds"
          f"{where}{manual}` (see BUILD.md)")
  return result


def split_size(builder_: tfds.core.DatasetBuilder, split: str, name: str = "",
               role: str = "") -> int:
  """The examples in a split: the one check that a dataset has the split it is asked for.

  Args:
    builder_: a prepared builder.
    split: a split name or a TFDS slice of one ('train[:80%]').
    name: the dataset as the user named it (a folder's path), for the message;
      default the builder's name.
    role: a word for the message ('train': "has no train split").

  Raises:
    ValueError: "dataset NAME has no [ROLE ]split SPLIT; it has A, B".
  """
  try:
    return builder_.info.splits[split].num_examples
  except (KeyError, ValueError):
    raise ValueError(f"dataset {name or builder_.name!r} has no {role + ' ' if role else ''}"
                     f"split {split!r}; it has {', '.join(sorted(builder_.info.splits)) or 'none'}"
                     ) from None


def builder_and_split(spec: str, default_split: str = "train",
                      data_dir: typing.Optional[str] = None
                      ) -> typing.Tuple[tfds.core.DatasetBuilder, str]:
  """(prepared builder, split) of a 'NAME[@SPLIT]' or folder spec, the split checked.

  Raises:
    ValueError: what `builder` raises, or a split the dataset does not have
      (`split_size`'s message and how to name another).
  """
  name, split = parse_spec(spec)
  prepared = builder(name, data_dir=data_dir)
  split = split or default_split
  try:
    split_size(prepared, split, name)
  except ValueError as e:
    raise ValueError(f"{e}; name one as {name}@SPLIT") from None
  return prepared, split


def downstream_task(spec: str) -> DownstreamTask:
  """A task code, 'dataset:label_key', or 'folder:label_key@group_key'.

  '@group_key' holds out whole groups (e.g. `recordings:digit@speaker`: digits
  of speakers never seen in training).
  """
  if spec in DOWNSTREAM_TASKS:
    return DOWNSTREAM_TASKS[spec]
  name, sep, label = spec.rpartition(":")
  label_key, _, group_key = label.partition("@")
  if not sep or not name or not label_key:
    raise ValueError(f"unknown task {spec!r}; use a code ({', '.join(DOWNSTREAM_TASKS)}), "
                     "DATASET:LABEL_KEY or FOLDER:LABEL_KEY@GROUP_KEY, e.g. "
                     "fsdd/recordings:digit@speaker")
  return DownstreamTask(code=spec, dataset=name, label_key=label_key, group_key=group_key)


def label_names(builder_: tfds.core.DatasetBuilder, label_key: str) -> typing.List[str]:
  """Class names of a label feature; ids as strings for plain integer labels."""
  feature = builder_.info.features
  for part in label_key.split("/"):
    if part not in feature.keys():
      labels = [k for k, v in builder_.info.features.items()
                if isinstance(v, tfds.features.ClassLabel)]
      raise ValueError(f"dataset {builder_.name!r} has no label {label_key!r}; "
                       f"its class labels: {labels or 'none'}")
    feature = feature[part]
  if isinstance(feature, tfds.features.ClassLabel):
    return list(feature.names)
  return []
