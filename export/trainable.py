"""A .tflite that trains itself on the device: embed, train, train_head, infer_head, save, restore.

`export_tflite --trainable` writes it; federated clients (mobile_ssl/federated/device.py)
run it through the LiteRT interpreter. Signatures (all float32 unless noted):

* `log_mel(waveform [1, 15600]) -> log_mel [1, 96, 64, 1]`: the front end,
  so a device computes its training windows with LiteRT alone (a stream cut
  into 15,360-sample hops gives consecutive 96-frame blocks);
* `embed(log_mel [N, 96, 64, 1]) -> embedding [N, d]` and
  `embed_waveform(waveform [1, 15600]) -> embedding [1, d]` (front end inside);
* `train(anchor, positive [B, 96, 64, 1], learning_rate [1]) -> loss []`: one
  Adam step of the contrastive task (tasks/contrastive.py) on B windows of the
  device's own audio: two views per clip, the other clips of the batch are
  the negatives, so no other user's data is needed. Batch statistics in BN,
  moving stats updated as Keras does. The run's stabilizers are inside:
  global-norm clipping and decoupled weight decay of `params.train` (AdamW);
  the host feeds the schedule's rate (core/schedule.py) and augments the
  views (mobile_ssl/federated/views.py) as the central pipeline does;
* `train_head(log_mel [N, ...], label int32 [N]) -> loss` and
  `infer_head(log_mel) -> scores [N, classes]`: personalization, a softmax
  layer on frozen embeddings trained from a few labelled windows;
* `save() -> encoder, pretext_head, classifier_head` (flat float32 vectors)
  and `restore(encoder, pretext_head, classifier_head) -> count`;
* `save_optimizer() -> optimizer` and `restore_optimizer(optimizer) -> count`:
  the `train` optimizer's step count and moments as one flat vector, so a
  device keeps its Adam state between federated rounds (it never leaves the
  device). Files written before 2026-12-04 lack these two; the runner
  accepts them without.

Why `save`/`restore` move tensors rather than take a file path: the file ops
(tf.raw_ops.Save/Restore) exist only as Flex ops and `ai_edge_litert` links
no Flex delegate, so the .tflite stays builtin-only and the host (the app,
or `TrainableRunner` here) writes the vectors to its checkpoint file
atomically. The optimizer state stays on the device: the host may keep it
in a local file between rounds (`save_optimizer`), and never sends it.
"""

import tempfile
import typing

import keras
import numpy as np
import tensorflow as tf

from mobile_ssl.core import atomic
from mobile_ssl.core import model_dir
from mobile_ssl.core import params as params_lib
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import trainable_graph as graph
from mobile_ssl.export import trainable_runner

SIGNATURES = trainable_runner.SIGNATURES
PARTS = trainable_runner.PARTS
DEFAULT_TRAIN_BATCH = 16
DEFAULT_HEAD_CLASSES = 10
DEFAULT_HEAD_LEARNING_RATE = 0.01


def pretext_weights(task_model: keras.Model) -> typing.List[np.ndarray]:
  """[LayerNorm gamma, beta, bilinear kernel] of a Keras contrastive task model."""
  head = task_model.get_layer("head").get_layer("norm").get_weights()
  return [np.asarray(w, np.float32) for w in head + task_model.get_layer("bilinear").get_weights()]


def initial_pretext_weights(dim: int, seed: int, scale: float = 1.0) -> typing.List[np.ndarray]:
  """Keras's initial contrastive head: LayerNorm (1, 0) and `scale` x a Glorot bilinear matrix.

  `scale` is params.task.contrastive_init_scale (tasks/contrastive.py).
  """
  return [np.ones(dim, np.float32), np.zeros(dim, np.float32),
          (graph.glorot((dim, dim), seed) * np.float32(scale)).astype(np.float32)]


