"""A run's encoder -> a validated .tflite with metadata (the library of `export_tflite`).

One command converts (export/convert.py), adds metadata (export/metadata.py),
writes the file to a temporary path beside `--output`, runs that very file in
LiteRT on held-out audio against the Keras encoder (export/validation.py),
and only then moves it into place; below a threshold it raises
`ValidationError` (export_tflite exits 1) and leaves nothing at `--output`.

Precisions and tensors (signature `serving_default`, the converter's and
LiteRT's default name, so `get_signature_runner()` needs no argument):
* `waveform` [1, 15600] float32 -> `embedding` [1, d] float32. The log-mel
  front end is in the graph (the STFT as two small DFTs in matmuls, or with
  `--stft=fft` TFLite's RFFT2D; LOG, ...: builtins only) and stays
  float32 in every precision; dynamic and int8 quantize the encoder only
  (export/float_ends.py says why). An int8 waveform input would be 8-bit audio.
* `log_mel` [1, 96, 64, 1] -> `embedding` [1, d]. With int8 the graph is fully
  integer: int8 in and int8 out (scale/zero point in the tensor and the
  metadata) for integer-only accelerators; an int8 output costs nothing, the
  float variant only appends a DEQUANTIZE of the same values (measured).
int8 is calibrated on real windows of the train split of
`--representative_data` (default: the run's first pretraining dataset).

With `--classifier_task` the file is a classifier instead (export/classifier.py):
`waveform` -> `scores` [1, classes] softmax, the linear head trained on the
spot as mobile-ssl-eval trains its probe, the class names as a label map in
the metadata, so MediaPipe's AudioClassifier names its results. It is checked
against the Keras encoder + probe: score cosines on held-out windows (the
task's test split by default) and the clip accuracy on the whole test split.

With `--trainable` it is a float32 file that trains itself on the device
(export/trainable.py: embed, train, train_head, infer_head, save, restore).
"""

import os
import sys

import numpy as np

from mobile_ssl.core import atomic
from mobile_ssl.core import embedding
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.data import datasets
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import probe
from mobile_ssl.export import calibration
from mobile_ssl.export import classifier
from mobile_ssl.export import convert
from mobile_ssl.export import export_params as export_params_lib
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import metadata
from mobile_ssl.export import probe_accuracy
from mobile_ssl.export import quantization_debug
from mobile_ssl.export import tflite_embedder as embedder_lib
from mobile_ssl.export import validation

# The hop between the held-out windows of the cosine check.
VALIDATION_HOP_SECONDS = 0.5


class ValidationError(ValueError):
  """The exported model is not close enough to the Keras encoder; `.report` says how."""

  def __init__(self, message: str, report: dict):
    super().__init__(message)
    self.report = report


def check_output_path(path: str) -> None:
  """Fails early (before any conversion) on an output that cannot be written."""
  if not path:
    raise ValueError("--output: no path given")
  if os.path.isdir(path):
    raise ValueError(f"{path}: output is a folder; give a file path such as {path}/encoder.tflite")
  atomic.writable_folder(path)


