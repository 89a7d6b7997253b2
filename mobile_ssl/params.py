"""Frozen parameter dataclasses: the only place where defaults live.

Every run writes these as JSON (`to_dict`) and every consumer reads them back
(`from_dict`), so a user holding the paper can change any default and the
value is recorded with the run. Derived quantities are properties.
"""

import dataclasses
import json
import typing


@dataclasses.dataclass(frozen=True)
class FeatureParams:
  """Waveform -> log-mel front end (../shared/PAPER.md, 'Front end')."""

  sample_rate_hz: int = 16000
  stft_window_seconds: float = 0.025
  stft_hop_seconds: float = 0.010
  # A power of two: TFLite's builtin RFFT2D refuses other lengths at run time.
  fft_length: int = 512
  num_mel_bins: int = 64
  mel_min_hz: float = 125.0
  mel_max_hz: float = 7500.0
  log_offset: float = 0.001
  # The encoder's input: 96 frames x 64 bins = 975 ms of audio.
  slice_frames: int = 96
  # float32 FFT round-off (~1e-7 of the frame's peak) reaches 4e-3 in log-mel
  # at bins 100 dB below a pure tone; float64 keeps the front end within 1e-4
  # of the formula at 3x the cost (cache log-mels). TFLite's RFFT2D is
  # float32-only, so the exporter sets 'float32'.
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


@dataclasses.dataclass(frozen=True)
class EncoderParams:
  """The small conv encoder (../shared/PAPER.md, 'Encoder')."""

  # 'paper': Conv 3x1 -> BN -> ReLU -> Conv 1x3 -> BN -> ReLU -> MaxPool 2x2.
  # 'fast': the same stack laid out for XNNPACK's int8 kernels (see encoder.py).
  variant: str = "paper"
  width: float = 1.0
  embedding_dim: int = 128
  base_channels: typing.Tuple[int, ...] = (8, 16, 32, 64, 128)

  def channels(self) -> typing.Tuple[int, ...]:
    return tuple(max(1, int(round(c * self.width))) for c in self.base_channels)

  def validate(self) -> "EncoderParams":
    if self.width <= 0:
      raise ValueError(f"--width must be > 0, got {self.width}.")
    if self.embedding_dim < 1:
      raise ValueError(f"--embedding_dim must be >= 1, got {self.embedding_dim}.")
    return self


@dataclasses.dataclass(frozen=True)
class TaskParams:
  """Pretext-task knobs; each task reads the fields it needs (tasks/)."""

  name: str = "temporal_gap"
  # TemporalGap: 'concat_abs_diff' ([e1, e2, |e1 - e2|]) or the paper's 'concat'.
  gap_features: str = "concat_abs_diff"
  # Audio2Vec: P past and P future context slices, separated by G frames.
  context_slices: int = 2
  gap_frames: int = 0
  # Triplet: margin on squared distances of L2-normalized embeddings;
  # positive drawn within this many frames of the anchor.
  triplet_margin: float = 0.1
  triplet_mining: str = "semi_hard"  # or 'random'
  positive_max_offset_frames: int = 96
  positive_noise_stddev: float = 0.0
  # Contrastive (COLA): bilinear similarity, softmax over the batch.
  contrastive_temperature: float = 1.0
  # Supervised baseline: which label of the dataset to predict ('' = 'label'
  # or the dataset's first class label); filled in when the run starts.
  label_key: str = ""
  num_classes: int = 0


@dataclasses.dataclass(frozen=True)
class TrainParams:
  """Optimisation and run bookkeeping for `train.py`."""

  steps: int = 2000
  batch_size: int = 64
  learning_rate: float = 1e-3
  seed: int = 0
  checkpoint_every_steps: int = 200
  log_every_steps: int = 20
  shuffle_buffer: int = 1000
  strategy: str = "default"
  # Join this many consecutive (shuffled) clips into one recording before
  # framing: pretraining on corpora of very short clips (FSDD: ~0.5 s).
  concat_clips: int = 1


@dataclasses.dataclass(frozen=True)
class Params:
  """Everything a run needs; written as `params.json` beside checkpoints."""

  features: FeatureParams = FeatureParams()
  encoder: EncoderParams = EncoderParams()
  task: TaskParams = TaskParams()
  train: TrainParams = TrainParams()
  datasets: typing.Tuple[str, ...] = ("synthetic_audio",)
  version: int = 1

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_SECTIONS = {"features": FeatureParams, "encoder": EncoderParams,
             "task": TaskParams, "train": TrainParams}


def _build(cls, values: dict, where: str):
  fields = {f.name: f for f in dataclasses.fields(cls)}
  unknown = sorted(set(values) - set(fields))
  if unknown:
    raise ValueError(f"{where}: unknown parameter(s) {unknown}; "
                     f"known: {sorted(fields)}")
  kwargs = {}
  for key, value in values.items():
    default = getattr(cls(), key) if key in fields else None
    kwargs[key] = tuple(value) if isinstance(default, tuple) else value
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


def tiny() -> Params:
  """A preset for tests: a narrow encoder and a short schedule."""
  return Params(
      encoder=EncoderParams(width=0.25, embedding_dim=16),
      train=TrainParams(steps=20, batch_size=8, checkpoint_every_steps=10,
                        log_every_steps=5, shuffle_buffer=16))
