"""Writes tfds_builders/bird_audio_detection/dummy_data: both sources, CSVs, 44.1 kHz wavs."""

import os

import numpy as np

from tfds_builders.fake_data import sounds


def main():
  rng = np.random.default_rng(2)
  root = sounds.dummy_dir("bird_audio_detection")
  for csv_name, folder, dataset_id in (
      ("ff1010bird_metadata_2018.csv", "ff1010bird_wav", "ff1010bird"),
      ("warblrb10k_public_metadata_2018.csv", "warblrb10k_public_wav", "warblrb10k")):
    lines = ["itemid,datasetid,hasbird"]
    for i in range(5):
      itemid = f"{dataset_id[:2]}{1000 + i}"
      sounds.write(os.path.join(root, folder, "wav", f"{itemid}.wav"), rng, rate=44100)
      lines.append(f"{itemid},{dataset_id},{int(rng.integers(2))}")
    lines.append(f"missing{dataset_id},{dataset_id},1")  # listed, no audio: ignored
    with open(os.path.join(root, csv_name), "w") as f:
      f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
  main()
