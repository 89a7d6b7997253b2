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
  (export/convert.py says why). An int8 waveform input would be 8-bit audio.
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

import dataclasses
import os
import sys
import typing

import numpy as np

from mobile_ssl.core import atomic
from mobile_ssl.core import embedding
from mobile_ssl.core import features
from mobile_ssl.core import fields
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.data import datasets
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import probe
from mobile_ssl.export import classifier
from mobile_ssl.export import convert
from mobile_ssl.export import metadata
from mobile_ssl.export import probe_accuracy
from mobile_ssl.export import quantization_debug
from mobile_ssl.export import tflite_embedder as embedder_lib
from mobile_ssl.export import validation

QUANTIZATIONS = tuple(q.value for q in convert.Quantization)
INPUT_KINDS = tuple(k.value for k in convert.InputKind)
# Every (quantization, input kind) export_tflite makes: int16x8 takes log-mel only.
COMBINATIONS = tuple((q, k) for q in QUANTIZATIONS for k in INPUT_KINDS
                     if not (q == "int16x8" and k == "waveform"))
# (min mean cosine, min minimum cosine) to the Keras float encoder on held-out
# windows, per precision: loose enough that retraining does not trip them, tight
# enough to catch a quantized front end (docs/export.md, "Validation", sets them
# against the measured errors).
DEFAULT_THRESHOLDS = {
    "float32": (0.9999, 0.999),
    "float16": (0.999, 0.99),
    "dynamic": (0.995, 0.98),
    # 0.98: the 1,536-value multi_mean_std embedding's int8 file scores a mean
    # cosine of 0.9895 on synthetic_audio with no probe loss (.tflite 97.7 vs
    # Keras 97.3 on event); the probe check (--probe_task) is the verdict that
    # sees accuracy (docs/export.md), the cosines are a sanity guard.
    "int8": (0.98, 0.95),
    "int16x8": (0.995, 0.98),  # calibrated ranges: as dynamic
}
VALIDATION_HOP_SECONDS = 0.5



