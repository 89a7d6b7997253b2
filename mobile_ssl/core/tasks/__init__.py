"""The task registry: a plain dict from task name to its four functions.

Every task module exposes `min_frames(params)`, `make_examples(clips, params,
seed)` (a pure tf function mapped by mobile_ssl/data/pipeline.py over batches of
clips, `sampling.ClipBatch`, returning batched (inputs, targets)),
`build_model(encoder, params)` (a Keras model wrapping the shared encoder) and
`loss(targets, outputs, params)` (per-example loss [B]);
mobile_ssl/training/trainer.py runs the same loop for all of them. A task may add
`after_update(model, params)`, run after every optimizer step (BYOL-A).
"""

import dataclasses
import typing

from mobile_ssl.core.tasks import audio2vec
from mobile_ssl.core.tasks import byol_a
from mobile_ssl.core.tasks import contrastive
from mobile_ssl.core.tasks import supervised
from mobile_ssl.core.tasks import temporal_gap
from mobile_ssl.core.tasks import triplet


@dataclasses.dataclass(frozen=True)
class Task:
  name: str
  min_frames: typing.Callable
  make_examples: typing.Callable
  build_model: typing.Callable
  loss: typing.Callable
  needs_labels: bool = False
  # (model, params) -> None after each optimizer step (BYOL-A's EMA target).
  after_update: typing.Optional[typing.Callable] = None


TASKS = {t.name: t for t in (
    Task("audio2vec_cbow", audio2vec.min_frames, audio2vec.make_cbow_examples,
         audio2vec.build_cbow_model, audio2vec.cbow_loss),
    Task("audio2vec_skipgram", audio2vec.min_frames, audio2vec.make_skipgram_examples,
         audio2vec.build_skipgram_model, audio2vec.skipgram_loss),
    Task("temporal_gap", temporal_gap.min_frames, temporal_gap.make_examples,
         temporal_gap.build_model, temporal_gap.loss),
    Task("triplet", triplet.min_frames, triplet.make_examples, triplet.build_model, triplet.loss),
    Task("contrastive", contrastive.min_frames, contrastive.make_examples,
         contrastive.build_model, contrastive.loss),
    Task("byol_a", byol_a.min_frames, byol_a.make_examples, byol_a.build_model, byol_a.loss,
         after_update=byol_a.after_update),
    Task("supervised", supervised.min_frames, supervised.make_examples,
         supervised.build_model, supervised.loss, needs_labels=True),
)}
PRETEXT = ("audio2vec_cbow", "audio2vec_skipgram", "temporal_gap", "triplet", "contrastive",
           "byol_a")
# 'untrained' has no loss: the training CLI saves the random initialization.
ALL = tuple(TASKS) + ("untrained",)


def get(name: str) -> Task:
  if name not in TASKS:
    raise ValueError(f"unknown task {name!r}; valid: {', '.join(ALL)}")
  return TASKS[name]
