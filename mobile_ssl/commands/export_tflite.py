"""export_tflite: a run's encoder -> a validated .tflite with metadata.

  export_tflite --encoder=DIR --output=PATH --quantization=float32|float16|dynamic|int8|int16x8
      --input=waveform|log_mel [--representative_data=DATASET_OR_FOLDER]
      [--num_representative=N] [--validation_data=...] [--probe_task=TASK]
      [--classifier_task=DATASET:LABEL] [--debug_quantization] [--trainable]

What the file holds and how it is checked: export/exporter.py (mobile_ssl.export.exporter).
"""

import json
import sys

from absl import flags

from mobile_ssl.commands import cli
from mobile_ssl.core import atomic
from mobile_ssl.export import convert
from mobile_ssl.export import exporter
from mobile_ssl.export import trainable

PROG = "export_tflite"


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py)."""
  where = cli.where(fv)
  flags.DEFINE_string("encoder", None, "Run directory with params.json and encoder.keras.",
                      **where)
  flags.DEFINE_string("output", None, "The .tflite to write (atomically).", **where)
  flags.DEFINE_enum("quantization", "float32", exporter.QUANTIZATIONS, "Precision.", **where)
  flags.DEFINE_enum("input", "waveform", exporter.INPUT_KINDS,
                    "waveform: [1, 15600] audio with the log-mel front end in the graph; "
                    "log_mel: [1, 96, 64, 1] (fully integer with int8).", **where)
  flags.DEFINE_string("representative_data", "",
                      "int8/int16x8 calibration audio: TFDS name[@split] or audio folder, or "
                      "several comma-separated (equal shares; default: the run's first "
                      "dataset, train split).", **where)
  flags.DEFINE_integer("num_representative", convert.DEFAULT_CALIBRATION_WINDOWS, "Calibration windows.", **where)
  flags.DEFINE_string("validation_data", "", "Held-out audio (default: the test split of "
                      "the representative data).", **where)
  flags.DEFINE_integer("num_validation", 100, "Validation windows.", **where)
  flags.DEFINE_string("probe_task", "", "Also compare linear-probe accuracy: a task code or "
                      "DATASET:LABEL_KEY, e.g. /data/fsdd/recordings:digit.", **where)
  flags.DEFINE_string("classifier_task", "", "Export a classifier instead: the encoder plus a "
                      "linear head trained here as mobile-ssl-eval trains its probe, softmax "
                      "output 'scores' and a label map (MediaPipe AudioClassifier); a task "
                      "code or DATASET:LABEL_KEY, e.g. /data/fsdd/recordings:digit.", **where)
  flags.DEFINE_float("min_mean_cosine", None, "Default per precision: " + ", ".join(
      f"{q} {t[0]}" for q, t in exporter.DEFAULT_THRESHOLDS.items()), **where)
  flags.DEFINE_float("min_min_cosine", None, "Default per precision: " + ", ".join(
      f"{q} {t[1]}" for q, t in exporter.DEFAULT_THRESHOLDS.items()), **where)
  flags.DEFINE_float("max_probe_drop", exporter.ExportParams.max_probe_drop,
                     "Largest allowed drop of the linear-probe clip accuracy (fraction; 0.01 = "
                     "1 point) on --probe_task and on --classifier_task.", **where)
  flags.DEFINE_bool("debug_quantization", False, "int8: print the error each layer adds "
                    "(RMSE / scale, share of the embedding's error) and write it as "
                    "OUTPUT.quantization.csv and .md beside --output (docs/export.md).", **where)
  flags.DEFINE_bool("trainable", False, "Write a trainable .tflite instead (export/trainable.py): "
                    "signatures embed, embed_waveform, train, train_head, infer_head, save, "
                    "restore; float32, checked in LiteRT against Keras.", **where)
  flags.DEFINE_integer("train_batch", trainable.DEFAULT_TRAIN_BATCH,
                       "--trainable: windows per on-device training step.", **where)
  flags.DEFINE_integer("head_classes", trainable.DEFAULT_HEAD_CLASSES,
                       "--trainable: classes of the on-device personalization head.", **where)
  flags.DEFINE_string("data_dir", None, "TFDS data dir.", **where)
  flags.DEFINE_string("report", "", "Also write the JSON report here.", **where)


def main(argv, fv: flags.FlagValues) -> int:
  """Runs the export for parsed flags; returns the exit code (cli.py's rule)."""
  cli.check_no_arguments(PROG, argv)
  try:
    if not fv.encoder:
      raise ValueError("--encoder is required (a run directory)")
    if fv.trainable:  # its own file kind and check (export/trainable.py)
      report = trainable.export_trainable(fv.encoder, fv.output or "", fv.train_batch,
                                          fv.head_classes)
      print(json.dumps(report, indent=2, sort_keys=True))
      return 0
    export_params = exporter.ExportParams(
        quantization=fv.quantization, input_kind=fv.input,
        representative_data=fv.representative_data, num_representative=fv.num_representative,
        validation_data=fv.validation_data, num_validation=fv.num_validation,
        probe_task=fv.probe_task, min_mean_cosine=fv.min_mean_cosine,
        min_min_cosine=fv.min_min_cosine, max_probe_drop=fv.max_probe_drop,
        data_dir=fv.data_dir, classifier_task=fv.classifier_task,
        debug_quantization=fv.debug_quantization)
    if fv.report:
      exporter.check_output_path(fv.report)
    report = exporter.export_encoder(fv.encoder, fv.output or "", export_params, progress=True)
    code = 0
  except exporter.ValidationError as e:
    report, code = e.report, cli.CHECK_FAILED
    print(f"{PROG}: {e}", file=sys.stderr)
  except ValueError as e:
    return cli.error(PROG, e)
  text = json.dumps(report, indent=2, sort_keys=True)
  print(text)
  if not code:
    print(f"{PROG}: wrote {report['path']} ({report['size_bytes']} bytes): " +
          exporter.summary(report), file=sys.stderr)
  if fv.report:
    atomic.write_text(fv.report, text + "\n")
  return code


def run():
  cli.run(PROG, define_flags, main, required=["encoder", "output"])


if __name__ == "__main__":
  run()
