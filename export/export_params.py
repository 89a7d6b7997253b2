"""What `export_tflite` makes and how strictly it checks it: `ExportParams`.

The export stage's settings (docs/architecture.md, 'One home per concept'):
the precision and input of the file, its calibration and validation audio,
the thresholds a file must pass (`DEFAULT_THRESHOLDS`, set against measured
errors in docs/export.md) and the probe check's settings. export_tflite makes
one flag per field (mobile_ssl/commands/cli.py); export/exporter.py does the
work.
"""

import dataclasses
import typing

from mobile_ssl.core import atomic
from mobile_ssl.core import features
from mobile_ssl.core import fields
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.export import calibration
from mobile_ssl.export import convert
from mobile_ssl.export import inference_model as inference_model_lib

QUANTIZATIONS = tuple(q.value for q in convert.Quantization)
INPUT_KINDS = tuple(k.value for k in inference_model_lib.InputKind)
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
  num_representative: int = dataclasses.field(default=calibration.DEFAULT_CALIBRATION_WINDOWS,
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
  # 'matmul' by default (inference_model_lib.DEFAULT_STFT says why).
  stft: str = dataclasses.field(default=inference_model_lib.DEFAULT_STFT, metadata={
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
