r"""Read-out scan: probe a trained encoder's blocks K..last, pooled like `multi_mean_std`.

  python bench/readout_scan.py --encoders=runs/triplet,untrained --first_blocks=3,1 \
      --tasks=$F:digit,$F:speaker,$F:digit@speaker --task_names=digit,speaker,unseen

No retraining: the same weights, read out as mean and standard deviation over
time (frequency rows kept, `encoder.TimeMeanStd`) of every block from K to the
last, concatenated. Tells whether what a probe needs is in the encoder's
earlier blocks before a run is spent training with `--pool_blocks`.
'untrained' is the seeded random init of the first run's architecture. Each
read-out is probed by `suite.linear` with all labels and with
`--shots_per_class`, as mobile-ssl-eval does; the windows go through the
Keras model as it is (no BatchNorm folding), so rows can differ from
mobile-ssl-eval's by a clip or two. Not a test.
"""

from absl import app
from absl import flags
from absl import logging
import keras
import numpy as np

from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import suite
from mobile_ssl.evaluation import window_embeddings

flags.DEFINE_list("encoders", None, "Run directories, or 'untrained'.", required=True)
flags.DEFINE_list("first_blocks", ["3", "1"], "Read-outs: pool blocks K..last for each K.")
flags.DEFINE_list("tasks", None, "Task specs (DATASET:LABEL, as mobile-ssl-eval's).",
                  required=True)
flags.DEFINE_list("task_names", [], "Column names for --tasks.")
flags.DEFINE_integer("shots_per_class", 10, "The few-label budget beside all labels.",
                     lower_bound=1)
flags.DEFINE_string("data_dir", None, "TFDS data dir.")
FLAGS = flags.FLAGS


def _readout(encoder: keras.Model, first: int):
  """(the read-out model, the names of the blocks it pools)."""
  last = {}  # block name -> its last layer's output, in order
  for layer in encoder.layers:
    if layer.name.startswith("block"):
      last[layer.name.split("_")[0]] = layer.output
  blocks = list(last)[first - 1:]
  if not blocks:
    raise ValueError(f"--first_blocks={first}: the encoder has {len(last)} blocks")
  stats = [encoder_lib.TimeMeanStd(name=f"readout_{b}")(last[b]) for b in blocks]
  out = keras.layers.Concatenate()(stats) if len(stats) > 1 else stats[0]
  return keras.Model(encoder.input, out, name=f"blocks_{first}_on"), blocks


def _windows(model, params, task, split):
  embeddings, clips = [], []
  for batch in window_embeddings.log_mel_windows(task, split, params.features,
                                                 0.5).as_numpy_iterator():
    embeddings.append(model(batch["log_mel"][..., None], training=False).numpy())
    clips.append(batch["clip"])
  return window_embeddings.with_labels({"embeddings": np.concatenate(embeddings),
                                        "clips": np.concatenate(clips).astype(np.int64)},
                                       task, split)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  names = FLAGS.task_names or FLAGS.tasks
  if len(names) != len(FLAGS.tasks):
    raise app.UsageError("--task_names needs one name per --tasks entry")
  tasks = [downstream.load_task(spec, FLAGS.data_dir, name=name)
           for spec, name in zip(FLAGS.tasks, names)]
  runs = [e for e in FLAGS.encoders if e != "untrained"]
  budgets = [downstream.Budget(), downstream.Budget(shots_per_class=FLAGS.shots_per_class)]
  header = [f"{n}{suffix}" for n in names for suffix in ("", f", {FLAGS.shots_per_class} shots")]
  print("| encoder | blocks | values | " + " | ".join(header) + " |")
  print("|---|---|---:|" + "---|" * len(header))
  for spec in FLAGS.encoders:
    method = suite.methods([spec] if spec != "untrained" else runs[:1] + [spec])[-1]
    encoder, params = method.encoder(0), method.params
    for first in (int(k) for k in FLAGS.first_blocks):
      model, blocks = _readout(encoder, first)
      cells = []
      for task in tasks:
        train, test = (_windows(model, params, task, split)
                       for split in (task.spec.train_split, task.spec.test_split))
        for budget in budgets:
          cells.append(f"{100 * suite.linear(train, test, task, budget)['accuracy']:.1f}")
      print(f"| {method.name} | {blocks[0]}–{blocks[-1]} | {model.output_shape[-1]} | "
            + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
  app.run(main)
