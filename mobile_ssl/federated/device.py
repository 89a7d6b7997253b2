"""One federated client: its own audio, the trainable .tflite in LiteRT, K local steps.

What a phone would do, in a process without TensorFlow: decode its clips,
compute log-mels with the file's own `log_mel` signature, draw contrastive
pairs as the central pipeline does (tasks/contrastive.py's rule, in numpy:
each pair from one clip, zero-padded to a slice when shorter, the positive
within `contrastive_max_offset_frames` of the anchor; the other clips of the
batch are the negatives), augment each view as the central pipeline does
(views.py), run `train` K times at the run's scheduled learning rate
(core/schedule.py, by the run's global step), and hand back the weights.

Until 2026-12-04 a device joined its clips into one stream and drew pairs
from it: with FSDD's half-second clips most positives then came from a
neighbouring clip (another word), a task unlike the central one
(`concat_clips` resolves to 1 for one-slice tasks, pretraining.concat_count),
and 38k-example runs through LiteRT ended 20 points under the central
trainer on digits (docs/federated.md).
"""

import logging
import os
import typing

import numpy as np

from mobile_ssl.core import atomic
from mobile_ssl.core import audio
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import schedule
from mobile_ssl.export import trainable_runner
from mobile_ssl.federated import views

LOG = logging.getLogger("mobile_ssl.federated")
# Parts that leave the device (the personalization head stays on it).
SHARED_PARTS = ("encoder", "pretext_head")


class NoUsableAudio(ValueError):
  """The device holds no decodable audio, or less than two slices of it."""


def load_clips(files: typing.Sequence[str], params: params_lib.Params
               ) -> typing.Tuple[typing.List[np.ndarray], int]:
  """(decodable clips [samples], each zero-padded to one slice, files skipped).

  The central pipeline's short-clip rule (features.pad_to_slice). Two clips at
  least: the contrastive task takes its negatives from the other clips.
  """
  clips, skipped = [], 0
  slice_samples = params.features.slice_samples
  for path in files:
    try:
      clip = audio.read(path, params.features.sample_rate_hz)
    except audio.AudioError:
      skipped += 1
      continue
    clips.append(np.pad(clip, (0, max(0, slice_samples - len(clip)))).astype(np.float32))
  if len(clips) < 2:
    raise NoUsableAudio(f"{len(clips)} usable clips ({skipped} unreadable); a device needs at "
                        "least 2")
  return clips, skipped


def clip_log_mel(runner: trainable_runner.TrainableRunner, clip: np.ndarray,
                 params: params_lib.Params) -> np.ndarray:
  """[samples] (at least one slice) -> log-mel [frames, bins] via the file's `log_mel` signature.

  Blocks of slice_samples taken every slice_frames * hop samples give
  consecutive runs of slice_frames STFT frames; the last block is zero-padded
  and the frames cut to the clip's own count, so every frame is the one the
  central front end computes.
  """
  fp = params.features
  frames = 1 + (len(clip) - fp.window_samples) // fp.hop_samples
  hop = fp.slice_frames * fp.hop_samples
  count = -(-frames // fp.slice_frames)
  padded = np.pad(clip, (0, max(0, (count - 1) * hop + fp.slice_samples - len(clip))))
  blocks = [runner.log_mel(padded[None, i * hop:i * hop + fp.slice_samples])[0, ..., 0]
            for i in range(count)]
  return np.concatenate(blocks, axis=0)[:frames]


def draw_pairs(log_mels: typing.Sequence[np.ndarray], batch: int, params: params_lib.Params,
               rng: np.random.Generator) -> typing.Tuple[np.ndarray, np.ndarray]:
  """(anchor, positive) [batch, frames, bins, 1]: contrastive.make_examples' rule in numpy.

  One pair per clip, `batch` different clips (repeats only when the device
  holds fewer), as a shuffled central batch takes them.
  """
  s = params.features.slice_frames
  reach = params.task.contrastive_max_offset_frames
  chosen = rng.choice(len(log_mels), batch, replace=len(log_mels) < batch)
  anchors, positives = [], []
  for index in chosen:
    log_mel = log_mels[index]
    last = log_mel.shape[0] - s
    a = int(rng.integers(0, last + 1))
    p = (int(rng.integers(0, last + 1)) if reach < 0 else
         int(rng.integers(max(0, a - reach), min(last, a + reach) + 1)))
    anchors.append(log_mel[a:a + s])
    positives.append(log_mel[p:p + s])
  return np.stack(anchors)[..., None], np.stack(positives)[..., None]


def local_training(model_path: str, files: typing.Sequence[str], params: params_lib.Params,
                   global_weights: typing.Dict[str, np.ndarray], local_steps: int,
                   seed: int, first_step: int = 0,
                   optimizer_state_path: typing.Optional[str] = None) -> dict:
  """Runs K steps from the global weights; returns the new shared weights and counts.

  `first_step` is the run's step count before this round ((round - 1) x K):
  step s trains at `schedule.learning_rate_at(params.train, s)`, so every
  client of a round follows the same warm-up and decay over the run.
  `optimizer_state_path`: a local file that keeps this device's Adam step
  count and moments from one round to the next (read if present, rewritten
  atomically after the round), as a phone's app would keep them; without it
  each round starts Adam afresh. It is never sent.

  Raises:
    NoUsableAudio: nothing to train on.
    FloatingPointError: a step gave a non-finite loss (the update is not returned).
  """
  runner = trainable_runner.TrainableRunner(model_path)
  runner.set_weights({k: global_weights[k] for k in SHARED_PARTS})
  keep_state = optimizer_state_path is not None and runner.has_optimizer_state
  if keep_state and os.path.isfile(optimizer_state_path):
    try:
      runner.set_optimizer_state(atomic.read_arrays(optimizer_state_path)["optimizer"])
    except (OSError, KeyError, ValueError) as e:  # this round starts Adam afresh
      LOG.warning("%s: optimizer state not restored (%s); Adam starts afresh",
                  optimizer_state_path, e)
  clips, skipped = load_clips(files, params)
  log_mels = [clip_log_mel(runner, clip, params) for clip in clips]
  rng = np.random.default_rng(seed)
  losses = []
  rates = []
  for step in range(first_step, first_step + local_steps):
    anchor, positive = draw_pairs(log_mels, runner.train_batch, params, rng)
    if params.augment.enabled:
      anchor = views.augment_views(anchor, params.augment, rng, params.features)
      positive = views.augment_views(positive, params.augment, rng, params.features)
    rates.append(schedule.learning_rate_at(params.train, step))
    loss = runner.train(anchor, positive, rates[-1])
    if not np.isfinite(loss):
      raise FloatingPointError(f"local step {len(losses) + 1}: loss {loss}")
    losses.append(loss)
  weights = runner.get_weights()
  if keep_state:
    atomic.write_arrays(optimizer_state_path, {"optimizer": runner.get_optimizer_state()})
  return {"weights": {k: weights[k] for k in SHARED_PARTS},
          "num_examples": local_steps * runner.train_batch, "loss": float(np.mean(losses)),
          "first_loss": losses[0], "last_loss": losses[-1], "skipped_files": skipped,
          "learning_rate": float(np.mean(rates)),
          "clips": len(clips)}