class TrainableModule(tf.Module):
  """The variables and the seven signatures; converted once by `convert_trainable`."""

  def __init__(self, encoder_weights, pretext, params: params_lib.Params, train_batch: int,
               head_classes: int, head_learning_rate: float, seed: int = 0):
    super().__init__(name="trainable")
    self._params = params
    self._train_batch = train_batch
    names = graph.weight_names(params)
    if len(names) != len(encoder_weights):
      raise ValueError(f"{len(encoder_weights)} encoder weights for a layout of {len(names)}")
    self.encoder_vars = [tf.Variable(w, name=f"{n}_{k}")
                         for (n, k), w in zip(names, encoder_weights)]
    self._by_name = {f"{n}:{k}": v for (n, k), v in zip(names, self.encoder_vars)}
    self._trainable = [v for (n, k), v in zip(names, self.encoder_vars) if "moving" not in k]
    self.pretext_vars = [tf.Variable(w, name=f"pretext_{i}") for i, w in enumerate(pretext)]
    dim = params.encoder.output_dim(params.features)
    self.head_vars = [tf.Variable(graph.glorot((dim, head_classes), seed + 1), name="head_kernel"),
                      tf.Variable(np.zeros(head_classes, np.float32), name="head_bias")]
    self.optimizer = graph.Adam(self._trainable + self.pretext_vars, "adam",
                                params.train.weight_decay, params.train.clip_norm)
    self._head_learning_rate = head_learning_rate
    self.head_optimizer = graph.Adam(self.head_vars, "head_adam")
    shape = (params.features.slice_frames, params.features.num_mel_bins, 1)
    batch_spec = tf.TensorSpec((train_batch,) + shape, tf.float32)
    any_spec = tf.TensorSpec((None,) + shape, tf.float32)
    self.embed = tf.function(self._embed, input_signature=[any_spec])
    wave = tf.TensorSpec((1, params.features.slice_samples), tf.float32)
    self.embed_waveform = tf.function(self._embed_waveform, input_signature=[wave])
    self.log_mel = tf.function(self._log_mel, input_signature=[wave])
    # The rate as a [1] vector: a 0-d input crashed aarch64 LiteRT's `train` (qemu, segfault;
    # x86 ran it), a [1] one runs on both (tests/trainable_test.py, slow tier).
    self.train = tf.function(self._train, input_signature=[
        batch_spec, batch_spec, tf.TensorSpec((1,), tf.float32)])
    self.train_head = tf.function(self._train_head, input_signature=[
        any_spec, tf.TensorSpec((None,), tf.int32)])
    self.infer_head = tf.function(self._infer_head, input_signature=[any_spec])
    self.save = tf.function(self._save, input_signature=[])
    self.save_optimizer = tf.function(self._save_optimizer, input_signature=[])
    self.restore_optimizer = tf.function(self._restore_optimizer, input_signature=[
        tf.TensorSpec((_size(self._optimizer_vars()),), tf.float32)])
    self.restore = tf.function(self._restore, input_signature=[
        tf.TensorSpec((_size(vs),), tf.float32) for vs in self._parts()])

  def _parts(self):
    return self.encoder_vars, self.pretext_vars, self.head_vars

  def _embed(self, log_mel):
    return {"embedding": graph.encoder_forward(self.encoder_vars, log_mel, self._params, False)[0]}

  def _log_mel(self, waveform):
    # The inference model's front end (export/inference_model.py).
    return {"log_mel": inference_model_lib.exported_log_mel(waveform, self._params.features)}

  def _embed_waveform(self, waveform):
    return self._embed(self._log_mel(waveform)["log_mel"])

  def _train(self, anchor, positive, learning_rate):
    variables = self._trainable + self.pretext_vars
    with tf.GradientTape() as tape:
      a, stats_a = graph.encoder_forward(self.encoder_vars, anchor, self._params, True)
      p, stats_p = graph.encoder_forward(self.encoder_vars, positive, self._params, True)
      loss = graph.contrastive_loss(a, p, self.pretext_vars,
                                    self._params.task.contrastive_temperature, self._train_batch,
                                    self._params.task.contrastive_similarity)
    self.optimizer.apply(variables, tape.gradient(loss, variables), tf.reshape(learning_rate, []))
    graph.update_moving_stats(self._by_name, stats_a + stats_p)
    return {"loss": loss}

  def _head_logits(self, embedding):
    return tf.matmul(embedding, self.head_vars[0]) + self.head_vars[1]

  def _train_head(self, log_mel, label):
    # The gradient by hand: a tape over a dynamic batch leaves
    # BroadcastGradientArgs in the graph, a Flex-only op. For softmax
    # cross-entropy, d loss / d logits = (softmax - one_hot) / N.
    embedding = self._embed(log_mel)["embedding"]
    logits = self._head_logits(embedding)
    one_hot = tf.one_hot(label, logits.shape[-1])
    loss = graph.softmax_cross_entropy(logits, one_hot)
    count = tf.cast(tf.shape(logits)[0], tf.float32)
    d_logits = (tf.nn.softmax(logits) - one_hot) / count
    gradients = [tf.matmul(embedding, d_logits, transpose_a=True), tf.reduce_sum(d_logits, 0)]
    self.head_optimizer.apply(self.head_vars, gradients, self._head_learning_rate)
    return {"loss": loss}

  def _infer_head(self, log_mel):
    return {"scores": tf.nn.softmax(self._head_logits(self._embed(log_mel)["embedding"]))}

  def _save(self):
    return {name: _flatten(vs) for name, vs in zip(PARTS, self._parts())}

  def _restore(self, encoder, pretext_head, classifier_head):
    count = sum(_assign_flat(flat, vs)
                for flat, vs in zip((encoder, pretext_head, classifier_head), self._parts()))
    return {"count": tf.constant(count, tf.int32)}

  def _optimizer_vars(self):
    return [self.optimizer.step] + [s for pair in self.optimizer.slots for s in pair]

  def _save_optimizer(self):
    return {"optimizer": _flatten(self._optimizer_vars())}

  def _restore_optimizer(self, optimizer):
    return {"count": tf.constant(_assign_flat(optimizer, self._optimizer_vars()), tf.int32)}


def _size(variables) -> int:
  return sum(int(np.prod(v.shape)) for v in variables)


