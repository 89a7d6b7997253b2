"""Downstream accuracy of a .tflite log-mel encoder: the model that ships, not its Keras source.

Every 975 ms window of a task's train and test splits goes through the
LiteRT interpreter (batch 1, as on a phone), and the project's linear probe
(`mobile_ssl.evaluation.linear`: softmax on frozen embeddings, clip
prediction = mean of window probabilities, 95 % bootstrap interval) is fitted
on the train windows. So the accuracy in a width sweep belongs to the same
int8 file as the latency beside it.
"""

import sys
import typing

import numpy as np
import tqdm

from export import latency
from mobile_ssl import data
from mobile_ssl import downstream
from mobile_ssl import evaluation
from mobile_ssl import params as params_lib


def embed_split(path: str, task: downstream.TaskData, split: str,
                feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
                hop_seconds: float = 0.5) -> dict:
  """{'embeddings' [n, d] float32, 'labels' [n], 'clips' [n]} of every window of a split."""
  it = latency.interpreter(path, threads=1)
  it.allocate_tensors()
  detail = it.get_input_details()[0]
  if list(detail["shape"][1:]) != [feature_params.slice_frames, feature_params.num_mel_bins, 1]:
    raise ValueError(f"{path}: accuracy needs a log-mel input model [1, "
                     f"{feature_params.slice_frames}, {feature_params.num_mel_bins}, 1], this "
                     f"one takes {list(detail['shape'])}")
  spec = task.spec
  ds = data.slice_dataset(task.builder, split, batch_size=256, feature_params=feature_params,
                          hop_seconds=hop_seconds, label_key=spec.label_key,
                          audio_key=spec.audio_key)
  parts = {"embeddings": [], "labels": [], "clips": []}
  bar = tqdm.tqdm(total=len(task.split_labels(split)), desc=f"embed {split}", unit="clip",
                  file=sys.stderr, leave=False, disable=not sys.stderr.isatty())
  for batch in ds.as_numpy_iterator():
    for log_mel in batch["log_mel"]:
      it.set_tensor(detail["index"], latency.prepare_input(detail, log_mel[..., None]))
      it.invoke()
      parts["embeddings"].append(latency.output_values(it).ravel())
    parts["labels"].append(batch["label"])
    parts["clips"].append(batch["clip"])
    bar.update(int(batch["clip"][-1]) + 1 - bar.n)
  bar.close()
  return {"embeddings": np.stack(parts["embeddings"]).astype(np.float32),
          "labels": np.concatenate(parts["labels"]), "clips": np.concatenate(parts["clips"])}


def accuracy(path: str, task_spec: str, data_dir: typing.Optional[str] = None,
             hop_seconds: float = 0.5, seed: int = 0,
             task: typing.Optional[downstream.TaskData] = None) -> dict:
  """Linear-probe accuracy of the .tflite encoder at `path` on a task (code or DATASET:LABEL).

  Returns:
    {'task', 'accuracy', 'ci_low', 'ci_high', 'clips', 'train_clips'}.
  """
  task = task or downstream.load_task(task_spec, data_dir)
  train = embed_split(path, task, task.spec.train_split, hop_seconds=hop_seconds)
  test = embed_split(path, task, task.spec.test_split, hop_seconds=hop_seconds)
  result = evaluation.linear(train, test, task, downstream.Budget(), seed=seed)
  return dict(result, task=task.name)
