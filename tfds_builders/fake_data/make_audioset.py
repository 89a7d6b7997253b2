"""Writes tfds_builders/audioset/dummy_data: segment CSVs, labels, FLAC/WAV segments."""

import os

import numpy as np

from tfds_builders.fake_data import sounds

_MIDS = ("/m/09x0r", "/m/04rlf", "/m/0jbk")


def main():
  rng = np.random.default_rng(4)
  root = sounds.dummy_dir("audioset")
  with open(os.path.join(root, "class_labels_indices.csv"), "w") as f:
    f.write("index,mid,display_name\n")
    for i, (mid, name) in enumerate(zip(_MIDS, ("Speech", "Music", "Animal"))):
      f.write(f'{i},{mid},"{name}"\n')
  for split, count, prefix in (("balanced_train", 4, "Y"), ("eval", 2, "")):
    lines = ["# Segments csv created Sun Mar  5 10:54:31 2017",
             "# num_ytids=%d, num_segs=%d, num_unique_labels=3, num_positive_labels=4" % (count, count),
             "# YTID, start_seconds, end_seconds, positive_labels"]
    for i in range(count):
      ytid = f"{split[:2]}{i:02d}abcdefg"[:11].replace("_", "-")
      labels = ",".join(rng.choice(_MIDS, size=1 + i % 2, replace=False))
      lines.append(f'{ytid}, 30.000, 40.000, "{labels}"')
      ext = "flac" if i % 2 else "wav"
      sounds.write(os.path.join(root, "audio", split, f"{prefix}{ytid}_30.000_40.000.{ext}"),
                   rng, rate=44100, channels=2)
    lines.append('zzzzzzzzzzz, 0.000, 10.000, "/m/09x0r"')  # never downloaded
    with open(os.path.join(root, f"{split}_segments.csv"), "w") as f:
      f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
  main()
