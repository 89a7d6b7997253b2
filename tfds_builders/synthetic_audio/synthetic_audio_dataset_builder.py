"""synthetic_audio: the embedded default dataset, generated offline.

No download and no input files: every clip comes from `synthesis.make_clip`
(seeded, deterministic), so `tfds build` works on a fresh machine with the
network off. Two labels: `event` (8 sound-event classes) and `pitch` (8
half-octave bins of the clip's root note). Configs: `default` (3,000 clips of
2-10 s, about 4 hours) and `tiny` (20 short clips, for tests).
"""

import dataclasses
import multiprocessing

import numpy as np
import tensorflow_datasets as tfds

from mobile_ssl_tfds import file_decoding
from mobile_ssl_tfds.synthetic_audio import synthesis


@dataclasses.dataclass(eq=False)
class SyntheticConfig(tfds.core.BuilderConfig):
  """How many clips per split and how long they are."""
  num_train: int = 2400
  num_validation: int = 300
  num_test: int = 300
  min_seconds: float = 2.0
  max_seconds: float = 10.0
  seed: int = 0


_SPLIT_OFFSETS = {"train": 0, "validation": 1_000_000, "test": 2_000_000}


def _clip(args):
  seed, index, min_seconds, max_seconds = args
  waveform, event, pitch = synthesis.make_clip(seed, index, min_seconds, max_seconds)
  return index, file_decoding.audio.to_int16(waveform), event, pitch


class Builder(tfds.core.GeneratorBasedBuilder):
  """Structured synthetic sound events with event and pitch labels."""

  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release."}
  BUILDER_CONFIGS = [
      SyntheticConfig(name="default", description="3,000 clips of 2-10 s."),
      SyntheticConfig(name="tiny", description="20 clips of 2-3 s, for tests.",
                      num_train=12, num_validation=4, num_test=4,
                      min_seconds=2.0, max_seconds=3.0),
  ]
  DEFAULT_CONFIG_NAME = "default"

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            "audio": file_decoding.audio_feature(),
            "event": tfds.features.ClassLabel(names=synthesis.EVENT_CLASSES),
            "pitch": tfds.features.ClassLabel(names=synthesis.PITCH_CLASSES),
            "clip_id": np.int64,
        }),
        supervised_keys=("audio", "event"),
        homepage="https://github.com/mobile-ssl/mobile_ssl",
    )

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    del dl_manager  # Nothing to download: the data is synthesised.
    config = self.builder_config
    sizes = {"train": config.num_train, "validation": config.num_validation,
             "test": config.num_test}
    return {split: self._generate_examples(split, size)
            for split, size in sizes.items() if size > 0}

  def _generate_examples(self, split: str, size: int):
    config = self.builder_config
    offset = _SPLIT_OFFSETS[split]
    jobs = [(config.seed, offset + i, config.min_seconds, config.max_seconds)
            for i in range(size)]
    # Synthesis is pure NumPy per clip: spread it over the cores, in order.
    workers = min(4, multiprocessing.cpu_count())
    if workers > 1 and size >= 64:
      with multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from self._examples(pool.imap(_clip, jobs, chunksize=16))
    else:
      yield from self._examples(map(_clip, jobs))

  def _examples(self, clips):
    for index, waveform, event, pitch in clips:
      yield index, {"audio": waveform, "event": event, "pitch": pitch,
                    "clip_id": index}
