"""Writes tfds_builders/bird_audio_detection/dummy_data as the real download unpacks.

Each zip extracted with `unzip X.zip -d X/` (so X/wav/<itemid>.wav), 44.1 kHz
mono wavs, and the metadata CSVs as shipped: header `itemid,datasetid,hasbird`,
CRLF line ends, numeric freefield1010 ids and hex warblr ids. Each CSV lists
one item without a wav (counted and printed at build time).
"""

import os

import numpy as np

from mobile_ssl_tfds.fake_data import sounds


def _itemid(dataset_id: str, rng) -> str:
  if dataset_id == "ff1010bird":
    return str(int(rng.integers(100, 200000)))
  hexes = "".join(rng.choice(list("0123456789abcdef"), size=20))
  return f"{hexes[:8]}-{hexes[8:12]}-{hexes[12:16]}-{hexes[16:]}"


def main():
  rng = np.random.default_rng(2)
  root = sounds.dummy_dir("bird_audio_detection")
  for csv_name, folder, dataset_id in (
      ("ff1010bird_metadata_2018.csv", "ff1010bird_wav", "ff1010bird"),
      ("warblrb10k_public_metadata_2018.csv", "warblrb10k_public_wav", "warblrb10k")):
    lines = ["itemid,datasetid,hasbird"]
    for i in range(6):
      itemid = _itemid(dataset_id, rng)
      if i != 3:  # listed, no audio: counted
        sounds.write(os.path.join(root, folder, "wav", f"{itemid}.wav"), rng, rate=44100)
      lines.append(f"{itemid},{dataset_id},{int(rng.integers(2))}")
    sounds.write_text(os.path.join(root, csv_name), lines, newline="\r\n")


if __name__ == "__main__":
  main()
