"""A training run's settings: `Params`, the model's sections, and params.json.

`Params` is what a training run is configured by: the front end
(`FeatureParams`) and the encoder (`EncoderParams`), here because every later
stage reads them back from a run; the pretext task, optimisation and
augmentations (training_params.py), which only what trains reads. The defaults
a run starts from are `recipes.recipe()`. Each other stage keeps its own
settings as a frozen dataclass in that stage (`EvalParams` in
evaluation/eval_params.py, `ExportParams` in export/export_params.py, `BenchParams`
in benchmark/bench.py, `FederatedParams` in federated/run_state.py,
`QuickstartParams` in commands/quickstart.py; docs/architecture.md, 'One home
per concept').

Every run writes `Params` as JSON (`to_dict`, params.json) and every consumer
reads it back (`from_dict`), so a user holding the paper can change any
default and the value is recorded with the run. Derived quantities are
properties.

A field's `metadata` holds its command-line help (fields.py): mobile-ssl-train
generates one flag per field of the encoder, task, train and augment sections
from it (mobile_ssl/commands/cli.py, `define_dataclass`), named as the field
unless metadata 'flag' renames it; 'flag': None marks a field that is not a
flag. Metadata does not change params.json.
"""

import dataclasses
import json
import typing

from mobile_ssl.core import fields
from mobile_ssl.core import training_params


@dataclasses.dataclass(frozen=True)
class FeatureParams:
  """Waveform -> log-mel front end (as in Tagliasacchi et al. 2019)."""

  sample_rate_hz: int = 16000
  stft_window_seconds: float = 0.025
  stft_hop_seconds: float = 0.010
  # A power of two: the exported graphs split it into two DFTs of n1 x n2 points
  # (features.dft_magnitude), and TFLite's RFFT2D refuses other lengths at run time.
  fft_length: int = 512
  num_mel_bins: int = 64
  mel_min_hz: float = 125.0
  mel_max_hz: float = 7500.0
  log_offset: float = 0.001
  # The encoder's input: 96 frames x 64 bins = 975 ms of audio.
  slice_frames: int = 96
  # float32 FFT round-off (~1e-7 of the frame's peak) reaches 4e-3 in log-mel
  # at bins 100 dB below a pure tone; float64 keeps the front end within 1e-4
  # of the formula at a few times the cost (cache log-mels). Exported graphs
  # compute their DFT in float32 (the exporter sets 'float32').
  stft_dtype: str = "float64"

  @property
  def window_samples(self) -> int:
    return int(round(self.sample_rate_hz * self.stft_window_seconds))

  @property
  def hop_samples(self) -> int:
    return int(round(self.sample_rate_hz * self.stft_hop_seconds))

  @property
  def slice_samples(self) -> int:
    """Samples that produce exactly `slice_frames` STFT frames (no padding)."""
    return (self.slice_frames - 1) * self.hop_samples + self.window_samples

  @property
  def slice_seconds(self) -> float:
    return self.slice_samples / self.sample_rate_hz

  def validate(self) -> "FeatureParams":
    if self.fft_length & (self.fft_length - 1) or self.fft_length < self.window_samples:
      raise ValueError(
          f"fft_length={self.fft_length} must be a power of two >= the window "
          f"({self.window_samples} samples); TFLite's RFFT2D needs a power of two.")
    if not 0 <= self.mel_min_hz < self.mel_max_hz <= self.sample_rate_hz / 2:
      raise ValueError(
          f"mel range {self.mel_min_hz}-{self.mel_max_hz} Hz must lie within "
          f"0-{self.sample_rate_hz / 2} Hz.")
    if self.stft_dtype not in ("float32", "float64"):
      raise ValueError(f"stft_dtype must be 'float32' or 'float64', got {self.stft_dtype!r}")
    if self.slice_frames < 1 or self.num_mel_bins < 1:
      raise ValueError("slice_frames and num_mel_bins must be positive.")
    return self


POOLINGS = ("max", "mean_max", "time_mean_max", "multi_mean_std")
INPUT_NORMS = ("none", "time_mean")
# Blocks whose outputs `multi_mean_std` pools when params do not say: the last
# three (what run directories written before the field existed were trained with).
MULTI_POOL_BLOCKS = 3


