"""A classifier to ship: the encoder plus the linear probe of mobile-ssl-eval as one softmax layer.

`export_tflite --classifier_task=DATASET:LABEL` trains the head on the spot
exactly as `mobile-ssl-eval --mode=linear` trains its probe (same code, same
defaults: every 975 ms window of the task's train split at hop 0.5 s, embedded
by `window_embeddings.embed_split`, then `linear_eval.fit_probe` with all labels:
L-BFGS softmax regression on standardized features, L2 decay picked on
held-out clips, seed 0), so the exported file predicts what the evaluation
table reports.

The probe standardizes its inputs, z = (x - mean) / scale; that is folded into
one dense layer: z @ W + b = x @ (W / scale) + (b - (mean / scale) @ W), so the
graph is the encoder, one FULLY_CONNECTED and one SOFTMAX, output `scores`
[1, classes]. The class names go into the file as a label map
(export/metadata.py), which is what MediaPipe's AudioClassifier reads.

A clip-level prediction of the evaluation averages the window probabilities
of a clip; the file scores one 975 ms window per invoke, and so does
MediaPipe (a result per window); averaging over a clip is the caller's.
"""

import dataclasses
import typing

import keras
import numpy as np

from mobile_ssl.core import embedding
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import linear_eval
from mobile_ssl.evaluation import probe
from mobile_ssl.evaluation import window_embeddings

HEAD_NAME = "classifier_head"


@dataclasses.dataclass
class Head:
  """A trained probe and what it was trained on."""
  model: probe.LinearModel
  task: downstream.TaskData
  train_windows: int
  train_clips: int

  @property
  def labels(self) -> typing.List[str]:
    return list(self.task.class_names)

  def describe(self) -> dict:
    """The 'classifier' entry of the file's metadata and the export report."""
    return {"task": self.task.spec.code, "label_key": self.task.spec.label_key,
            "labels": self.labels, "num_classes": self.task.num_classes,
            "train_split": self.task.spec.train_split, "train_clips": self.train_clips,
            "train_windows": self.train_windows,
            "hop_seconds": eval_params_lib.EvalParams().hop_seconds}


def train_head(encoder: keras.Model, params, task: downstream.TaskData,
               eval_params: eval_params_lib.EvalParams = eval_params_lib.EvalParams(),
               progress: bool = False) -> Head:
  """Fits the probe of `linear_eval.linear` (all train labels) on the encoder's train windows."""
  train = window_embeddings.embed_split(
      encoder, params.features, task, task.spec.train_split, eval_params.hop_seconds,
      desc=f"classifier {task.name} train" if progress else "embed")
  model, _ = linear_eval.fit_probe(train, task, seed=eval_params.seed,
                             max_iterations=eval_params.probe_iterations)
  return Head(model, task, int(len(train["clips"])), int(len(np.unique(train["clips"]))))


def folded_weights(model: probe.LinearModel) -> typing.Tuple[np.ndarray, np.ndarray]:
  """(kernel [d, C], bias [C]) float32 with the standardization folded in."""
  kernel = model.weights / model.scale[:, None]
  bias = model.bias - (model.mean / model.scale) @ model.weights
  return kernel.astype(np.float32), bias.astype(np.float32)


def dense_head(model: probe.LinearModel) -> keras.layers.Dense:
  """The probe as one built softmax Dense layer named HEAD_NAME."""
  kernel, bias = folded_weights(model)
  layer = keras.layers.Dense(kernel.shape[1], activation="softmax", name=HEAD_NAME)
  layer.build((None, kernel.shape[0]))
  layer.set_weights([kernel, bias])
  return layer


class KerasClassifier(embedding.Embedder):
  """The reference: Keras encoder (the run's float64 front end) + the probe in numpy.

  `embed_windows` returns class probabilities [n, C], exactly what
  mobile-ssl-eval's probe gives each window. A waveform window runner
  (`input_kind`, `run`), so `window_embeddings.embed_split` scores with it.
  """

  input_kind = "waveform"

  def __init__(self, encoder: keras.Model, params, model: probe.LinearModel):
    self._keras = embedding.KerasEmbedder(encoder=encoder, params=params)
    self._model = model
    super().__init__(params.features, model.weights.shape[1])

  def embed_windows(self, windows: np.ndarray) -> np.ndarray:
    x = self._keras.embed_windows(windows).astype(np.float64)
    return self._model.probabilities(x).astype(np.float32)

  def run(self, windows: np.ndarray) -> np.ndarray:
    return self.embed_windows(windows)


def check_accuracy(head: Head, keras: KerasClassifier, lite: embedding.Embedder, params,
                   out: dict, max_drop: float, progress: bool = False) -> typing.List[str]:
  """Clip accuracy of the file and of the Keras probe on the task's whole test split.

  Both score every window at the evaluation's hop (0.5 s) and average a
  clip's window probabilities (`probe.score`), as mobile-ssl-eval does.
  Adds the figures to `out`; returns the failures (a drop above `max_drop`).
  """
  del progress  # embed_split shows its bar on a terminal.
  task = head.task
  hop_seconds = eval_params_lib.EvalParams().hop_seconds
  outputs = {name: window_embeddings.embed_split(runner, params.features, task,
                                                 task.spec.test_split, hop_seconds,
                                                 desc=f"classifier {name}")
             for name, runner in (("keras", keras), ("tflite", lite))}
  y, clips = task.index(outputs["keras"]["labels"]), outputs["keras"]["clips"]
  outputs = {name: out["embeddings"] for name, out in outputs.items()}
  keras_accuracy = probe.score(outputs["keras"], y, clips)["accuracy"]
  tflite_accuracy = probe.score(outputs["tflite"], y, clips)["accuracy"]
  agreement = float(np.mean(outputs["keras"].argmax(1) == outputs["tflite"].argmax(1)))
  drop = keras_accuracy - tflite_accuracy
  out.update({"keras_accuracy": keras_accuracy, "tflite_accuracy": tflite_accuracy,
              "drop": drop, "max_drop": max_drop, "test_clips": int(len(np.unique(clips))),
              "test_windows": int(len(clips)), "window_top1_agreement": agreement})
  if not drop <= max_drop + probe.DROP_TOLERANCE:
    return [f"classifier accuracy {tflite_accuracy:.4f} vs Keras probe {keras_accuracy:.4f} "
            f"(drop {drop:.4f} > {max_drop})"]
  return []