def export_encoder(encoder_dir: str, output: str,
                   export_params: export_params_lib.ExportParams = (
                       export_params_lib.ExportParams()),
                   *, progress: bool = False) -> dict:
  """Converts, validates and atomically writes a run's encoder as .tflite.

  Args:
    encoder_dir: a run directory (params.json + encoder.keras).
    output: the .tflite path; its folder must exist.
    export_params: precision, input kind, data and thresholds.
    progress: show progress bars.

  Returns:
    the report: {'encoder', 'path', 'quantization', 'input_kind', 'signature',
    'size_bytes', 'input'/'output' (name, shape, dtype, quantization), 'ops'
    (op histogram), 'representative' (int8), 'validation' (cosines and
    thresholds), 'probe' (with `probe_task`), 'classifier' (with
    `classifier_task`: task, labels, training windows, test accuracies of
    the file and of the Keras probe), 'passed'}.

  Raises:
    ValueError: bad encoder dir, output, data or parameters (one line).
    ValidationError: the file failed a check; nothing was written.
  """
  export_params.validate()
  check_output_path(output)
  encoder, params = model_dir_lib.load_encoder(encoder_dir)
  fp, kind, quantization = params.features, export_params.input_kind, export_params.quantization
  data_spec = export_params.representative_data or params.datasets[0]
  report = {"encoder": encoder_dir, "path": output, "quantization": quantization,
            "input_kind": kind, "signature": embedder_lib.SIGNATURE}
  head = None
  if export_params.classifier_task:
    task = downstream.load_task(export_params.classifier_task, export_params.data_dir)
    head = classifier.train_head(encoder, params, task, progress=progress)
    report["classifier"] = head.describe()
    # Calibrate and validate on the task's own audio unless told otherwise.
    data_spec = export_params.representative_data or f"{task.spec.dataset}@{task.spec.train_split}"

  windows = None
  if convert.Quantization(quantization) in convert.CALIBRATED:
    windows, report["representative"] = calibration.calibration_windows(
        data_spec, export_params.num_representative, fp, data_dir=export_params.data_dir,
        progress=progress)
  dense = classifier.dense_head(head.model) if head else None
  if kind == "waveform":
    report["stft"] = export_params.stft
  tflite = convert.encoder_tflite(encoder, params, kind, quantization, windows, head=dense,
                                  classifier=report.get("classifier"), stft=export_params.stft)
  if export_params.debug_quantization:
    # Written before validation: a failing file is when the table is needed most.
    model = inference_model_lib.inference_model(encoder, fp, kind, head=dense,
                                                stft=export_params.stft)
    held_out = _validation_windows(export_params, data_spec, fp, head, progress)[0]
    result = quantization_debug.layer_errors(model, convert.representative(windows, kind, fp),
                                             convert.representative(held_out, kind, fp))
    paths = quantization_debug.write(result, output)
    if progress:
      print(quantization_debug.markdown(result), file=sys.stderr)
    report["quantization_debug"] = dict(paths, **{k: v for k, v in result.items() if k != "rows"})

  with atomic.replacing(output, suffix=".tflite") as tmp:
    with open(tmp, "wb") as f:
      f.write(tflite)
    _validate(tmp, encoder, params, export_params, data_spec, report, progress, head)
  return report


def _validation_windows(export_params, data_spec, feature_params, head, progress):
  """(held-out windows, dataset spec, split): the validation audio, also the debugger's."""
  # By default the held-out split of the calibration data, whatever split that named.
  spec = export_params.validation_data or datasets.parse_spec(data_spec.split(",")[0])[0]
  if head and not export_params.validation_data:
    spec = f"{head.task.spec.dataset}@{head.task.spec.test_split}"
  builder, split = datasets.builder_and_split(spec, "test", export_params.data_dir)
  windows = validation.windows(builder, split, export_params.num_validation, feature_params,
                               hop_seconds=VALIDATION_HOP_SECONDS, progress=progress)
  return windows, spec, split


