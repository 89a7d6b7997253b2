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
from mobile_ssl.export import export_params as export_params_lib
from mobile_ssl.export import exporter
from mobile_ssl.export import trainable

PROG = "export_tflite"


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py)."""
  where = cli.where(fv)
  flags.DEFINE_string("encoder", None, "Run directory with params.json and encoder.keras.",
                      **where)
  flags.DEFINE_string("output", None, "The .tflite to write (atomically).", **where)
  # --quantization, --input, --representative_data, ...: one flag per ExportParams field.
  cli.define_dataclass(fv, export_params_lib.ExportParams)
  flags.DEFINE_bool("trainable", False, "Write a trainable .tflite instead (export/trainable.py): "
                    "signatures embed, embed_waveform, train, train_head, infer_head, save, "
                    "restore; float32, checked in LiteRT against Keras.", **where)
  flags.DEFINE_integer("train_batch", trainable.DEFAULT_TRAIN_BATCH,
                       "--trainable: windows per on-device training step.", **where)
  flags.DEFINE_integer("head_classes", trainable.DEFAULT_HEAD_CLASSES,
                       "--trainable: classes of the on-device personalization head.", **where)
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
    export_params = export_params_lib.ExportParams(**cli.dataclass_values(export_params_lib.ExportParams, fv))
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
