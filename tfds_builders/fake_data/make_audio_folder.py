"""Writes tfds_builders/audio_folder/dummy_data: class sub-folders, mixed formats."""

import os

import numpy as np

from mobile_ssl_tfds.fake_data import sounds


def main():
  rng = np.random.default_rng(0)
  root = sounds.dummy_dir("audio_folder")
  for label in ("bird", "car", "speech"):
    for i, (ext, rate, channels) in enumerate(
        [("wav", 16000, 1), ("flac", 44100, 2), ("ogg", 22050, 1), ("mp3", 16000, 1),
         ("wav", 8000, 1), ("wav", 48000, 2)]):
      sounds.write(os.path.join(root, label, f"{label}_{i}.{ext}"), rng,
                   seconds=0.5, rate=rate, channels=channels)


if __name__ == "__main__":
  main()
