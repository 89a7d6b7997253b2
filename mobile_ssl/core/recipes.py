"""The defaults a run starts from: the measured 'tuned' recipe, the 'paper's, and `tiny`.

`recipe()` is what mobile-ssl-train, the quickstart and the benchmarks build a
run's `params.Params` from; flags given on a command line override it. The
constants below record why each tuned value is what it is.
"""

import dataclasses

from mobile_ssl.core import params as params_lib
from mobile_ssl.core import training_params

# What the tuned recipe pools: all five blocks, ahead of three on every FSDD
# column over three seeds (docs/evaluation.md, "Pooling all five blocks").
TUNED_POOL_BLOCKS = 5
RECIPES = ("tuned", "paper")
# The task `mobile-ssl-train` runs when --task is not given: the best measured
# one on average over FSDD's six probe columns and synthetic_audio's two
# (docs/evaluation.md, 'Against the floor on FSDD'); contrastive is a close second.
DEFAULT_TASK = "triplet"
# Augmentations of the tuned recipe (BYOL-A's mixup and resized crop, a gain,
# SpecAugment-style masks), measured on FSDD (docs/evaluation.md). The crop
# stretches time only since 2026-12-04: BYOL-A's crop of the mel axis too
# (0.6-1.5x, a vocal tract 40 % shorter or 50 % longer) taught the encoder to
# ignore who speaks and what the formants say; without it the default's FSDD
# seeds gained on every 10-shot column (unseen speakers the most), and the
# quickstart's synthetic_audio pitch did not lose (docs/evaluation.md, "The
# frequency crop").
TUNED_AUGMENT = training_params.AugmentParams(
    gain_db=6.0, mixup_ratio=0.4, crop_scale=(0.6, 1.5), freq_crop_scale=(1.0, 1.0),
    time_mask_frames=20, freq_mask_bins=8)
# Steps of the tuned recipe (batch 64): the time budget, about 12 minutes on a
# 2-vCPU CPU. Twice the 1,600 of 2026-12-03 gained 2.6 points on FSDD digits
# with 10 shots and 4.3 on unseen speakers over three seeds; batch 128 at 1,600
# steps (the same examples) gained as much on digits but lost 2.5 on speakers
# with 10 shots (docs/evaluation.md, "Twice the examples").
TUNED_STEPS = 3200
# Steps sized to the 20-minute budget where a task's step cost is far from
# triplet's. Audio2Vec CBoW encodes four context slices per example (104-119
# examples/s against triplet's 320 on 2 vCPUs, i.e. 29 minutes at 3,200 steps):
# 1,900 steps take 18-19 minutes and gained 2.0 on FSDD digits with 10 shots
# over 1,600, three seeds, with no probe column lower (docs/evaluation.md,
# "Goal 2: CBoW with 1,900 steps"). SkipGram (about 220 examples/s) ran 3,200
# steps in about 15.5 minutes; 3,700 take 17-18.5 and gained 1.0 on FSDD
# digits with 10 shots over three seeds, and 0.7 on the mean of the six probe
# columns (docs/evaluation.md, "Goal 2: SkipGram with 3,700 steps").
TUNED_STEPS_BY_TASK = {"audio2vec_cbow": 1900, "audio2vec_skipgram": 3700}


def recipe(task: str = DEFAULT_TASK, name: str = "tuned") -> params_lib.Params:
  """The defaults a run starts from: the measured 'tuned' recipe or the 'paper's.

  'paper': the 2019 configuration (global max pool, constant-rate Adam, no
  augmentation), kept selectable and reported. 'tuned': what measurement on
  small real pools on a 2-core CPU favoured (docs/evaluation.md, 'Pretraining recipe'):
  mean and standard deviation over time of all five blocks' outputs
  (`multi_mean_std`, `TUNED_POOL_BLOCKS`), a cosine similarity for the contrastive task, a cosine
  schedule with warm-up, weight decay,
  gradient clipping, and the augmentations of `TUNED_AUGMENT` for every task
  (the temporal-context tasks too: two views should differ in loudness and
  background). Flags given on a command line override either.
  """
  if name not in RECIPES:
    raise ValueError(f"--recipe must be one of {', '.join(RECIPES)}, got {name!r}")
  base = params_lib.Params()
  base = dataclasses.replace(base, task=dataclasses.replace(base.task, name=task))
  if name == "paper":
    return base
  return dataclasses.replace(
      base,
      encoder=dataclasses.replace(base.encoder, pooling="multi_mean_std", embedding_dim=0,
                                  pool_blocks=TUNED_POOL_BLOCKS),
      task=dataclasses.replace(base.task, contrastive_temperature=0.2,
                               contrastive_similarity="cosine",
                               contrastive_max_offset_frames=100),
      train=dataclasses.replace(base.train, steps=TUNED_STEPS_BY_TASK.get(task, TUNED_STEPS),
                                schedule="cosine", warmup_steps=100,
                                weight_decay=1e-4, clip_norm=5.0, concat_clips=0,
                                keep_checkpoints=10),
      augment=TUNED_AUGMENT)


def tiny() -> params_lib.Params:
  """A preset for tests: a narrow encoder and a short schedule."""
  return params_lib.Params(
      encoder=params_lib.EncoderParams(width=0.25, embedding_dim=16),
      train=training_params.TrainParams(steps=20, batch_size=8, checkpoint_every_steps=10,
                                        log_every_steps=5, shuffle_buffer=16))
