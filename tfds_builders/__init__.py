"""TFDS builders of mobile_ssl; importing this package registers all of them.

  synthetic_audio          the embedded default, generated offline
  audio_folder             any local folder of audio files
  musan, bird_audio_detection, tut_urban_scenes_2018, audioset
                           built from a local download (`--manual_dir`)
Speech Commands, NSynth, LibriSpeech and VoxForge come from the TFDS catalog
(see mobile_ssl/data/datasets.py for the task-code registry).
"""

from mobile_ssl_tfds.audio_folder import audio_folder_dataset_builder  # noqa: F401
from mobile_ssl_tfds.audioset import audioset_dataset_builder  # noqa: F401
from mobile_ssl_tfds.bird_audio_detection import bird_audio_detection_dataset_builder  # noqa: F401
from mobile_ssl_tfds.musan import musan_dataset_builder  # noqa: F401
from mobile_ssl_tfds.synthetic_audio import synthetic_audio_dataset_builder  # noqa: F401
from mobile_ssl_tfds.tut_urban_scenes_2018 import tut_urban_scenes_2018_dataset_builder  # noqa: F401
