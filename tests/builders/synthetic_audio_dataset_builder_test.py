"""Tests of the synthetic_audio builder (the `tiny` config); its recipes: tests/unit/synthesis_test.py."""

import tensorflow_datasets as tfds

from mobile_ssl_tfds.synthetic_audio import synthetic_audio_dataset_builder


class SyntheticAudioTest(tfds.testing.DatasetBuilderTestCase):
  DATASET_CLASS = synthetic_audio_dataset_builder.Builder
  BUILDER_CONFIG_NAMES_TO_TEST = ["tiny"]
  SPLITS = {"train": 12, "validation": 4, "test": 4}
  SKIP_CHECKSUMS = True


if __name__ == "__main__":
  tfds.testing.test_main()
