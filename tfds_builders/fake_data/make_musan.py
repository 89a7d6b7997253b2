"""Writes tfds_builders/musan/dummy_data as musan.tar.gz unpacks.

`musan/README`, `musan/<class>/<subset>/<class>-<subset>-NNNN.wav` with each
subset's `LICENSE` and space-separated `ANNOTATIONS` (none for speech/us-gov,
as in the release; music/fma lists one id without a wav). noise/sound-bible is
a symlink to a folder outside musan/, as when part of the corpus sits on
another disk.
"""

import os

import numpy as np

from mobile_ssl_tfds.fake_data import sounds

_SUBSETS = (("speech", "librivox", 2), ("speech", "us-gov", 2), ("music", "fma", 2),
            ("music", "jamendo", 2), ("noise", "free-sound", 2), ("noise", "sound-bible", 2))


def _annotation(label: str, file_id: str, rng) -> str:
  if label == "music":
    genre, vocals = rng.choice(["classical", "pop", "jazz"]), rng.choice(["Y", "N"])
    return f"{file_id} {genre} {vocals} Some-Artist"
  if label == "speech":
    return f"{file_id} {rng.choice(['m', 'f'])} english"
  return file_id


def main():
  rng = np.random.default_rng(1)
  dummy = sounds.dummy_dir("musan")
  root = os.path.join(dummy, "musan")
  sounds.write_text(os.path.join(root, "README"), ["MUSAN: a corpus of music, speech and noise."])
  for label, subset, count in _SUBSETS:
    folder = os.path.join(root, label, subset)
    if subset == "sound-bible":
      folder = os.path.join(dummy, "other_disk", subset)
      sounds.link(os.path.join(root, label, subset), folder)
    annotations = []
    for i in range(count):
      file_id = f"{label}-{subset}-{i:04d}"
      sounds.write(os.path.join(folder, f"{file_id}.wav"), rng)
      annotations.append(_annotation(label, file_id, rng))
    if subset == "fma":
      annotations.append(_annotation(label, f"{label}-{subset}-{count:04d}", rng))  # no wav
    sounds.write_text(os.path.join(folder, "LICENSE"), [f"{subset}: see the MUSAN README."])
    if subset != "us-gov":
      sounds.write_text(os.path.join(folder, "ANNOTATIONS"), annotations)


if __name__ == "__main__":
  main()
