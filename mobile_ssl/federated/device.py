"""One federated client: its own audio, the trainable .tflite in LiteRT, K local steps.

What a phone would do, in a process without TensorFlow: decode its clips,
compute log-mels with the file's own `log_mel` signature, draw contrastive
pairs (tasks/contrastive.py's rule, in numpy: two slices of the device's
audio stream within `contrastive_max_offset_frames` of each other, the other
pairs of the batch as negatives), run `train` K times, and hand back the
weights. Clips are shuffled and joined into one stream first, as the central
trainer joins FSDD's half-second clips (`concat_clips`), since a slice is
975 ms.
"""

import typing

import numpy as np

from mobile_ssl.core import audio
from mobile_ssl.core import params as params_lib
from mobile_ssl.export import trainable_runner

# Parts that leave the device (the personalization head stays on it).
SHARED_PARTS = ("encoder", "pretext_head")


class NoUsableAudio(ValueError):
  """The device holds no decodable audio, or less than two slices of it."""


def load_stream(files: typing.Sequence[str], params: params_lib.Params,
                seed: int) -> typing.Tuple[np.ndarray, int]:
  """(all decodable clips in a seeded order, joined [samples], files skipped)."""
  clips, skipped = [], 0
  for path in files:
    try:
      clips.append(audio.read(path, params.features.sample_rate_hz))
    except audio.AudioError:
      skipped += 1
  need = 2 * params.features.slice_samples
  total = sum(len(c) for c in clips)
  if total < need:
    raise NoUsableAudio(f"{len(clips)} usable clips ({skipped} unreadable), {total} samples; "
                        f"a device needs at least {need}")
  order = np.random.default_rng(seed).permutation(len(clips))
  return np.concatenate([clips[i] for i in order]).astype(np.float32), skipped


def stream_log_mel(runner: trainable_runner.TrainableRunner, stream: np.ndarray,
                   params: params_lib.Params) -> np.ndarray:
  """[samples] -> log-mel [frames, bins] via the file's `log_mel` signature.

  Blocks of slice_samples taken every slice_frames * hop samples give
  consecutive, non-overlapping runs of slice_frames STFT frames.
  """
  fp = params.features
  hop = fp.slice_frames * fp.hop_samples
  count = 1 + (len(stream) - fp.slice_samples) // hop
  blocks = [runner.log_mel(stream[None, i * hop:i * hop + fp.slice_samples])[0, ..., 0]
            for i in range(count)]
  return np.concatenate(blocks, axis=0)


def draw_pairs(log_mel: np.ndarray, batch: int, params: params_lib.Params,
               rng: np.random.Generator) -> typing.Tuple[np.ndarray, np.ndarray]:
  """(anchor, positive) [batch, frames, bins, 1]: contrastive.make_examples' rule in numpy."""
  s = params.features.slice_frames
  last = log_mel.shape[0] - s
  reach = params.task.contrastive_max_offset_frames
  anchors = rng.integers(0, last + 1, batch)
  if reach < 0:
    positives = rng.integers(0, last + 1, batch)
  else:
    positives = np.array([rng.integers(max(0, a - reach), min(last, a + reach) + 1)
                          for a in anchors])
  take = lambda starts: np.stack([log_mel[t:t + s] for t in starts])[..., None]
  return take(anchors), take(positives)


def local_training(model_path: str, files: typing.Sequence[str], params: params_lib.Params,
                   global_weights: typing.Dict[str, np.ndarray], local_steps: int,
                   seed: int) -> dict:
  """Runs K steps from the global weights; returns the new shared weights and counts.

  Raises:
    NoUsableAudio: nothing to train on.
    FloatingPointError: a step gave a non-finite loss (the update is not returned).
  """
  runner = trainable_runner.TrainableRunner(model_path)
  runner.set_weights({k: global_weights[k] for k in SHARED_PARTS})
  stream, skipped = load_stream(files, params, seed)
  log_mel = stream_log_mel(runner, stream, params)
  rng = np.random.default_rng(seed)
  losses = []
  for _ in range(local_steps):
    loss = runner.train(*draw_pairs(log_mel, runner.train_batch, params, rng))
    if not np.isfinite(loss):
      raise FloatingPointError(f"local step {len(losses) + 1}: loss {loss}")
    losses.append(loss)
  weights = runner.get_weights()
  return {"weights": {k: weights[k] for k in SHARED_PARTS},
          "num_examples": local_steps * runner.train_batch, "loss": float(np.mean(losses)),
          "first_loss": losses[0], "last_loss": losses[-1], "skipped_files": skipped,
          "seconds_of_audio": len(stream) / params.features.sample_rate_hz}
