r"""The export acceptance table: every precision x input of one encoder.

  python bench/export_table.py --encoder=RUN_DIR \
      [--probe_task=/data/fsdd/recordings:digit] [--output_dir=DIR] [--precisions=int8,...]

Exports the encoder 8 times with `mobile_ssl.export.exporter.export_encoder` (the code
behind `export_tflite`: default thresholds, validation on the test split of
the run's dataset) and prints a Markdown table: file size, mean/min cosine of
the .tflite embedding to the Keras float encoder, the mean centred cosine
(the embeddings' common mean removed: what a probe sees), and, with
--probe_task, linear-probe test accuracy of each .tflite's embeddings next to
the Keras encoder's. The probe data is embedded by the Keras
encoder and each file through mobile-ssl-eval's probe path
(`mobile_ssl.export.probe_accuracy.compare`). The
check column applies export_tflite's default thresholds, the probe drop
included; a failed row is still shown. Not a test.
"""

import os
import tempfile
import time

from absl import app
from absl import flags
from absl import logging

from mobile_ssl.benchmark import latency
from mobile_ssl.core import model_dir
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import probe
from mobile_ssl.export import export_params as export_params_lib
from mobile_ssl.export import exporter
from mobile_ssl.export import probe_accuracy
from mobile_ssl.export import tflite_embedder as embedder_lib

flags.DEFINE_string("encoder", None, "Run directory (params.json + encoder.keras).")
flags.DEFINE_string("probe_task", "", "Task codes or DATASET:LABEL_KEY, comma-separated: "
                    "probe columns per task.")
flags.DEFINE_string("output_dir", "", "Keep the .tflite files here (default: a temp dir).")
flags.DEFINE_string("representative_data", "", "As export_tflite's flag.")
flags.DEFINE_string("validation_data", "", "As export_tflite's flag.")
flags.DEFINE_integer("num_validation", 100, "Validation windows per export.")
flags.DEFINE_list("precisions", [], "Only these --quantization values (default: all).")
flags.DEFINE_string("data_dir", None, "TFDS data dir.")
FLAGS = flags.FLAGS


def _export_all(folder):
  """Every combination, written whatever its cosines (the check column applies the defaults)."""
  rows = []
  for quantization, kind in export_params_lib.COMBINATIONS:
    if FLAGS.precisions and quantization not in FLAGS.precisions:
      continue
    path = os.path.join(folder, f"encoder_{quantization}_{kind}.tflite")
    start = time.perf_counter()
    report = exporter.export_encoder(FLAGS.encoder, path, export_params_lib.ExportParams(
        quantization=quantization, input_kind=kind,
        representative_data=FLAGS.representative_data,
        validation_data=FLAGS.validation_data, num_validation=FLAGS.num_validation,
        min_mean_cosine=-1.0, min_min_cosine=-1.0, data_dir=FLAGS.data_dir))
    report["seconds"] = time.perf_counter() - start
    v = report["validation"]
    min_mean, min_min = export_params_lib.DEFAULT_THRESHOLDS[quantization]
    report["cosine_ok"] = v["mean_cosine"] >= min_mean and v["min_cosine"] >= min_min
    print(f"{quantization:8s} {kind:9s} {report['size_bytes']:9d} B  "
          f"{'ok' if report['cosine_ok'] else 'FAIL'}  {report['seconds']:.1f} s", flush=True)
    rows.append(report)
  return rows


def _latency(rows):
  """{path: median ms}: every file timed in one interleaved run, 1 thread (XNNPACK)."""
  result = latency.run_request({"models": [{"path": r["path"]} for r in rows],
                                "return_outputs": False, "progress": False})
  return ({m["path"]: m["results"][0]["latency_us"] / 1000 for m in result["models"]},
          result["platform"])


def _probes(rows):
  """[(task name, compare result)]: the Keras encoder first, then every file."""
  encoder, params = model_dir.load_encoder(FLAGS.encoder)
  encoders = {"keras": encoder}
  for row in rows:
    encoders[row["path"]] = embedder_lib.TFLiteEmbedder(row["path"])
  out = []
  for spec in FLAGS.probe_task.split(","):
    task = downstream.load_task(spec, FLAGS.data_dir)
    out.append((task.name, probe_accuracy.compare(encoders, params, task)))
  return out


def _table(rows, probes, times):
  header = ("| precision | input | size (bytes) | latency ms (1 thread) | mean cos | "
            "mean centred cos |")
  rule = "|---|---|---:|---:|---:|---:|"
  for name, _ in probes:
    header += f" {name}: .tflite (Keras) | agreement |"
    rule += "---:|---:|"
  lines = [header + " check |", rule + "---|"]
  for row in rows:
    v = row["validation"]
    line = (f"| {row['quantization']} | {row['input_kind']} | {row['size_bytes']:,} | "
            f"{times[row['path']]:.3f} | {v['mean_cosine']:.6f} | "
            f"{v['mean_centred_cosine']:.4f} |")
    checks = [] if row["cosine_ok"] else ["cosine"]
    for name, result in probes:
      accuracy, keras_accuracy = result["accuracy"][row["path"]], result["accuracy"]["keras"]
      line += (f" {accuracy:.4f} ({keras_accuracy:.4f}) | "
               f"{result['agreement'][row['path']]:.3f} |")
      if (keras_accuracy - accuracy
          > export_params_lib.ExportParams.max_probe_drop + probe.DROP_TOLERANCE):
        checks.append(f"{name} drop {keras_accuracy - accuracy:.3f}")
    lines.append(line + f" {'ok' if not checks else 'FAIL (' + ', '.join(checks) + ')'} |")
  return "\n".join(lines)


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)
  if not FLAGS.encoder:
    raise app.UsageError("--encoder is required (a run directory)")
  unknown = sorted(set(FLAGS.precisions) - set(export_params_lib.QUANTIZATIONS))
  if unknown:
    raise app.UsageError(f"--precisions: unknown {', '.join(unknown)}; valid: "
                         f"{', '.join(export_params_lib.QUANTIZATIONS)}")
  try:
    params = model_dir.read_params(FLAGS.encoder)
    with tempfile.TemporaryDirectory() as tmp:
      folder = FLAGS.output_dir or tmp
      os.makedirs(folder, exist_ok=True)
      rows = _export_all(folder)
      times, machine = _latency(rows)
      probes = _probes(rows) if FLAGS.probe_task else []
  except ValueError as e:  # bad encoder dir, data or task: one line, no traceback
    raise app.UsageError(str(e)) from None
  v = rows[0]["validation"]
  training = ("untrained" if params.task.name == "untrained" else
              f"{params.task.name}, {params.train.steps} steps on {', '.join(params.datasets)}")
  print(f"\nencoder {FLAGS.encoder} (width {params.encoder.width}, embedding "
        f"{params.encoder.embedding_dim}, {training}); cosine to Keras float over "
        f"{v['windows']} windows of {v['dataset']}[{v['split']}]"
        + "".join(f"; probe {name}: {p['train_windows']} train windows, {p['test_clips']} "
                  f"test clips, weight decay {p['l2']}" for name, p in probes)
        + f"; latency on {machine['cpu']}\n")
  print(_table(rows, probes, times))


if __name__ == "__main__":
  app.run(main)
