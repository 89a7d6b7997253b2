"""Writes tfds_builders/musan/dummy_data/musan/{speech,music,noise}/<subset>/*.wav."""

import os

import numpy as np

from tfds_builders.fake_data import sounds


def main():
  rng = np.random.default_rng(1)
  root = os.path.join(sounds.dummy_dir("musan"), "musan")
  for label, subset in (("speech", "librivox"), ("music", "fma"), ("noise", "free-sound")):
    for i in range(4):
      sounds.write(os.path.join(root, label, subset, f"{label}-{subset}-{i:04d}.wav"), rng)


if __name__ == "__main__":
  main()
