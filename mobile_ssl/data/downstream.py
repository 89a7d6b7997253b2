"""A labelled downstream task ready to evaluate: its splits, classes and label budgets.

`load_task` resolves a task spec (a code of `datasets.DOWNSTREAM_TASKS` or
`DATASET:LABEL_KEY`, the dataset possibly an audio folder), checks what would
otherwise fail late or silently (a missing or empty split, an unknown label,
fewer than two classes) and reads each split's clip labels in the order of
`pipeline.clips`, so that clip index i of the pipeline is clip i here.

Labels may be any integers (LibriSpeech speaker ids are neither small nor
contiguous): the classes are the sorted label values of the train split and
`TaskData.index` maps them to 0..C-1; a test label never seen in training maps
to -1, which no classifier predicts, so such clips count as errors.

A `Budget` restricts the training labels for label-efficiency curves: a
stratified, seeded fraction of each class's train clips, or k clips per class.
"""

import dataclasses
import os
import typing

import numpy as np
import tensorflow_datasets as tfds

from mobile_ssl.data import datasets
from mobile_ssl.data import pipeline


@dataclasses.dataclass(frozen=True)
class Budget:
  """How many training labels a classifier may use: a fraction or k shots per class."""
  label_fraction: float = 1.0
  shots_per_class: int = 0

  def validate(self) -> "Budget":
    if not 0 < self.label_fraction <= 1:
      raise ValueError(f"--label_fraction values must be in (0, 1], got {self.label_fraction}")
    if self.shots_per_class < 0:
      raise ValueError(f"--shots_per_class values must be >= 1, got {self.shots_per_class}")
    return self

  @property
  def is_full(self) -> bool:
    return not self.shots_per_class and self.label_fraction == 1.0

  @property
  def label(self) -> str:
    """'' (all labels), '10 shots' or '10% labels'."""
    if self.shots_per_class:
      return f"{self.shots_per_class} shots"
    if self.is_full:
      return ""
    return f"{100 * self.label_fraction:g}% labels"


def budgets(label_fractions: typing.Sequence[float] = (1.0,),
            shots_per_class: typing.Sequence[int] = ()) -> typing.List[Budget]:
  """One budget per fraction and per shot count, in that order."""
  out = [Budget(label_fraction=float(f)).validate() for f in label_fractions]
  out += [Budget(shots_per_class=int(k)).validate() for k in shots_per_class]
  if not out:
    raise ValueError("no label budget: give --label_fraction and/or --shots_per_class")
  return out


@dataclasses.dataclass
class TaskData:
  """A prepared task: builder, splits, and per-clip labels of each split."""
  spec: datasets.DownstreamTask
  builder: tfds.core.DatasetBuilder
  classes: np.ndarray  # sorted label values seen in the train split [C]
  class_names: typing.List[str]  # [C]
  train_labels: np.ndarray  # per train clip, pipeline order [n_train]
  test_labels: np.ndarray  # per test clip [n_test]
  display_name: str = ""  # the name in tables; "" -> `name`'s default

  @property
  def name(self) -> str:
    """The column title: the code, or 'folder:label' for a folder (not its full path)."""
    if self.display_name:
      return self.display_name
    folder = os.path.expanduser(self.spec.dataset)
    if self.spec.code in datasets.DOWNSTREAM_TASKS or not os.path.isdir(folder):
      return self.spec.code
    group = f"@{self.spec.group_key}" if self.spec.group_key else ""
    return f"{os.path.basename(os.path.abspath(folder))}:{self.spec.label_key}{group}"

  @property
  def num_classes(self) -> int:
    return len(self.classes)

  @property
  def unseen_test_clips(self) -> int:
    return int(np.sum(self.index(self.test_labels) < 0))

  def index(self, labels: np.ndarray) -> np.ndarray:
    """Label values -> class indices 0..C-1; -1 for values unseen in training."""
    labels = np.asarray(labels, np.int64)
    position = np.clip(np.searchsorted(self.classes, labels), 0, len(self.classes) - 1)
    return np.where(self.classes[position] == labels, position, -1).astype(np.int64)

  def split_labels(self, split: str) -> np.ndarray:
    return self.train_labels if split == self.spec.train_split else self.test_labels


