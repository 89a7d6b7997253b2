"""audio_folder: any local folder of audio files as a TFDS dataset.

Labels (ClassLabel features, names sorted, discovered at build time) come from:
  * `labels_csv`: a CSV with a `filename` column (path relative to the root),
    one column per label and optionally a `split` column; or
  * `label_pattern`: a regex searched in each relative path; every named group
    becomes a label, except groups whose name starts with `_`; or
  * by default, the first sub-folder of each file (feature `label`); files
    directly in the root get no label feature when the root has no sub-folders.

Splits: with `group_key` (a label column, or a named regex group such as
FSDD's speaker), whole groups are held out: a seeded hash orders the groups
and the first `test_group_fraction` of them (at least one) form the test
split, the rest train, so no group has clips on both sides (speaker-,
recorder- or site-disjoint evaluation). Otherwise a CSV `split` column wins;
else `test_pattern` / `validation_pattern` regexes (unmatched files go to
train); else a seeded, per-file hash split with `split_ratios` (train,
validation, test), stable when files are added.

With `tfds build audio_folder --imports mobile_ssl_tfds --manual_dir=DIR` the default
config reads DIR with sub-folder labels; pass `--config '{"name": ..., "root_dir":
..., "label_pattern": ...}'` for anything else. `config_for_folder` makes the
config that `mobile_ssl` uses for a folder given on the command line; it
recognises the Free Spoken Digit Dataset naming (`{digit}_{speaker}_{take}.wav`,
takes 0-4 are test).

Symlinked sub-folders are followed (each real folder once, so a link back to
an ancestor cannot loop); a linked class folder takes the link's name. Files
soundfile cannot decode (yt-dlp's `.m4a`/`.webm`) are left out and counted in
one line with the ffmpeg command that converts them; `labels_csv` rows without
a file are counted too, and a CSV that matches no file stops the build.
"""

import dataclasses
import hashlib
import os
import re
import sys
import typing

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds import manual_data

SPLITS = ("train", "validation", "test")
FSDD_NAME = re.compile(r"^\d_[A-Za-z]+_\d+\.wav$")
FSDD_LABEL_PATTERN = r"(?P<digit>\d)_(?P<speaker>[A-Za-z]+)_(?P<_take>\d+)\.wav$"
FSDD_TEST_PATTERN = r"_[0-4]\.wav$"


@dataclasses.dataclass(eq=False)
class AudioFolderConfig(file_decoding.FileConfig):
  """Where the files are and how to read labels and splits from them."""
  root_dir: str = ""  # "" -> the manual_dir of `tfds build`.
  label_pattern: str = ""
  labels_csv: str = ""
  test_pattern: str = ""
  validation_pattern: str = ""
  split_ratios: typing.Tuple[float, float, float] = (0.8, 0.1, 0.1)
  seed: int = 0
  group_key: str = ""
  test_group_fraction: float = 1 / 3


def _read_csv(path: str) -> typing.Dict[str, typing.Dict[str, str]]:
  """filename -> {column: value} of a labels CSV (BOM and CRLF are fine)."""
  rows = [row for _, row in manual_data.read_rows(path)]
  if not rows or "filename" not in rows[0]:
    raise ValueError(f"{path}: expected a CSV with a header and a 'filename' column")
  header = rows[0]
  table = {}
  for row in rows[1:]:
    values = dict(zip(header, row + [""] * (len(header) - len(row))))
    table[values.pop("filename")] = values
  return table


def _find_readable(root: str) -> typing.List[str]:
  """The decodable files under `root`; others are counted in one printed line.

  Raises:
    ValueError: when `root` holds no decodable audio file (the line names any others).
  """
  found = manual_data.find_files(root)
  readable = [rel for rel in found if manual_data.is_readable(rel)]
  unreadable = [rel for rel in found if not manual_data.is_readable(rel)]
  if not readable:
    others = (f"; {len(unreadable)} file(s) are {manual_data.unreadable_note(unreadable)}"
              if unreadable else "")
    raise ValueError(f"{root}: no audio files ({', '.join(manual_data.READABLE)}){others}")
  if unreadable:
    print(f"{root}: {len(unreadable)} file(s) left out, "
          f"{manual_data.unreadable_note(unreadable)}", file=sys.stderr, flush=True)
  return readable


