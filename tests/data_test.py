"""Tests of mobile_ssl.data with folders built as datasets, and two processes building one (integration).

The in-process tests on the tiny synthetic dataset are in tests/unit/pipeline_test.py
and tests/unit/datasets_test.py.
"""

import glob
import os
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import sampling
from mobile_ssl.data import datasets
from mobile_ssl.data import pipeline
from mobile_ssl.data import task_stream
from tests import audio_fixtures

PARAMS = params_lib.Params()


def _collect(ds):
  return [{k: v.numpy() for k, v in batch.items()} for batch in ds]


def _crop(clips, params, seed):
  # One random 96-frame crop per clip, and each clip's length as the target.
  return sampling.random_crop(clips, seed, 96)[..., 0], tf.cast(clips.lengths, tf.float32)


def test_folder_becomes_a_dataset_with_padded_short_clips(tone_folder, data_dir):
  builder = datasets.builder(tone_folder, data_dir=data_dir)
  assert builder.info.features["label"].names == ["high", "low"]
  split = next(iter(builder.info.splits))
  batches = _collect(pipeline.slice_dataset(builder, split, batch_size=64, label_key="label"))
  clips = np.concatenate([b["clip"] for b in batches])
  # Every clip, even the 0.4 s one, yields at least one slice.
  assert len(set(clips)) == builder.info.splits[split].num_examples
  # The same folder is not rebuilt: same config name, prepared.
  assert datasets.builder(tone_folder, data_dir=data_dir).builder_config.name == builder.builder_config.name


def test_task_dataset_mixes_sources_in_proportion(tiny_synthetic, tone_folder, data_dir):
  folder = datasets.builder(tone_folder, data_dir=data_dir)
  split = next(iter(folder.info.splits))
  ds = task_stream.task_dataset([(tiny_synthetic, "train"), (folder, split)], _crop, 96, PARAMS,
                                batch_size=10, seed=0)
  # Tone clips are pure sines: their log-mel has most energy in 1-2 bins.
  peaky = [np.mean(x.numpy().max(-1) - np.median(x.numpy(), -1) > 8, axis=-1)
           for x, _ in ds.take(20)]
  share = np.mean(np.concatenate(peaky) > 0.5)
  expected = folder.info.splits[split].num_examples / (
      folder.info.splits[split].num_examples + tiny_synthetic.info.splits["train"].num_examples)
  assert abs(share - expected) < 0.2


_BUILD_WHEN_TOLD = """
import os, sys, time
from mobile_ssl.data import datasets
folder, data_dir, go = sys.argv[1:4]
open(go + "." + str(os.getpid()), "w").close()  # imported, waiting
while not os.path.exists(go):
  time.sleep(0.01)
builder = datasets.builder(folder, data_dir=data_dir)
print(builder.info.splits["train"].num_examples)
"""


def test_two_commands_building_one_folder_at_once_both_get_it(tmp_path):
  # Two processes prepare the same folder at the same moment (two commands started
  # together): TFDS renames the finished copy into place, and the slower one used
  # to die on the rename (FileExistsError) instead of using the finished copy.
  folder = tmp_path / "clips"
  os.makedirs(folder)
  for i in range(240):
    audio_fixtures.write(folder / f"{i % 2}_ann_{i}.wav",
                         audio_fixtures.sine(0.2, 200.0 + i, rate=8000), 8000)
  go = str(tmp_path / "go")
  args = [sys.executable, "-c", _BUILD_WHEN_TOLD, str(folder), str(tmp_path / "tfds"), go]
  env = dict(os.environ, PYTHONPATH=os.getcwd(), TF_CPP_MIN_LOG_LEVEL="3")
  procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env) for _ in range(2)]
  deadline = time.time() + 120
  while len(glob.glob(go + ".*")) < 2 and time.time() < deadline:
    time.sleep(0.05)
  open(go, "w").close()  # both start building now
  for proc in procs:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    assert int(out.strip().splitlines()[-1]) > 100
