"""How mobile-ssl-eval cuts windows, fits its probes and trains end to end: `EvalParams`.

The evaluation stage's settings (a training run's are `core/params.Params`):
read by the suite (suite.py), the linear mode (linear_eval.py), the
fine-tuning mode (finetune.py), and by the export's probe check and
classifier head, which score .tflite files the way mobile-ssl-eval scores
Keras encoders.
"""

import dataclasses

from mobile_ssl.core import features
from mobile_ssl.core import fields
from mobile_ssl.core import params as params_lib
from mobile_ssl.evaluation import probe

# What a linear probe is fitted and scored on (`EvalParams.probe_on`).
PROBE_INPUTS = ("windows", "clips")


@dataclasses.dataclass(frozen=True)
class EvalParams:
  """How windows are cut and how end-to-end models are trained.

  Field metadata: the help of mobile-ssl-eval's flag of the same name
  (mobile_ssl/commands/cli.py); 'flag': None is not a flag.
  """
  hop_seconds: float = dataclasses.field(default=0.5, metadata={
      "help": "Hop between 975 ms windows."})
  batch_size: int = dataclasses.field(default=64, metadata={"help": "Windows per batch."})
  finetune_steps: int = dataclasses.field(default=1000, metadata={
      "help": "Steps of end-to-end training (finetune mode and 'supervised')."})
  learning_rate: float = dataclasses.field(default=1e-3, metadata={
      "help": "Adam learning rate (end to end)."})
  # Averaged per row: one draw of 10 shots per class moved FSDD rows by up to
  # 11 points (docs/evaluation.md, "Several draws of the shots").
  label_draws: int = dataclasses.field(default=5, metadata={
      "help": "Draws of the labelled train clips averaged in every row under a label budget "
              "(draw k uses --seed + k; all labels: one)."})
  # 'clips' fits on ~7x fewer rows for 5 s clips at hop 0.5 s: the quickstart's
  # probe stage (docs/evaluation.md, "The quickstart's probe on clip means").
  probe_on: str = dataclasses.field(default="windows", metadata={
      "help": "What the linear probe is fitted on: every window (the papers; a clip's "
              "prediction is the mean of its windows' probabilities) or 'clips', each clip's "
              "mean window embedding (as HEAR's scene tasks and BYOL-A).",
      "enum": PROBE_INPUTS})
  # Lower caps stop the fits earlier: the quickstart's 200 on clip means took
  # 0.4x the fitting time with its rows within a point (docs/evaluation.md,
  # "The quickstart's probe with lower iteration caps").
  probe_iterations: int = dataclasses.field(default=probe.MAX_ITERATIONS, metadata={
      "help": "Iteration cap of the linear probe's final L-BFGS fit (each weight decay of its "
              "grid gets 2/5 of it); fits that reach their minimum first stop there."})
  shuffle_buffer: int = dataclasses.field(default=2000, metadata={"flag": None})  # windows
  seed: int = dataclasses.field(default=0, metadata={
      "help": "Seeds baselines, label sampling and training."})

  def validate(self, feature_params=params_lib.FeatureParams()) -> "EvalParams":
    features.hop_frames(self.hop_seconds, feature_params)  # Whole STFT hops only.
    for name in ("batch_size", "finetune_steps", "label_draws", "probe_iterations"):
      if getattr(self, name) < 1:
        raise ValueError(f"--{name} must be >= 1, got {getattr(self, name)}")
    if not self.learning_rate > 0:
      raise ValueError(f"--learning_rate must be > 0, got {self.learning_rate}")
    fields.check_choices(self)  # --probe_on
    return self