def _validate(path, encoder, params, export_params, data_spec, report, progress,
              head=None) -> None:
  """Runs the written file against Keras; raises ValidationError (the file is then removed).

  A classifier's reference is the Keras encoder + the probe, and its scores
  take the place of the embedding in the cosine check.
  """
  with open(path, "rb") as f:
    tflite = f.read()
  lite = embedder_lib.TFLiteEmbedder(path, workers=0)
  keras = (classifier.KerasClassifier(encoder, params, head.model) if head
           else embedding.KerasEmbedder(encoder=encoder, params=params))
  report["size_bytes"] = len(tflite)
  report["input"] = {"name": lite.input_name, **metadata.tensor_summary(lite.input_details)}
  report["output"] = {"name": lite.output_name, **metadata.tensor_summary(lite.output_details)}
  report["ops"] = validation.op_histogram(tflite)
  failures = []
  bad_ops = validation.forbidden_ops(report["ops"])
  if bad_ops:
    failures.append(f"forbidden ops {bad_ops}")
  expected = (export_params.input_kind, "scores" if head else "embedding")
  if (lite.input_name, lite.output_name) != expected:
    failures.append(f"tensors {lite.input_name}->{lite.output_name}, expected {expected}")

  windows, spec, split = _validation_windows(export_params, data_spec, params.features, head,
                                             progress)
  lite_embeddings, keras_embeddings = lite.embed_windows(windows), keras.embed_windows(windows)
  cos = validation.cosines(lite_embeddings, keras_embeddings)
  # The centred cosine (both minus the Keras embeddings' mean over these
  # windows) is always reported beside the plain one (docs/export.md).
  centred = validation.centred_cosines(lite_embeddings, keras_embeddings)
  min_mean, min_min = export_params.thresholds()
  report["validation"] = {
      "dataset": spec, "split": split, "windows": len(windows),
      "mean_cosine": float(np.mean(cos)), "min_cosine": float(np.min(cos)),
      "min_mean_cosine": min_mean, "min_min_cosine": min_min,
      "mean_centred_cosine": float(np.mean(centred)),
      "min_centred_cosine": float(np.min(centred))}
  # `not >=`: a NaN cosine fails too.
  if not np.mean(cos) >= min_mean:
    failures.append(f"mean cosine {np.mean(cos):.5f} < {min_mean}")
  if not np.min(cos) >= min_min:
    failures.append(f"min cosine {np.min(cos):.5f} < {min_min}")

  if export_params.probe_task:
    # mobile-ssl-eval's probe path and class mapping, for the encoder and the file alike.
    task = downstream.load_task(export_params.probe_task, export_params.data_dir)
    result = probe_accuracy.compare({"keras": encoder, "tflite": lite}, params, task,
                                    cache_dir=export_params.cache_dir,
                                    probe_on=export_params.probe_on,
                                    probe_iterations=export_params.probe_iterations,
                                    train_window_stride=export_params.probe_window_stride)
    keras_accuracy, tflite_accuracy = result["accuracy"]["keras"], result["accuracy"]["tflite"]
    drop = keras_accuracy - tflite_accuracy
    report["probe"] = {"task": result["task"], "keras_accuracy": keras_accuracy,
                       "tflite_accuracy": tflite_accuracy, "drop": drop,
                       "agreement": result["agreement"]["tflite"], "l2": result["l2"],
                       "max_drop": export_params.max_probe_drop, "classes": result["classes"],
                       "keras_ci": result["ci"]["keras"], "tflite_ci": result["ci"]["tflite"],
                       "train_windows": result["train_windows"],
                       "test_clips": result["test_clips"], "probe_on": export_params.probe_on,
                       "probe_iterations": export_params.probe_iterations,
                       "train_window_stride": export_params.probe_window_stride}
    if not drop <= export_params.max_probe_drop + probe.DROP_TOLERANCE:
      failures.append(f"probe accuracy {tflite_accuracy:.4f} vs Keras {keras_accuracy:.4f} "
                      f"(drop {drop:.4f} > {export_params.max_probe_drop})")
  if head:
    failures += classifier.check_accuracy(head, keras, lite, params, report["classifier"],
                                          export_params.max_probe_drop, progress)
  report["passed"] = not failures
  if failures:
    hint = (" (int8 activations lose what this probe uses: --quantization=int16x8 "
            "--input=log_mel or --quantization=dynamic keep it; docs/export.md)"
            if export_params.quantization == "int8" and "probe" in report else "")
    raise ValidationError(f"{report['path']}: validation failed, not written: "
                          + "; ".join(failures) + hint, report)


def summary(report: dict) -> str:
  """One line of a report's figures."""
  v = report["validation"]
  line = (f"{report['quantization']} {report['input_kind']}, cosine to Keras mean "
          f"{v['mean_cosine']:.5f} min {v['min_cosine']:.5f} (centred mean "
          f"{v['mean_centred_cosine']:.4f}) over {v['windows']} windows")
  if "probe" in report:
    p = report["probe"]
    stride = p.get("train_window_stride", 1)
    line += (f", probe accuracy {p['tflite_accuracy']:.4f} (Keras {p['keras_accuracy']:.4f}, "
             f"same prediction on {p['agreement']:.1%} of test clips"
             + (f"; probes fitted on 1 in {stride} train windows" if stride > 1 else "") + ")")
  if "classifier" in report:
    c = report["classifier"]
    line = (f"classifier of {c['num_classes']} classes ({c['task']}), accuracy "
            f"{c['tflite_accuracy']:.4f} (Keras probe {c['keras_accuracy']:.4f}); " + line)
  return line