@dataclasses.dataclass(frozen=True)
class EncoderParams:
  """The small conv encoder (Tagliasacchi et al. 2019; mobile_ssl/core/encoder.py)."""

  # 'paper': Conv 3x1 -> BN -> ReLU -> Conv 1x3 -> BN -> ReLU -> MaxPool 2x2.
  # 'fast': the same stack laid out for XNNPACK's int8 kernels (see encoder.py).
  variant: str = dataclasses.field(default="paper", metadata={
      "flag": "encoder_variant", "help": "Encoder layer table: paper, fast."})
  width: float = dataclasses.field(default=1.0, metadata={"help": "Encoder width multiplier."})
  # Size of the dense embedding layer after pooling; 0: no dense layer, the
  # pooled statistics themselves are the embedding (512 values for
  # 'time_mean_max' at width 1: what the tuned recipe uses, since a 128-unit
  # layer trained by a contrastive loss acts as its projection head and
  # drops what a probe needs; docs/evaluation.md).
  embedding_dim: int = dataclasses.field(default=128, metadata={"help": "Embedding size."})
  base_channels: typing.Tuple[int, ...] = dataclasses.field(
      default=(8, 16, 32, 64, 128), metadata={"flag": None})
  # How the last feature map [time, freq, channels] becomes one vector before
  # the embedding layer: 'max' (the paper's global max pool), 'mean_max'
  # (global mean and max, concatenated), or 'time_mean_max' (mean and max
  # over time only, frequency kept: what a small speech encoder needs), or
  # 'multi_mean_std' (mean and standard deviation over time, frequency kept,
  # of each of the last three blocks' outputs: statistics at three
  # frequency resolutions, not only the coarsest; docs/evaluation.md).
  pooling: str = dataclasses.field(default="max", metadata={
      "help": "Pooling before the embedding layer: " + ", ".join(POOLINGS)
              + " ('max' is the paper's)."})
  # How many blocks, counted from the last, 'multi_mean_std' pools (all of
  # them when the encoder has fewer, as the tiny test encoders do). All five
  # (the tuned recipe's) adds the finer frequency rows of blocks 1-2, which
  # speaker-independent cues live in (read-out scan in docs/evaluation.md); 3
  # is what run directories without the field had.
  pool_blocks: int = dataclasses.field(default=MULTI_POOL_BLOCKS, metadata={
      "help": "multi_mean_std pooling: how many blocks, counted from the last, it pools "
              "(5: all of them)."})

  # What the encoder does to its log-mel input before the first conv: 'none'
  # (the paper), or 'time_mean': subtract each mel bin's mean over the
  # slice's frames (cepstral mean normalization, done on the log-mel). It
  # removes the slice's average spectral envelope, which is mostly the
  # speaker's and the microphone's, so what is left is how the spectrum moves;
  # docs/evaluation.md, "Mean-normalized input".
  input_norm: str = dataclasses.field(default="none", metadata={
      "enum": INPUT_NORMS,
      "help": "Input normalization before the first conv ('time_mean': subtract each mel "
              "bin's mean over the slice)."})

  def channels(self) -> typing.Tuple[int, ...]:
    return tuple(max(1, int(round(c * self.width))) for c in self.base_channels)

  def output_dim(self, feature_params: "FeatureParams" = None) -> int:
    """The embedding's size: `embedding_dim`, or the pooled size when it is 0."""
    if self.embedding_dim:
      return self.embedding_dim
    feature_params = feature_params or FeatureParams()
    bins, block_bins = feature_params.num_mel_bins, []
    for _ in self.base_channels:  # each block halves (rounding up) time and frequency
      bins = -(-bins // 2)
      block_bins.append(bins)
    channels = self.channels()[-1]
    if self.pooling == "multi_mean_std":
      blocks = range(max(0, len(self.base_channels) - self.pool_blocks), len(self.base_channels))
      return sum(2 * block_bins[b] * self.channels()[b] for b in blocks)
    return {"max": channels, "mean_max": 2 * channels,
            "time_mean_max": 2 * bins * channels}[self.pooling]

  def validate(self) -> "EncoderParams":
    if self.width <= 0:
      raise ValueError(f"--width must be > 0, got {self.width}.")
    if self.embedding_dim < 0:
      raise ValueError(f"--embedding_dim must be >= 0 (0: the pooled features), got "
                       f"{self.embedding_dim}.")
    if self.pooling not in POOLINGS:
      raise ValueError(f"--pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}.")
    if self.pool_blocks < 1:
      raise ValueError(f"--pool_blocks must be >= 1, got {self.pool_blocks}.")
    fields.check_choices(self)  # --input_norm
    return self


@dataclasses.dataclass(frozen=True)
class Params:
  """Everything a run needs; written as `params.json` beside checkpoints."""

  features: FeatureParams = FeatureParams()
  encoder: EncoderParams = EncoderParams()
  task: training_params.TaskParams = training_params.TaskParams()
  train: training_params.TrainParams = training_params.TrainParams()
  augment: training_params.AugmentParams = training_params.AugmentParams()
  datasets: typing.Tuple[str, ...] = ("synthetic_audio",)
  version: int = 1

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_SECTIONS = {"features": FeatureParams, "encoder": EncoderParams,
             "task": training_params.TaskParams, "train": training_params.TrainParams,
             "augment": training_params.AugmentParams}


def _build(cls, values: dict, where: str):
  known = {f.name for f in dataclasses.fields(cls)}
  unknown = sorted(set(values) - known)
  if unknown:
    raise ValueError(f"{where}: unknown parameter(s) {unknown}; "
                     f"known: {sorted(known)}")
  hints = typing.get_type_hints(cls)
  kwargs = {}
  for key, value in values.items():
    default = getattr(cls(), key) if key in known else None
    if isinstance(default, tuple):
      # A fixed-length tuple (Tuple[float, float]) must have that many values,
      # as its flag requires (commands/cli.py); Tuple[X, ...] any number.
      items = typing.get_args(hints[key])
      if not isinstance(value, (list, tuple)) or (
          Ellipsis not in items and len(value) != len(items)):
        raise ValueError(f"{where}[{key!r}]: expected {len(items)} values, got {value!r}")
      value = tuple(value)
    kwargs[key] = value
  return cls(**kwargs)


def from_dict(values: dict) -> Params:
  """Inverse of `Params.to_dict`; unknown keys raise `ValueError`."""
  kwargs = {}
  for key, value in values.items():
    if key in _SECTIONS:
      kwargs[key] = _build(_SECTIONS[key], value, f"params[{key!r}]")
    elif key in ("datasets",):
      kwargs[key] = tuple(value)
    elif key == "version":
      kwargs[key] = int(value)
    else:
      raise ValueError(f"params: unknown section {key!r}")
  return Params(**kwargs)


def from_json(text: str) -> Params:
  return from_dict(json.loads(text))
