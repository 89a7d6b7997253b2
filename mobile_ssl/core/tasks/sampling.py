"""Where every task's crops come from: a batch of clips, and stateless random positions in it.

A task's `make_examples(clips, params, seed)` gets a `ClipBatch`: the log-mels
of B clips laid end to end in one tensor, with each clip's first row and
length. It draws the positions of the whole batch at once from one seed [2]
(int64), so a pipeline mapped in parallel stays reproducible
(mobile_ssl/data/pipeline.py), and cuts every crop of the batch with one
gather. One call per batch, not one per example: a per-example map call cost
tf.data about 17 us whatever its function did, most of the input's CPU time
for the one-crop tasks (docs/benchmark.md, "Crops cut per batch").
"""

import dataclasses
import typing

import tensorflow as tf


@dataclasses.dataclass(frozen=True)
class ClipBatch:
  """B clips' log-mels, end to end: the rows `starts[i]:starts[i] + lengths[i]` are clip i.

  `frames` may hold more clips than the batch (the whole in-memory pool of
  `task_stream.task_dataset`); only the rows named by `starts`/`lengths` belong
  to it.
  """
  frames: tf.Tensor  # [N, bins] float32
  starts: tf.Tensor  # [B] int32, first row of each clip
  lengths: tf.Tensor  # [B] int32, frames of each clip
  labels: typing.Optional[tf.Tensor] = None  # [B] int64

  @classmethod
  def from_ragged(cls, log_mel: tf.RaggedTensor,
                  labels: typing.Optional[tf.Tensor] = None) -> "ClipBatch":
    """From a ragged batch [B, None, bins] (what `ragged_batch` makes of clip log-mels)."""
    splits = tf.cast(log_mel.row_splits, tf.int32)
    return cls(log_mel.flat_values, splits[:-1], splits[1:] - splits[:-1], labels)

  @property
  def size(self) -> tf.Tensor:
    """B, the number of clips."""
    return tf.shape(self.starts)[0]

  def crop(self, offsets, frames: int) -> tf.Tensor:
    """Crops of `frames` frames at `offsets` into each clip, with a channel axis for the conv.

    offsets: [B] -> [B, frames, bins, 1]; [B, K] (K crops per clip) ->
    [B, K, frames, bins, 1]. The caller keeps each crop inside its clip.
    """
    offsets = tf.convert_to_tensor(offsets, tf.int32)
    first = tf.reshape(self.starts, [-1] + [1] * (offsets.shape.rank - 1)) + offsets
    rows = first[..., None] + tf.range(frames, dtype=tf.int32)
    return tf.gather(self.frames, rows)[..., None]


def split_seed(seed: tf.Tensor, count: int) -> tf.Tensor:
  """[count, 2] independent seeds derived from one seed [2]."""
  return tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), count)


def uniform_int(seed: tf.Tensor, low, high) -> tf.Tensor:
  """Int32 uniforms in [low, high] (inclusive), one per element of `low`/`high` ([B]; a
  scalar bound is broadcast)."""
  low, high = tf.cast(low, tf.int32), tf.cast(high, tf.int32)
  shape = tf.broadcast_dynamic_shape(tf.shape(low), tf.shape(high))
  # float64: u * span stays below span for any clip length, so each value is equally likely.
  u = tf.random.stateless_uniform(shape, seed, dtype=tf.float64)
  span = tf.cast(high - low + 1, tf.float64)
  return low + tf.minimum(tf.cast(tf.floor(u * span), tf.int32), high - low)


def nearby_starts(clips: ClipBatch, anchor_seed: tf.Tensor, positive_seed: tf.Tensor,
                  frames: int, reach) -> typing.Tuple[tf.Tensor, tf.Tensor]:
  """(anchor offsets [B], positive offsets [B]) of two crops of `frames` frames per clip.

  The anchor is placed uniformly in the clip, the positive uniformly within
  `reach` frames of it (and within the clip): the pair of the triplet task
  and of the contrastive task with `contrastive_max_offset_frames`.
  """
  last = clips.lengths - frames
  anchor = uniform_int(anchor_seed, 0, last)
  positive = uniform_int(positive_seed, tf.maximum(0, anchor - reach),
                         tf.minimum(last, anchor + reach))
  return anchor, positive


def random_crop(clips: ClipBatch, seed: tf.Tensor, frames: int) -> tf.Tensor:
  """One uniformly placed crop of `frames` frames per clip [B, frames, bins, 1]."""
  last = clips.lengths - frames
  return clips.crop(uniform_int(seed, 0, last), frames)
