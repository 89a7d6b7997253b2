"""TFDS builders of mobile_ssl; importing this package registers all of them.

  synthetic_audio          the embedded default, generated offline
  audio_folder             any local folder of audio files
  musan, bird_audio_detection, tut_urban_scenes_2018, audioset
                           built from a local download (`--manual_dir`)
Speech Commands, NSynth, LibriSpeech and VoxForge come from the TFDS catalog
(see mobile_ssl/datasets.py for the task-code registry).
"""

from tfds_builders.audio_folder import audio_folder_dataset_builder  # noqa: F401
from tfds_builders.audioset import audioset_dataset_builder  # noqa: F401
from tfds_builders.bird_audio_detection import bird_audio_detection_dataset_builder  # noqa: F401
from tfds_builders.musan import musan_dataset_builder  # noqa: F401
from tfds_builders.synthetic_audio import synthetic_audio_dataset_builder  # noqa: F401
from tfds_builders.tut_urban_scenes_2018 import tut_urban_scenes_2018_dataset_builder  # noqa: F401
