"""Which audio each federated client holds: a folder split by speaker, sub-folder or count.

Federated pretraining is non-IID on purpose: with `speaker` every FSDD
speaker is one device holding only their own recordings, as on phones.
Files are listed and grouped here without decoding (the server and every
client compute the same split from the same folder), and only numpy and the
standard library are imported, so client processes stay TensorFlow-free.

FSDD's test takes (0-4) are left out, as the audio_folder builder puts them
in its test split (tfds_builders/audio_folder): the probe's test clips are
then never seen in pretraining, federated or central.
"""

import dataclasses
import os
import re
import typing

import numpy as np

from mobile_ssl.core import audio

# The audio_folder builder's FSDD rules (FSDD_LABEL_PATTERN, FSDD_TEST_PATTERN),
# repeated here because importing that module imports TensorFlow Datasets.
FSDD_NAME = re.compile(r"^\d_(?P<speaker>[A-Za-z]+)_\d+\.wav$")
FSDD_TEST = re.compile(r"_[0-4]\.wav$")
CLIENTS_BY = ("speaker", "folder", "N (a number of equal random shards)")


@dataclasses.dataclass(frozen=True)
class Shard:
  """One client's data: a name (speaker, folder or index) and absolute file paths."""
  name: str
  files: typing.Tuple[str, ...]


def partition(dataset: str, clients_by: str, seed: int = 0) -> typing.List[Shard]:
  """Splits an audio folder into client shards, sorted by name.

  Args:
    dataset: an audio folder (sub-folders allowed).
    clients_by: 'speaker' (FSDD names `{digit}_{speaker}_{take}.wav`),
      'folder' (top-level sub-folder) or a number N (N seeded random shards).
    seed: orders files before an N-way split.

  Raises:
    ValueError: not a folder, no audio, or a split that does not apply.
  """
  if not os.path.isdir(dataset):
    raise ValueError(f"--dataset={dataset}: not an audio folder (federated clients read "
                     "folders; TFDS names are not supported by mobile-ssl-federated)")
  files = audio.find_files(dataset)
  if not files:
    raise ValueError(f"--dataset={dataset}: no audio files found")
  fsdd = all(FSDD_NAME.match(os.path.basename(f)) for f in files)
  if fsdd:
    files = [f for f in files if not FSDD_TEST.search(f)]
  groups: typing.Dict[str, typing.List[str]] = {}
  if clients_by == "speaker":
    if not fsdd:
      raise ValueError(f"--clients_by=speaker: {dataset} does not use FSDD names "
                       "({digit}_{speaker}_{take}.wav); use folder or a number")
    for f in files:
      groups.setdefault(FSDD_NAME.match(os.path.basename(f))["speaker"], []).append(f)
  elif clients_by == "folder":
    for f in files:
      if "/" not in f:
        raise ValueError(f"--clients_by=folder: {os.path.join(dataset, f)} is not in a "
                         "sub-folder; put each client's audio in its own folder")
      groups.setdefault(f.split("/", 1)[0], []).append(f)
  elif clients_by.isdigit() and int(clients_by) >= 1:
    count = int(clients_by)
    if count > len(files):
      raise ValueError(f"--clients_by={count}: more clients than the {len(files)} files")
    order = np.random.default_rng(seed).permutation(len(files))
    for rank, index in enumerate(order):
      groups.setdefault(f"shard{rank % count:03d}", []).append(files[index])
  else:
    raise ValueError(f"--clients_by must be one of {', '.join(CLIENTS_BY)}; got {clients_by!r}")
  return [Shard(name, tuple(os.path.join(dataset, f) for f in sorted(group)))
          for name, group in sorted(groups.items())]
