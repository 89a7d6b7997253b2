"""What every file-based builder shares: the audio feature, decoding, bad files.

Builders decode in `_generate_examples` with `mobile_ssl.core.audio.read` (soundfile
+ band-limited resampling to 16 kHz mono) and yield int16 arrays. A file that
cannot be decoded either stops the build with one line naming it
(`on_bad_file="raise"`) or is skipped and counted (`"skip"`, the default); the
count and the first few names are printed at the end of each split.

Clips shorter than one 975 ms slice are kept as they are: the input pipeline
pads them with silence to one slice (mobile_ssl/core/features.py, `pad_to_slice`),
and tasks that need more context skip them and report how many.
"""

import dataclasses
import os
import sys

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mobile_ssl.core import audio

SAMPLE_RATE_HZ = 16000
ON_BAD_FILE = ("skip", "raise")
_SHOW_FIRST = 5


class Int16Audio(tfds.features.Audio):
  """`Audio` that stores int16 arrays as raw bytes.

  tfds 4.9.10's `Audio.encode_example` returns arrays before the tensor
  encoder runs, so `encoding=BYTES` fails and the default upcasts int16 to
  int64 (4x the disk). This routes arrays through the tensor encoder.
  """

  def __init__(self, **kwargs):
    super().__init__(**kwargs)
    # tfds' own decoder reads the deprecated `.dtype` (a cached property) and
    # logs a deprecation warning on every load; cache the value up front.
    self.__dict__["dtype"] = self.tf_dtype

  def encode_example(self, audio_or_path_or_fobj):
    if isinstance(audio_or_path_or_fobj, np.ndarray):
      return tfds.features.Tensor.encode_example(self, audio_or_path_or_fobj)
    return super().encode_example(audio_or_path_or_fobj)


def audio_feature() -> tfds.features.Audio:
  """16 kHz mono int16 audio stored as 2 bytes per sample."""
  return Int16Audio(shape=(None,), dtype=np.int16, sample_rate=SAMPLE_RATE_HZ,
                    encoding=tfds.features.Encoding.BYTES)


@dataclasses.dataclass(eq=False)
class FileConfig(tfds.core.BuilderConfig):
  """Builder config with the bad-file policy; `tfds build --config` takes JSON.

  Attributes:
    on_bad_file: 'skip' (count, report at the end) or 'raise' (stop at once).
  """
  on_bad_file: str = "skip"


class BadFileError(ValueError):
  """Raised with `on_bad_file='raise'`; the message names the file."""


class FileDecoder:
  """Decodes files for one split, applying the bad-file policy."""

  def __init__(self, on_bad_file: str = "skip", split: str = ""):
    if on_bad_file not in ON_BAD_FILE:
      raise ValueError(f"on_bad_file must be one of {ON_BAD_FILE}, got {on_bad_file!r}")
    self.on_bad_file = on_bad_file
    self.split = split
    self.skipped = []

  def decode(self, path) -> "np.ndarray | None":
    """int16 [samples] at 16 kHz, or None when the file was skipped."""
    try:
      return audio.to_int16(audio.read(path, SAMPLE_RATE_HZ))
    except audio.AudioError as e:
      if self.on_bad_file == "raise":
        raise BadFileError(str(e)) from None
      self.skipped.append(str(e))
      return None

  def report(self, out=None) -> str:
    """Prints and returns the one-paragraph summary of skipped files."""
    if not self.skipped:
      return ""
    where = f" in split '{self.split}'" if self.split else ""
    lines = [f"skipped {len(self.skipped)} unreadable file(s){where}; first ones:"]
    lines += [f"  {reason}" for reason in self.skipped[:_SHOW_FIRST]]
    text = "\n".join(lines)
    print(text, file=out or sys.stderr, flush=True)
    return text

  def examples(self, items, crop=None):
    """Yields (key, example) for (key, path, fields) items, skipping bad files.

    Args:
      items: iterable of (key, path, dict of other features).
      crop: optional `crop(key, int16 waveform) -> waveform`, applied after decoding
        (AudioSet cuts a full-video download down to its segment).
    """
    yielded = 0
    for key, path, fields in items:
      waveform = self.decode(path)
      if waveform is not None and crop is not None:
        waveform = crop(key, waveform)
      if waveform is not None:
        yielded += 1
        yield key, dict(fields, audio=waveform)
    self.report()
    if not yielded and self.skipped:
      where = f" of split '{self.split}'" if self.split else ""
      raise BadFileError(f"none of the {len(self.skipped)} file(s){where} is readable audio, "
                         f"e.g. {self.skipped[0]}")


class MissingDataError(FileNotFoundError):
  """The manual_dir lacks what a builder needs; the message says what to get."""


def require(path, dataset: str, instructions: str) -> None:
  """Raises one clear `MissingDataError` if `path` does not exist.

  Args:
    path: a file or folder the builder needs.
    dataset: the builder's name, used in the message.
    instructions: what to download and where to put it (one sentence).
  """
  if not tf.io.gfile.exists(os.fspath(path)):
    raise MissingDataError(
        f"{dataset}: {os.fspath(path)} not found. {instructions} "
        f"Then run: tfds build {dataset} --imports mobile_ssl_tfds --manual_dir=DIR")

