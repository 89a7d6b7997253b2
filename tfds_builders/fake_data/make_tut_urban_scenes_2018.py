"""Writes tfds_builders/tut_urban_scenes_2018/dummy_data as the development set unzips.

48 kHz stereo clips named like the real ones (`audio/<scene>-<city>-<location>-
<segment>-a.wav`), `meta.csv` (tab-separated, with its header) and the
documented fold files: `evaluation_setup/fold1_{train,evaluate}.txt` as
`audio/...wav<TAB>scene` without a header, `fold1_test.txt` as file names only.
One fold1_train row has no wav (an audio zip left unextracted): counted at build time.
"""

import os

import numpy as np

from mobile_ssl_tfds.fake_data import sounds
from mobile_ssl_tfds.tut_urban_scenes_2018 import tut_urban_scenes_2018_dataset_builder as tut

_CITIES = ("barcelona", "helsinki", "london", "paris")


def main():
  rng = np.random.default_rng(3)
  root = os.path.join(sounds.dummy_dir("tut_urban_scenes_2018"), tut.FOLDER)
  meta, train, evaluate = ["\t".join(tut.META_HEADER)], [], []
  for i, scene in enumerate(tut.CLASSES[:4]):
    for location in range(2):
      identifier = f"{_CITIES[i]}-{location}"
      rel = f"audio/{scene}-{identifier}-{int(rng.integers(0, 400))}-a.wav"
      sounds.write(os.path.join(root, rel), rng, rate=48000, channels=2)
      meta.append(f"{rel}\t{scene}\t{identifier}\ta")
      (evaluate if location == 1 else train).append(f"{rel}\t{scene}")
  train.append(f"audio/tram-{_CITIES[0]}-7-42-a.wav\ttram")  # its zip was not extracted
  setup = os.path.join(root, "evaluation_setup")
  sounds.write_text(os.path.join(root, "meta.csv"), meta)
  sounds.write_text(os.path.join(setup, "fold1_train.txt"), train)
  sounds.write_text(os.path.join(setup, "fold1_evaluate.txt"), evaluate)
  sounds.write_text(os.path.join(setup, "fold1_test.txt"),
                    [line.split("\t")[0] for line in evaluate])


if __name__ == "__main__":
  main()