def _hash_fraction(seed: int, relpath: str) -> float:
  digest = hashlib.sha1(f"{seed}:{relpath}".encode()).hexdigest()
  return int(digest[:12], 16) / float(16 ** 12)


class Builder(tfds.core.GeneratorBasedBuilder):
  """A local folder of audio files (WAV, FLAC, OGG, MP3), labels optional."""

  VERSION = tfds.core.Version("1.1.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Symlinked sub-folders are followed and .opus files read; m4a/webm files "
               "and labels_csv rows without a file are counted.",
  }
  BUILDER_CONFIGS = [AudioFolderConfig(
      name="default", description="manual_dir, labels from sub-folders.")]
  DEFAULT_CONFIG_NAME = "default"
  MANUAL_DOWNLOAD_INSTRUCTIONS = """
  Put your audio files (WAV, FLAC, OGG, MP3, Opus) in the manual_dir, one
  sub-folder per class (symlinks are followed), or give a `root_dir` in the
  config (`--config` JSON). Convert m4a/webm first: ffmpeg -i x.m4a x.flac.
  """

  def _label_keys(self) -> typing.List[str]:
    config = self.builder_config
    if config.labels_csv:
      rows = manual_data.read_rows(config.labels_csv)
      header = rows[0][1] if rows else []
      return [c for c in header if c not in ("filename", "split")]
    if config.label_pattern:
      return [g for g in re.compile(config.label_pattern).groupindex if not g.startswith("_")]
    if not config.root_dir or any(
        tf.io.gfile.isdir(os.path.join(config.root_dir, name))
        for name in tf.io.gfile.listdir(config.root_dir)):
      return ["label"]
    return []

  def _info(self) -> tfds.core.DatasetInfo:
    features = {"audio": file_decoding.audio_feature(), "filename": tfds.features.Text()}
    for key in self._label_keys():
      features[key] = tfds.features.ClassLabel()  # names set at build time
    return tfds.core.DatasetInfo(
        builder=self,
        description="A local folder of audio files.",
        features=tfds.features.FeaturesDict(features),
    )

  def _assign(self, root: str) -> typing.Dict[str, typing.List[tuple]]:
    """Maps split -> [(relpath, {label: value})] for every audio file."""
    config = self.builder_config
    files = _find_readable(root)
    keys = self._label_keys()
    table = _read_csv(config.labels_csv) if config.labels_csv else None
    if table is not None:
      coverage = manual_data.Coverage(self.name, os.path.basename(config.labels_csv), root)
      on_disk = set(manual_data.find_files(root))
      for relpath in table:
        coverage.match(relpath, os.path.join(root, relpath) if relpath in on_disk else None)
      coverage.report()
      coverage.check(self.name, "The 'filename' column holds paths relative to root_dir.")
    pattern = re.compile(config.label_pattern) if config.label_pattern else None
    test = re.compile(config.test_pattern) if config.test_pattern else None
    validation = re.compile(config.validation_pattern) if config.validation_pattern else None
    ratios = np.cumsum(config.split_ratios) / np.sum(config.split_ratios)
    splits = {name: [] for name in SPLITS}
    grouped = []  # (group, relpath, labels) when splitting by group
    for relpath in files:
      row = {}
      if table is not None:
        if relpath not in table:
          continue  # Files not listed in the CSV are not part of the dataset.
        row = dict(table[relpath])
      elif pattern is not None:
        match = pattern.search(relpath)
        if not match:
          continue
        row = {k: v for k, v in match.groupdict().items()
               if not k.startswith("_") or k.lstrip("_") == config.group_key}
      elif keys:
        parts = relpath.split("/")
        row = {"label": parts[0] if len(parts) > 1 else "unlabeled"}
      split = row.pop("split", "") if table is not None else ""
      if config.group_key:
        group = row.get(config.group_key, row.get(f"_{config.group_key}"))
        if group is None:
          raise ValueError(f"{relpath}: no group {config.group_key!r} in its labels "
                           f"({', '.join(sorted(row)) or 'none'})")
        grouped.append((group, relpath, {k: row[k] for k in keys}))
        continue
      if not split:
        if test or validation:
          split = ("test" if test and test.search(relpath) else
                   "validation" if validation and validation.search(relpath) else "train")
        else:
          u = _hash_fraction(config.seed, relpath)
          split = SPLITS[int(np.searchsorted(ratios, u, side="right"))]
      if split not in splits:
        raise ValueError(f"{relpath}: unknown split {split!r}; use one of {SPLITS}")
      splits[split].append((relpath, {k: row[k] for k in keys}))
    if config.group_key:
      groups = sorted({g for g, _, _ in grouped}, key=lambda g: _hash_fraction(config.seed, g))
      if len(groups) < 2:
        raise ValueError(f"{root}: group-disjoint splits need at least 2 groups of "
                         f"{config.group_key!r}, found {len(groups)}")
      count = min(len(groups) - 1, max(1, int(round(len(groups) * config.test_group_fraction))))
      held_out = set(groups[:count])
      for group, relpath, labels in grouped:
        splits["test" if group in held_out else "train"].append((relpath, labels))
    return splits

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    root = self.builder_config.root_dir or os.fspath(dl_manager.manual_dir)
    if not tf.io.gfile.isdir(root):
      raise ValueError(f"{root}: audio folder not found")
    splits = self._assign(root)
    for key in self._label_keys():
      names = sorted({labels[key] for items in splits.values() for _, labels in items})
      self.info.features[key].names = names
    return {name: self._generate_examples(root, name, items)
            for name, items in splits.items() if items}

  def _generate_examples(self, root: str, split: str, items):
    decoder = file_decoding.FileDecoder(self.builder_config.on_bad_file, split)
    yield from decoder.examples(
        (relpath, os.path.join(root, relpath), dict(labels, filename=relpath))
        for relpath, labels in items)


