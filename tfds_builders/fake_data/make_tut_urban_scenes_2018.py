"""Writes tfds_builders/tut_urban_scenes_2018/dummy_data: 48 kHz stereo clips, fold 1."""

import os

import numpy as np

from tfds_builders.fake_data import sounds
from tfds_builders.tut_urban_scenes_2018 import tut_urban_scenes_2018_dataset_builder as tut


def main():
  rng = np.random.default_rng(3)
  root = os.path.join(sounds.dummy_dir("tut_urban_scenes_2018"), tut.FOLDER)
  train, evaluate = ["filename\tscene_label"], ["filename\tscene_label"]
  for i, scene in enumerate(tut.CLASSES[:4]):
    for j in range(2):
      rel = f"audio/{scene}-city{i}-{j}-a.wav"
      sounds.write(os.path.join(root, rel), rng, rate=48000, channels=2)
      (evaluate if j == 1 else train).append(f"{rel}\t{scene}")
  os.makedirs(os.path.join(root, "evaluation_setup"), exist_ok=True)
  for name, lines in (("fold1_train.txt", train), ("fold1_evaluate.txt", evaluate)):
    with open(os.path.join(root, "evaluation_setup", name), "w") as f:
      f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
  main()
