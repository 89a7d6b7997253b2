"""Fine-tuning evaluation: an encoder and a linear head trained end to end on a task.

The 'finetune' mode of mobile-ssl-eval, and the 'supervised' baseline in
either mode: the encoder (a copy) and a linear head (`tasks.supervised`'s
model) are trained on the train windows a label budget allows for a fixed
budget of steps, batch size and learning rate (`EvalParams`), with the
project's one loop (`trainer.fit`); a test clip's prediction averages its
windows' class probabilities (`probe.score`), as in the linear mode.
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from mobile_ssl.core import params as params_lib
from mobile_ssl.core.tasks import supervised
from mobile_ssl.data import downstream
from mobile_ssl.data import pipeline
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import probe
from mobile_ssl.training import trainer

# Stored (int16) audio of the clips a fine-tuning budget allows, up to which
# their log-mels (about as large, more for clips padded to 975 ms) stay in memory.
MEMORY_CACHE_BYTES = 512 << 20


def _train_stream(task: downstream.TaskData, params: params_lib.Params, allowed: np.ndarray,
                  eval_params: eval_params_lib.EvalParams) -> tf.data.Dataset:
  """Endless shuffled batches ({'log_mel': [B, 96, 64, 1]}, class index [B]) of allowed clips."""
  spec, fp, seed = task.spec, params.features, eval_params.seed
  table = tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
      tf.constant(task.classes, tf.int64), tf.range(task.num_classes, dtype=tf.int64)), -1)
  allowed_mask = tf.constant(allowed)

  def is_allowed(index, clip):
    del clip
    return tf.gather(allowed_mask, index)

  def drop_index(index, clip):
    del index
    return clip

  def example(window):
    return {"log_mel": tf.expand_dims(window["log_mel"], -1)}, table.lookup(window["label"])

  ds = pipeline.clips(task.builder, spec.train_split, label_key=spec.label_key,
                  audio_key=spec.audio_key, feature_params=fp)
  ds = pipeline.log_mels(ds.enumerate().filter(is_allowed).map(drop_index), fp)
  # Keep the allowed clips' log-mels in memory when they fit: with 10 shots
  # per class, every epoch would otherwise read and filter the whole split.
  stored = task.builder.info.splits[spec.train_split].num_bytes * float(np.mean(allowed))
  if 0 < stored <= MEMORY_CACHE_BYTES:
    ds = ds.cache()
  ds = ds.repeat().shuffle(min(1000, int(np.sum(allowed))), seed=seed)
  ds = pipeline.slices(ds, fp, eval_params.hop_seconds)
  ds = ds.shuffle(eval_params.shuffle_buffer, seed=seed)
  ds = ds.map(example, num_parallel_calls=pipeline.AUTOTUNE)
  return ds.batch(eval_params.batch_size, drop_remainder=True).prefetch(pipeline.AUTOTUNE)


def finetune(encoder: keras.Model, params: params_lib.Params, task: downstream.TaskData,
             budget: downstream.Budget, eval_params: eval_params_lib.EvalParams,
             progress: bool = True) -> dict:
  """Trains encoder + linear head end to end, then scores its clip predictions."""
  allowed = downstream.select_clips(task.train_labels, budget, eval_params.seed)
  run_params = dataclasses.replace(
      params,
      task=dataclasses.replace(params.task, name="supervised", label_key=task.spec.label_key,
                               num_classes=task.num_classes),
      train=dataclasses.replace(params.train, steps=eval_params.finetune_steps,
                                batch_size=eval_params.batch_size,
                                learning_rate=eval_params.learning_rate, seed=eval_params.seed,
                                log_every_steps=max(1, eval_params.finetune_steps // 10)))
  keras.utils.set_random_seed(eval_params.seed)  # The head's initialization.
  model = supervised.build_model(encoder, run_params)
  trainer.fit(model, lambda t, o: supervised.loss(t, o, run_params),
              _train_stream(task, run_params, allowed, eval_params), run_params,
              progress=progress)
  ds = pipeline.slice_dataset(task.builder, task.spec.test_split, batch_size=eval_params.batch_size,
                          feature_params=params.features, hop_seconds=eval_params.hop_seconds,
                          label_key=task.spec.label_key, audio_key=task.spec.audio_key)
  fp = params.features
  predict = tf.function(
      lambda x: tf.nn.softmax(model({"log_mel": tf.expand_dims(x, -1)}, training=False)),
      input_signature=[tf.TensorSpec([None, fp.slice_frames, fp.num_mel_bins], tf.float32)])
  probabilities, labels, clips = [], [], []
  for batch in ds:
    probabilities.append(predict(batch["log_mel"]).numpy())
    labels.append(batch["label"].numpy())
    clips.append(batch["clip"].numpy())
  result = probe.score(np.concatenate(probabilities), task.index(np.concatenate(labels)),
                       np.concatenate(clips), eval_params.seed)
  return result | {"train_clips": int(allowed.sum())}