def config_for_folder(root_dir: str, on_bad_file: str = "skip", **overrides) -> AudioFolderConfig:
  """The config `mobile_ssl` builds for a folder named on its command line.

  The name holds a hash of the folder's path, options and file listing
  (names, sizes, times), so a changed folder is rebuilt, not served stale.
  """
  root_dir = os.path.abspath(os.path.expanduser(root_dir))
  if not os.path.isdir(root_dir):
    raise ValueError(f"{root_dir}: audio folder not found")
  files = _find_readable(root_dir)
  options = dict(overrides)
  if (not options.get("label_pattern") and not options.get("labels_csv")
      and all(FSDD_NAME.match(os.path.basename(f)) for f in files)):
    options.setdefault("label_pattern", FSDD_LABEL_PATTERN)
    options.setdefault("test_pattern", FSDD_TEST_PATTERN)
  listing = hashlib.sha1(repr(sorted(options.items())).encode())
  listing.update(root_dir.encode())
  for relpath in files:
    stat = os.stat(os.path.join(root_dir, relpath))
    listing.update(f"{relpath}:{stat.st_size}:{int(stat.st_mtime)}".encode())
  slug = re.sub(r"[^a-z0-9]+", "_", os.path.basename(root_dir).lower()).strip("_") or "root"
  return AudioFolderConfig(name=f"{slug}_{listing.hexdigest()[:10]}", root_dir=root_dir,
                           on_bad_file=on_bad_file,
                           description=f"audio folder {root_dir}", **options)