def _flatten(variables):
  """Variables -> one flat vector (what `save` and `save_optimizer` hand the host)."""
  return tf.concat([tf.reshape(v, [-1]) for v in variables], 0)


def _assign_flat(flat, variables) -> int:
  """The inverse of `_flatten`: assigns consecutive pieces of `flat`; returns the values used."""
  offset = 0
  for v in variables:
    size = int(np.prod(v.shape))
    v.assign(tf.reshape(tf.slice(flat, [offset], [size]), v.shape))
    offset += size
  return offset


def convert_trainable(module: TrainableModule) -> bytes:
  """SavedModel with all signatures -> a builtin-only .tflite with resource variables."""
  with tempfile.TemporaryDirectory() as folder:
    names = SIGNATURES + trainable_runner.OPTIONAL_SIGNATURES
    tf.saved_model.save(module, folder, signatures={n: getattr(module, n) for n in names})
    converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=list(names))
    converter.experimental_enable_resource_variables = True
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


def build_trainable(encoder: keras.Model, params: params_lib.Params, pretext=None,
                    train_batch: int = DEFAULT_TRAIN_BATCH,
                    head_classes: int = DEFAULT_HEAD_CLASSES,
                    head_learning_rate: float = DEFAULT_HEAD_LEARNING_RATE) -> bytes:
  """The trainable .tflite for a Keras encoder (and optionally a trained contrastive head)."""
  if params.encoder.variant not in ("paper", "fast"):
    raise ValueError(f"--trainable supports encoder variants paper and fast, not "
                     f"{params.encoder.variant!r}")
  if train_batch < 2:
    raise ValueError(f"--train_batch must be >= 2 (the contrastive task needs negatives), "
                     f"got {train_batch}")
  dim = params.encoder.output_dim(params.features)
  pretext = pretext if pretext is not None else initial_pretext_weights(
      dim, params.train.seed, params.task.contrastive_init_scale)
  module = TrainableModule(graph.keras_encoder_weights(encoder, params), pretext, params,
                           train_batch, head_classes, head_learning_rate, params.train.seed)
  return convert_trainable(module)


def export_trainable(encoder_dir: str, output: str, train_batch: int = DEFAULT_TRAIN_BATCH,
                     head_classes: int = DEFAULT_HEAD_CLASSES) -> dict:
  """`export_tflite --trainable`: a run's encoder -> a checked trainable .tflite at `output`.

  The file is written beside `output`, run in LiteRT (embeddings against the
  Keras encoder, then one training step that must give a finite loss and
  move the weights) and only then moved into place. Returns a JSON-able report.
  """
  if not output.endswith(".tflite"):
    raise ValueError(f"--output={output!r} must name a .tflite file")
  encoder, params = model_dir.load_encoder(encoder_dir)
  data = build_trainable(encoder, params, train_batch=train_batch, head_classes=head_classes)
  shape = (params.features.slice_frames, params.features.num_mel_bins, 1)
  windows = np.random.default_rng(0).normal(-4.0, 2.0, (2 * train_batch,) + shape)
  windows = windows.astype(np.float32)
  with atomic.replacing(output, suffix=".tflite") as tmp:
    atomic.write_bytes(tmp, data)
    runner = trainable_runner.TrainableRunner(tmp)
    error = float(np.abs(runner.embed(windows) - encoder(windows, training=False).numpy()).max())
    if not error < 1e-3:
      raise ValueError(f"{output}: trainable file embeds unlike Keras (max abs error {error}); "
                       "weights lost in conversion")
    before = runner.get_weights()["encoder"]
    loss = runner.train(windows[:train_batch], windows[train_batch:],
                        params.train.learning_rate)
    if not np.isfinite(loss) or np.array_equal(before, runner.get_weights()["encoder"]):
      raise ValueError(f"{output}: one training step gave loss {loss} and did not move the weights")
  return {"path": output, "size_bytes": len(data), "signatures": list(SIGNATURES),
          "train_batch": train_batch, "head_classes": head_classes,
          "embedding_max_abs_error": error, "first_train_loss": loss,
          "encoder_values": int(before.size), "task": "contrastive"}


def flat_encoder(encoder: keras.Model, params: params_lib.Params) -> np.ndarray:
  """The Keras encoder's weights as the file's flat `encoder` vector."""
  return np.concatenate([w.reshape(-1) for w in graph.keras_encoder_weights(encoder, params)])


def set_flat_encoder(encoder: keras.Model, params: params_lib.Params, flat: np.ndarray) -> None:
  """Loads a flat `encoder` vector (from `save` or a federated round) into a Keras encoder."""
  arrays, offset = [], 0
  for w in graph.keras_encoder_weights(encoder, params):
    arrays.append(np.reshape(flat[offset:offset + w.size], w.shape))
    offset += w.size
  if offset != np.size(flat):
    raise ValueError(f"encoder vector of {np.size(flat)} values; the params' encoder has {offset}")
  graph.set_keras_encoder_weights(encoder, params, arrays)
