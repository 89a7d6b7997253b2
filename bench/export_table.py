r"""The export acceptance table: every precision x input of one encoder.

  python bench/export_table.py --encoder=RUN_DIR \
      [--probe_task=/work/shared/data/fsdd/recordings:digit] [--output_dir=DIR]

Exports the encoder 8 times with `export.tflite.export_encoder` (the code
behind `export_tflite`: default thresholds, validation on the test split of
the run's dataset) and prints a Markdown table: file size, mean/min cosine of
the .tflite embedding to the Keras float encoder, the mean centred cosine
(the embeddings' common mean removed: what a probe sees), and, with
--probe_task, linear-probe test accuracy of each .tflite's embeddings next to
the Keras encoder's. The probe data is embedded by the Keras
encoder and each file through mobile-ssl-eval's probe path
(`export.probe_accuracy.compare`). The
check column applies export_tflite's default thresholds, the probe drop
included; a failed row is still shown. Not a test.
"""

import os
import tempfile
import time

from absl import app
from absl import flags
from absl import logging

from export import embedder as embedder_lib
from export import probe_accuracy
from export import tflite
from mobile_ssl import downstream
from mobile_ssl import model_dir

flags.DEFINE_string("encoder", None, "Run directory (params.json + encoder.keras).")
flags.DEFINE_string("probe_task", "", "Task code or DATASET:LABEL_KEY for the probe columns.")
flags.DEFINE_string("output_dir", "", "Keep the .tflite files here (default: a temp dir).")
flags.DEFINE_string("representative_data", "", "As export_tflite's flag.")
flags.DEFINE_string("validation_data", "", "As export_tflite's flag.")
flags.DEFINE_integer("num_validation", 100, "Validation windows per export.")
flags.DEFINE_string("data_dir", None, "TFDS data dir.")
FLAGS = flags.FLAGS


def _export_all(folder):
  rows = []
  for quantization in tflite.QUANTIZATIONS:
    for kind in tflite.INPUT_KINDS:
      path = os.path.join(folder, f"encoder_{quantization}_{kind}.tflite")
      start = time.perf_counter()
      try:
        report = tflite.export_encoder(FLAGS.encoder, path, tflite.ExportParams(
            quantization=quantization, input_kind=kind,
            representative_data=FLAGS.representative_data,
            validation_data=FLAGS.validation_data, num_validation=FLAGS.num_validation,
            data_dir=FLAGS.data_dir))
      except tflite.ValidationError as e:
        report = e.report
      report["seconds"] = time.perf_counter() - start
      print(f"{quantization:8s} {kind:9s} {report.get('size_bytes', 0):9d} B  "
            f"{'ok' if report.get('passed') else 'FAIL'}  {report['seconds']:.1f} s", flush=True)
      rows.append(report)
  return rows


def _probe(rows):
  encoder, params = model_dir.load_encoder(FLAGS.encoder)
  encoders = {"keras": encoder}
  for row in rows:
    if row.get("passed"):
      encoders[row["path"]] = embedder_lib.TFLiteEmbedder(row["path"])
  task = downstream.load_task(FLAGS.probe_task, FLAGS.data_dir)
  return probe_accuracy.compare(encoders, params, task)


def _table(rows, probe):
  header = "| precision | input | size (bytes) | mean cos | min cos | mean centred cos |"
  rule = "|---|---|---:|---:|---:|---:|"
  if probe:
    header += " probe acc. .tflite | probe acc. Keras |"
    rule += "---:|---:|"
  lines = [header + " check |", rule + "---|"]
  for row in rows:
    v = row["validation"]
    line = (f"| {row['quantization']} | {row['input_kind']} | {row.get('size_bytes', 0):,} | "
            f"{v['mean_cosine']:.6f} | {v['min_cosine']:.6f} | {v['mean_centred_cosine']:.4f} |")
    check = "ok" if row.get("passed") else "FAIL (cosine)"
    if probe:
      accuracy = probe["accuracy"].get(row["path"])
      keras_accuracy = probe["accuracy"]["keras"]
      line += (f" {accuracy:.4f} |" if accuracy is not None else " - |")
      line += f" {keras_accuracy:.4f} |"
      if accuracy is not None and keras_accuracy - accuracy > tflite.ExportParams.max_probe_drop:
        check = f"FAIL (probe drop {keras_accuracy - accuracy:.3f})"
    lines.append(line + f" {check} |")
  return "\n".join(lines)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  if not FLAGS.encoder:
    raise app.UsageError("--encoder is required (a run directory)")
  try:
    params = model_dir.read_params(FLAGS.encoder)
    with tempfile.TemporaryDirectory() as tmp:
      folder = FLAGS.output_dir or tmp
      os.makedirs(folder, exist_ok=True)
      rows = _export_all(folder)
      probe = _probe(rows) if FLAGS.probe_task else None
  except ValueError as e:  # bad encoder dir, data or task: one line, no traceback
    raise app.UsageError(str(e)) from None
  v = rows[0]["validation"]
  training = ("untrained" if params.task.name == "untrained" else
              f"{params.task.name}, {params.train.steps} steps on {', '.join(params.datasets)}")
  print(f"\nencoder {FLAGS.encoder} (width {params.encoder.width}, embedding "
        f"{params.encoder.embedding_dim}, {training}); cosine to Keras float over "
        f"{v['windows']} windows of {v['dataset']}[{v['split']}]"
        + (f"; probe {probe['task']}: {probe['train_windows']} train windows, "
           f"{probe['test_clips']} test clips" if probe else "") + "\n")
  print(_table(rows, probe))


if __name__ == "__main__":
  app.run(main)