@dataclasses.dataclass(frozen=True)
class ExportParams:
  """What `export_encoder` makes and how strictly it checks it.

  Field metadata: the help of export_tflite's flag of the same name (or
  'flag'; mobile_ssl/commands/cli.py).
  """

  quantization: str = dataclasses.field(default="float32", metadata={
      "help": "Precision.", "enum": QUANTIZATIONS})
  input_kind: str = dataclasses.field(default="waveform", metadata={
      "flag": "input", "enum": INPUT_KINDS,
      "help": "waveform: [1, 15600] audio with the log-mel front end in the graph; "
              "log_mel: [1, 96, 64, 1] (fully integer with int8)."})
  # Dataset name, NAME@SPLIT or audio folder; '' = the run's first dataset.
  representative_data: str = dataclasses.field(default="", metadata={
      "help": "int8/int16x8 calibration audio: TFDS name[@split] or audio folder, or "
              "several comma-separated (equal shares; default: the run's first "
              "dataset, train split)."})
  num_representative: int = dataclasses.field(default=convert.DEFAULT_CALIBRATION_WINDOWS,
                                              metadata={"help": "Calibration windows."})
  # Held-out audio for the cosine check; '' = the test split of the same data.
  validation_data: str = dataclasses.field(default="", metadata={
      "help": "Held-out audio (default: the test split of the representative data)."})
  num_validation: int = dataclasses.field(default=100, metadata={"help": "Validation windows."})
  # A task code or DATASET:LABEL_KEY: compare linear-probe accuracies.
  probe_task: str = dataclasses.field(default="", metadata={
      "help": "Also compare linear-probe accuracy: a task code or "
              "DATASET:LABEL_KEY, e.g. /data/fsdd/recordings:digit."})
  # The quickstart probes clip means; its export check then reuses that fit.
  probe_on: str = dataclasses.field(default="windows", metadata={
      "help": "With --probe_task: fit the probes on every window or on each clip's mean "
              "window embedding, as mobile-ssl-eval's --probe_on.",
      "enum": eval_params_lib.PROBE_INPUTS})
  # The quickstart's lower cap; its export check then reuses that fit too.
  probe_iterations: int = dataclasses.field(
      default=eval_params_lib.EvalParams.probe_iterations,
      metadata={"help": "With --probe_task: the probes' iteration cap, as mobile-ssl-eval's "
                        "--probe_iterations."})
  # Every window, as mobile-ssl-eval. Every 4th (the default of session 49) embeds a
  # quarter of the train windows, but it refused a quickstart's good int8 file (drop
  # +1.33 against +0.33 with every window; docs/export.md, "How many windows the
  # probe check needs").
  probe_window_stride: int = dataclasses.field(default=1, metadata={
      "help": "With --probe_task: fit both probes on every Nth 975 ms window of each "
              "training clip (hop 0.5 s x N; each clip keeps its first), so the file "
              "embeds 1/N of them; the test split is always whole. 1 = every window, "
              "mobile-ssl-eval's row."})
  # None = DEFAULT_THRESHOLDS[quantization].
  min_mean_cosine: typing.Optional[float] = dataclasses.field(default=None, metadata={
      "help": "Default per precision: " + ", ".join(
          f"{q} {t[0]}" for q, t in DEFAULT_THRESHOLDS.items())})
  min_min_cosine: typing.Optional[float] = dataclasses.field(default=None, metadata={
      "help": "Default per precision: " + ", ".join(
          f"{q} {t[1]}" for q, t in DEFAULT_THRESHOLDS.items())})
  # One point of clip accuracy, on --probe_task and on a classifier's task.
  max_probe_drop: float = dataclasses.field(default=0.01, metadata={
      "help": "Largest allowed drop of the linear-probe clip accuracy (fraction; 0.01 = "
              "1 point) on --probe_task and on --classifier_task."})
  data_dir: typing.Optional[str] = dataclasses.field(default=None, metadata={
      "help": "TFDS data dir."})
  # mobile-ssl-eval's cache folder: the Keras side of the probe check
  # (embeddings and fit) is loaded from there when it was made before.
  cache_dir: str = dataclasses.field(default="", metadata={
      "help": "With --probe_task: reuse mobile-ssl-eval's cached Keras embeddings and "
              "probe fits from this folder (its --cache_dir), and keep new ones there."})
  # A task code or DATASET:LABEL_KEY: export a classifier (scores) for it.
  classifier_task: str = dataclasses.field(default="", metadata={
      "help": "Export a classifier instead: the encoder plus a "
              "linear head trained here as mobile-ssl-eval trains its probe, softmax "
              "output 'scores' and a label map (MediaPipe AudioClassifier); a task "
              "code or DATASET:LABEL_KEY, e.g. /data/fsdd/recordings:digit."})
  # 'matmul' by default (convert.DEFAULT_STFT says why).
  stft: str = dataclasses.field(default=convert.DEFAULT_STFT, metadata={
      "help": "How a waveform model computes its STFT: 'matmul' (two small DFTs in "
              "FULLY_CONNECTED ops, which XNNPACK runs) or 'fft' (TFLite's RFFT2D kernel, "
              "far fewer operations). Time both on the target (mobile-ssl-bench): the whole int8 "
              "model with 'matmul' was 2.15x faster on x86 and 2.2x slower on emulated arm64.",
      "enum": features.TRANSFORMS})
  # int8: write OUTPUT.quantization.{csv,md}, the error each layer adds.
  debug_quantization: bool = dataclasses.field(default=False, metadata={
      "help": "int8: print the error each layer adds "
              "(RMSE / scale, share of the embedding's error) and write it as "
              "OUTPUT.quantization.csv and .md beside --output (docs/export.md)."})

  def validate(self) -> "ExportParams":
    if self.quantization not in QUANTIZATIONS:
      raise ValueError(f"unknown quantization {self.quantization!r}; valid: "
                       f"{', '.join(QUANTIZATIONS)}")
    if self.input_kind not in INPUT_KINDS:
      raise ValueError(f"unknown input kind {self.input_kind!r}; valid: {', '.join(INPUT_KINDS)}")
    if self.num_representative < 1 or self.num_validation < 1:
      raise ValueError("--num_representative and --num_validation must be >= 1")
    if self.probe_iterations < 1:
      raise ValueError(f"--probe_iterations must be >= 1, got {self.probe_iterations}")
    if self.probe_window_stride < 1:
      raise ValueError(f"--probe_window_stride must be >= 1, got {self.probe_window_stride}")
    if self.stft not in features.TRANSFORMS:
      raise ValueError(f"--stft must be one of {', '.join(features.TRANSFORMS)}, got "
                       f"{self.stft!r}")
    for name in ("min_mean_cosine", "min_min_cosine"):
      value = getattr(self, name)
      if value is not None and not -1.0 <= value <= 1.0:
        raise ValueError(f"--{name}={value}: a cosine threshold must lie in [-1, 1]")
    if self.cache_dir:
      try:
        atomic.creatable_folder(self.cache_dir)
      except ValueError as e:
        raise ValueError(f"--cache_dir={self.cache_dir}: {e}") from None
    if not 0.0 <= self.max_probe_drop <= 1.0:
      raise ValueError(f"--max_probe_drop={self.max_probe_drop}: must lie in [0, 1]")
    fields.check_choices(self)  # --probe_on (the other choices are checked above)
    if self.quantization == "int16x8" and self.input_kind != "log_mel":
      raise ValueError("--quantization=int16x8 needs --input=log_mel (the converter's 16x8 "
                       "mode cannot keep the waveform front end float)")
    if self.classifier_task and self.input_kind != "waveform":
      raise ValueError("--classifier_task needs --input=waveform (audio tasks such as "
                       "MediaPipe's AudioClassifier take audio, not log-mel)")
    if self.debug_quantization and self.quantization != "int8":
      raise ValueError(f"--debug_quantization needs --quantization=int8, got {self.quantization}")
    if self.classifier_task and self.probe_task:
      raise ValueError("--classifier_task already checks the accuracy on its test split; "
                       "drop --probe_task")
    return self

  def thresholds(self) -> typing.Tuple[float, float]:
    mean, minimum = DEFAULT_THRESHOLDS[self.quantization]
    return (mean if self.min_mean_cosine is None else self.min_mean_cosine,
            minimum if self.min_min_cosine is None else self.min_min_cosine)


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
                   export_params: ExportParams = ExportParams(), *,
                   progress: bool = False) -> dict:
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
    windows, report["representative"] = convert.calibration_windows(
        data_spec, export_params.num_representative, fp, data_dir=export_params.data_dir,
        progress=progress)
  dense = classifier.dense_head(head.model) if head else None
  if kind == "waveform":
    report["stft"] = export_params.stft
  tflite = convert.encoder_tflite(encoder, params, kind, quantization, windows, head=dense,
                                  classifier=report.get("classifier"), stft=export_params.stft)
  if export_params.debug_quantization:
    # Written before validation: a failing file is when the table is needed most.
    model = convert.inference_model(encoder, fp, kind, head=dense, stft=export_params.stft)
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