def clip_labels(builder: tfds.core.DatasetBuilder, split: str, label_key: str,
                audio_key: str = "audio") -> np.ndarray:
  """Labels [clips] of a split, in the order `pipeline.clips` yields the clips.

  The audio is not decoded, so this is a fast pass even over a large split.
  """
  return clip_labels_many(builder, split, [label_key], audio_key)[label_key]


def clip_labels_many(builder: tfds.core.DatasetBuilder, split: str,
                     label_keys: typing.Sequence[str], audio_key: str = "audio"
                     ) -> typing.Dict[str, np.ndarray]:
  """{label key: labels [clips]} of a split, several keys in one pass (`clip_labels`)."""
  return pipeline.label_pass(builder, split, label_keys, audio_key)


def _check_split(builder, split: str, task: str, role: str) -> None:
  try:
    count = datasets.split_size(builder, split, role=role)
  except ValueError as e:
    raise ValueError(f"task {task}: {e}") from None
  if count == 0:
    raise ValueError(f"task {task}: the {role} split {split!r} of {builder.name!r} is empty")


def load_task(spec: str, data_dir: typing.Optional[str] = None, name: str = "") -> TaskData:
  """Resolves, builds if self-contained, and checks a task spec.

  Args:
    spec: a task code or DATASET:LABEL_KEY.
    data_dir: TFDS data dir.
    name: the task's name in tables (default: `TaskData.name`).

  Raises:
    ValueError: unknown or unbuilt dataset, missing/empty split, unknown label
      key, or fewer than two classes in the train split (one line each).
  """
  return load_tasks([spec], data_dir, [name])[0]


def load_tasks(specs: typing.Sequence[str], data_dir: typing.Optional[str] = None,
               names: typing.Sequence[str] = ()) -> typing.List[TaskData]:
  """`load_task` for several specs; tasks on the same split share one label pass.

  Label tasks of one dataset (the quickstart's `event` and `pitch`) read each
  split once for all their labels instead of once per task (0.4-0.7 s for
  the quickstart's 2,400 train clips). `names`: one per spec, or none.
  """
  resolved = []
  for spec in specs:
    task = datasets.downstream_task(spec)
    builder = datasets.builder(task.dataset, data_dir=data_dir, group_key=task.group_key)
    label_names = datasets.label_names(builder, task.label_key)  # Raises for an unknown key.
    for split, role in ((task.train_split, "train"), (task.test_split, "test")):
      _check_split(builder, split, task.code, role)
    resolved.append((task, builder, label_names))
  passes = {}  # (dataset folder, split, audio key) -> (builder, label keys)
  for task, builder, _ in resolved:
    for split in (task.train_split, task.test_split):
      _, keys = passes.setdefault((builder.data_dir, split, task.audio_key), (builder, []))
      keys.append(task.label_key)
  labels = {where: clip_labels_many(builder, where[1], keys, where[2])
            for where, (builder, keys) in passes.items()}
  out = []
  for i, (task, builder, label_names) in enumerate(resolved):
    train, test = (labels[(builder.data_dir, split, task.audio_key)][task.label_key]
                   for split in (task.train_split, task.test_split))
    classes = np.unique(train)
    if len(classes) < 2:
      which = label_names[classes[0]] if label_names and len(classes) == 1 else classes.tolist()
      raise ValueError(f"task {task.code}: the train split {task.train_split!r} has "
                       f"{len(classes)} class ({which}); a classifier needs at least 2")
    class_names = [label_names[c] if label_names and 0 <= c < len(label_names) else str(c)
                   for c in classes]
    out.append(TaskData(task, builder, classes, class_names, train, test,
                        names[i] if names else ""))
  return out


def select_clips(labels: np.ndarray, budget: Budget, seed: int = 0) -> np.ndarray:
  """A boolean mask over clips: the training clips a budget allows.

  Stratified and seeded: per class, round(fraction x its clips) clips (at
  least one), or `shots_per_class` clips (all of them when it has fewer).
  """
  labels = np.asarray(labels)
  keep = np.zeros(len(labels), bool)
  if budget.is_full:
    keep[:] = True
    return keep
  rng = np.random.default_rng(seed)
  for value in np.unique(labels):
    members = np.flatnonzero(labels == value)
    if budget.shots_per_class:
      count = min(budget.shots_per_class, len(members))
    else:
      count = max(1, int(round(budget.label_fraction * len(members))))
    keep[rng.choice(members, size=count, replace=False)] = True
  return keep
