"""The defaults of a training run: the frozen dataclasses of `Params` and `recipe()`.

This is the home of what a training run is configured by (front end, encoder,
pretext task, optimisation, augmentation). Each other stage keeps its own
settings as a frozen dataclass in that stage (`EvalParams` in
evaluation/suite.py, `ExportParams` in export/exporter.py, `BenchParams` in
benchmark/bench.py, `FederatedParams` in federated/run_state.py,
`QuickstartParams` in commands/quickstart.py; docs/architecture.md, 'One home
per concept').

Every run writes `Params` as JSON (`to_dict`, params.json) and every consumer
reads it back (`from_dict`), so a user holding the paper can change any
default and the value is recorded with the run. Derived quantities are
properties.

A field's `metadata` holds its command-line help: mobile-ssl-train generates
one flag per field of the encoder, task, train and augment sections from it
(mobile_ssl/commands/cli.py, `define_dataclass`), named as the field unless
metadata 'flag' renames it; 'flag': None marks a field that is not a flag.
Metadata does not change params.json.
"""

import dataclasses
import json
import typing


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
SIMILARITIES = ("bilinear", "cosine")  # of the contrastive task
AUDIO2VEC_TARGETS = ("log_mel", "normalized")  # what Audio2Vec reconstructs
# Blocks whose outputs `multi_mean_std` pools when params do not say: the last
# three (what run directories written before the field existed were trained with).
MULTI_POOL_BLOCKS = 3
# What the tuned recipe pools: all five blocks, ahead of three on every FSDD
# column over three seeds (docs/evaluation.md, "Pooling all five blocks").
TUNED_POOL_BLOCKS = 5


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
    check_choices(self)  # --input_norm
    return self


@dataclasses.dataclass(frozen=True)
class AugmentParams:
  """Random changes applied to every log-mel view a task feeds the encoder.

  All off by default (the paper used none); `recipe()` switches them on.
  Applied per batch in the input pipeline (mobile_ssl/core/augment.py), each view
  of an example drawn independently.
  """

  # Random gain, uniform in +-gain_db (a constant added to the log-mel).
  gain_db: float = dataclasses.field(default=0.0, metadata={
      "help": "Augmentation: random gain in +-dB."})
  # A random equalizer: a smooth gain curve across the mel bins (the sum of
  # the first EQ_COMPONENTS cosines over the bins, each weight ~ U(-1, 1),
  # scaled so the curve stays within +-eq_db). A microphone, a room or a
  # speaker's vocal tract tilts and bends the spectral envelope like this.
  eq_db: float = dataclasses.field(default=0.0, metadata={
      "help": "Augmentation: random smooth equalizer curve across mel bins, within +-dB."})
  # BYOL-A's mixup: log((1 - r) exp(x) + r exp(x_other)), r ~ U(0, mixup_ratio),
  # x_other another clip of the batch (the pool).
  mixup_ratio: float = dataclasses.field(default=0.0, metadata={
      "help": "Augmentation: BYOL-A mixup with other clips, ratio ~ U(0, this)."})
  # Random resized crop in time and frequency (BYOL-A): a box of
  # U(crop_scale) x the slice in each axis, resized back to the slice.
  crop_scale: typing.Tuple[float, float] = dataclasses.field(default=(1.0, 1.0), metadata={
      "help": "Augmentation: random resized crop scale range 'low,high' (1,1: off)."})
  # The crop's range in frequency alone, when it should differ from time's:
  # stretching the mel axis moves formants and pitch as a longer or shorter
  # vocal tract does, so a wide range teaches the encoder to look past who
  # speaks. (0, 0): crop_scale's range (BYOL-A crops both axes alike).
  freq_crop_scale: typing.Tuple[float, float] = dataclasses.field(default=(0.0, 0.0), metadata={
      "help": "Augmentation: the resized crop's scale range in frequency, 'low,high' "
              "(0,0: --crop_scale's; 1,1: no frequency crop)."})
  # SpecAugment-style masks: one time mask of up to this many frames and one
  # frequency mask of up to this many bins, filled with the view's mean.
  time_mask_frames: int = dataclasses.field(default=0, metadata={
      "help": "Augmentation: time mask up to N frames."})
  freq_mask_bins: int = dataclasses.field(default=0, metadata={
      "help": "Augmentation: frequency mask up to N bins."})

  @property
  def enabled(self) -> bool:
    return bool(self.gain_db or self.eq_db or self.mixup_ratio or self.crops
                or self.time_mask_frames or self.freq_mask_bins)

  @property
  def crop_scales(self) -> typing.Tuple[typing.Tuple[float, float], typing.Tuple[float, float]]:
    """The resized crop's (time, frequency) scale ranges."""
    freq = self.crop_scale if tuple(self.freq_crop_scale) == (0.0, 0.0) else self.freq_crop_scale
    return tuple(self.crop_scale), tuple(freq)

  @property
  def crops(self) -> bool:
    """Whether the resized crop changes anything."""
    return self.crop_scales != ((1.0, 1.0), (1.0, 1.0))

  def validate(self) -> "AugmentParams":
    low, high = self.crop_scale
    if not 0 < low <= high:
      raise ValueError(f"--crop_scale must be two numbers 0 < low <= high, got {self.crop_scale}")
    low, high = self.freq_crop_scale
    if tuple(self.freq_crop_scale) != (0.0, 0.0) and not 0 < low <= high:
      raise ValueError(f"--freq_crop_scale must be 0,0 or two numbers 0 < low <= high, got "
                       f"{self.freq_crop_scale}")
    if not 0 <= self.mixup_ratio < 1:
      raise ValueError(f"--mixup_ratio must be in [0, 1), got {self.mixup_ratio}")
    if (self.gain_db < 0 or self.eq_db < 0 or self.time_mask_frames < 0
        or self.freq_mask_bins < 0):
      raise ValueError("--gain_db, --eq_db, --time_mask_frames and --freq_mask_bins must be >= 0")
    return self


@dataclasses.dataclass(frozen=True)
class TaskParams:
  """Pretext-task knobs; each task reads the fields it needs (tasks/)."""

  # Set by --task of mobile-ssl-train (it picks the recipe), not by a flag of its own.
  name: str = dataclasses.field(default="temporal_gap", metadata={"flag": None})
  # TemporalGap: 'concat_abs_diff' ([e1, e2, |e1 - e2|]) or the paper's 'concat'.
  gap_features: str = dataclasses.field(default="concat_abs_diff", metadata={
      "help": "TemporalGap pair features: concat_abs_diff, or the paper's concat."})
  # Audio2Vec: P past and P future context slices, separated by G frames.
  context_slices: int = dataclasses.field(default=2, metadata={"help": "Audio2Vec: P."})
  gap_frames: int = dataclasses.field(default=0, metadata={
      "help": "Audio2Vec: G frames between slices."})
  # Audio2Vec: what the decoder reconstructs. 'log_mel' is the paper's target;
  # 'normalized' standardizes each target slice over its frames and mel bins
  # (MAE's normalized-pixel target, He et al. 2022), so the loss asks for the
  # slice's spectro-temporal shape, not its loudness, which the context's own
  # level already predicts.
  audio2vec_target: str = dataclasses.field(default="log_mel", metadata={
      "help": "Audio2Vec target: log_mel (the paper's), normalized (each slice standardized).",
      "enum": AUDIO2VEC_TARGETS})
  # Triplet: margin on squared distances of L2-normalized embeddings;
  # positive drawn within this many frames of the anchor.
  triplet_margin: float = dataclasses.field(default=0.1, metadata={"help": "Triplet margin."})
  triplet_mining: str = dataclasses.field(default="semi_hard", metadata={
      "help": "Triplet negatives: semi_hard, random."})
  positive_max_offset_frames: int = dataclasses.field(default=96, metadata={
      "help": "Triplet: max distance of the positive from the anchor."})
  positive_noise_stddev: float = dataclasses.field(default=0.0, metadata={
      "help": "Triplet: noise added to the positive's log-mel."})
  # Contrastive (COLA): bilinear similarity, softmax over the batch.
  contrastive_temperature: float = dataclasses.field(default=1.0, metadata={
      "help": "Contrastive: softmax temperature."})
  # Contrastive: 'bilinear' is COLA's g(a)^T W g(p); 'cosine' divides it by
  # the norms of g(a) and W g(p), so the logits are bounded by 1/temperature
  # whatever the embedding size (COLA's logits grow with it: with the 1,536
  # values of 'multi_mean_std' its loss diverged; docs/evaluation.md).
  contrastive_similarity: str = dataclasses.field(default="bilinear", metadata={
      "help": "Contrastive: similarity of anchor and positive: bilinear (COLA), cosine."})
  # Contrastive, bilinear: W starts as this multiple of a Glorot-uniform draw.
  # Keras's Glorot (1.0) makes the initial logits large with COLA's
  # temperature (512 values, 0.2: loss ~55 where ln B is a uniform guess), and
  # the first ~400 steps of a run only shrink them; a small W starts the loss
  # near ln B (docs/federated.md measures what it changes).
  contrastive_init_scale: float = dataclasses.field(default=1.0, metadata={
      "help": "Contrastive: initial scale of the bilinear matrix, a multiple of Glorot."})
  # Contrastive: the positive starts within this many frames of the anchor
  # (-1: anywhere in the clip, COLA's rule).
  contrastive_max_offset_frames: int = dataclasses.field(default=-1, metadata={
      "help": "Contrastive: max distance of the positive from the anchor (-1: anywhere)."})
  # BYOL-A: projector/predictor MLP sizes and the target network's EMA decay.
  byol_hidden_dim: int = dataclasses.field(default=512, metadata={"flag": None})
  byol_projection_dim: int = dataclasses.field(default=128, metadata={"flag": None})
  byol_ema_decay: float = dataclasses.field(default=0.99, metadata={
      "help": "BYOL-A: EMA decay of the target network."})
  # Supervised baseline: which label of the dataset to predict ('' = 'label'
  # or the dataset's first class label); filled in when the run starts.
  label_key: str = dataclasses.field(default="", metadata={
      "help": "Supervised: label feature (default: 'label' or the first)."})
  num_classes: int = dataclasses.field(default=0, metadata={"flag": None})

  def validate(self) -> "TaskParams":
    if self.contrastive_similarity not in SIMILARITIES:
      raise ValueError(f"--contrastive_similarity must be one of {', '.join(SIMILARITIES)}, "
                       f"got {self.contrastive_similarity!r}")
    check_choices(self)  # --audio2vec_target
    if not self.contrastive_init_scale > 0:
      raise ValueError(f"--contrastive_init_scale must be > 0, got {self.contrastive_init_scale}")
    return self


CONCAT_MODES = ("join", "loop")


@dataclasses.dataclass(frozen=True)
class TrainParams:
  """Optimisation and run bookkeeping of a training run (mobile_ssl/training/trainer.py)."""

  steps: int = dataclasses.field(default=2000, metadata={"help": "Training steps."})
  batch_size: int = dataclasses.field(default=64, metadata={"help": "Global batch size."})
  learning_rate: float = dataclasses.field(default=1e-3, metadata={
      "help": "Peak learning rate (Adam/AdamW)."})
  # Learning-rate schedule: 'constant' (the paper's Adam) or 'cosine' (linear
  # warm-up for warmup_steps, then cosine decay to 0 at `steps`).
  schedule: str = dataclasses.field(default="constant", metadata={
      "help": "'constant' or 'cosine' (warm-up, then cosine to 0)."})
  warmup_steps: int = dataclasses.field(default=0, metadata={
      "help": "Linear warm-up steps (cosine schedule)."})
  # Decoupled weight decay (AdamW) when > 0; gradient clipping by global norm when > 0.
  weight_decay: float = dataclasses.field(default=0.0, metadata={
      "help": "Decoupled weight decay (AdamW); 0: Adam."})
  clip_norm: float = dataclasses.field(default=0.0, metadata={
      "help": "Clip gradients to this global norm; 0: off."})
  seed: int = dataclasses.field(default=0, metadata={
      "help": "Seeds the initialization and the data."})
  checkpoint_every_steps: int = dataclasses.field(default=200, metadata={
      "help": "Checkpoint interval."})
  # Checkpoints kept on disk (the newest); more of them let
  # bench/recipe_curve.py probe the encoder along the run.
  keep_checkpoints: int = dataclasses.field(default=3, metadata={"flag": None})
  log_every_steps: int = dataclasses.field(default=20, metadata={"help": "Log interval."})
  shuffle_buffer: int = dataclasses.field(default=1000, metadata={
      "help": "Clips in the shuffle buffer."})
  strategy: str = dataclasses.field(default="default", metadata={
      "help": "tf.distribute strategy: default, mirrored, multi_worker (reads TF_CONFIG)."})
  # Join this many consecutive (shuffled) clips into one recording before
  # framing: pretraining on corpora of very short clips (FSDD: ~0.5 s).
  # 0: 'auto', as many as 90 % of recordings need for the task (resolved and
  # recorded when the run starts).
  concat_clips: int = dataclasses.field(default=1, metadata={
      "help": "Join this many shuffled clips into one recording (for very short clips); "
              "0: as many as the task needs."})
  # How a recording of `concat_clips` is made: 'join' the pool's next clips
  # (neighbours in its stored order, usually other sounds), or 'loop' one clip
  # that many times, so a multi-slice context holds only that clip.
  concat_mode: str = dataclasses.field(default="join", metadata={
      "help": "With --concat_clips=N: join N clips of the pool into one recording, or loop "
              "each clip N times.", "enum": CONCAT_MODES})


@dataclasses.dataclass(frozen=True)
class Params:
  """Everything a run needs; written as `params.json` beside checkpoints."""

  features: FeatureParams = FeatureParams()
  encoder: EncoderParams = EncoderParams()
  task: TaskParams = TaskParams()
  train: TrainParams = TrainParams()
  augment: AugmentParams = AugmentParams()
  datasets: typing.Tuple[str, ...] = ("synthetic_audio",)
  version: int = 1

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)

  def to_json(self) -> str:
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)


_SECTIONS = {"features": FeatureParams, "encoder": EncoderParams,
             "task": TaskParams, "train": TrainParams, "augment": AugmentParams}


def check_choices(values) -> None:
  """Refuses a field with 'enum' metadata whose value is not one of its choices.

  The flag of such a field is an absl enum, which refuses other values; this
  names the same flag for values set in code or read from a params.json.
  """
  for field in dataclasses.fields(values):
    choices = field.metadata.get("enum")
    value = getattr(values, field.name)
    if choices is not None and value not in choices:
      flag = field.metadata.get("flag") or field.name
      raise ValueError(f"--{flag} must be one of {', '.join(choices)}, got {value!r}")


def _build(cls, values: dict, where: str):
  fields = {f.name: f for f in dataclasses.fields(cls)}
  unknown = sorted(set(values) - set(fields))
  if unknown:
    raise ValueError(f"{where}: unknown parameter(s) {unknown}; "
                     f"known: {sorted(fields)}")
  hints = typing.get_type_hints(cls)
  kwargs = {}
  for key, value in values.items():
    default = getattr(cls(), key) if key in fields else None
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


RECIPES = ("tuned", "paper")
# The task `mobile-ssl-train` runs when --task is not given: the best measured
# one on average over FSDD's six probe columns and synthetic_audio's two
# (docs/evaluation.md, 'Against the floor on FSDD'); contrastive is a close second.
DEFAULT_TASK = "triplet"
# Augmentations of the tuned recipe (BYOL-A's mixup and resized crop, a gain,
# SpecAugment-style masks), measured on FSDD (docs/evaluation.md). The crop
# stretches time only since 2026-12-04: BYOL-A's crop of the mel axis too
# (0.6-1.5x, a vocal tract 40 % shorter or 50 % longer) taught the encoder to
# ignore who speaks and what the formants say; without it the default's FSDD
# seeds gained on every 10-shot column (unseen speakers the most), and the
# quickstart's synthetic_audio pitch did not lose (docs/evaluation.md, "The
# frequency crop").
TUNED_AUGMENT = AugmentParams(gain_db=6.0, mixup_ratio=0.4, crop_scale=(0.6, 1.5),
                              freq_crop_scale=(1.0, 1.0), time_mask_frames=20, freq_mask_bins=8)
# Steps of the tuned recipe (batch 64): the time budget, about 12 minutes on a
# 2-vCPU CPU. Twice the 1,600 of 2026-12-03 gained 2.6 points on FSDD digits
# with 10 shots and 4.3 on unseen speakers over three seeds; batch 128 at 1,600
# steps (the same examples) gained as much on digits but lost 2.5 on speakers
# with 10 shots (docs/evaluation.md, "Twice the examples").
TUNED_STEPS = 3200
# Steps sized to the 20-minute budget where a task's step cost is far from
# triplet's. Audio2Vec CBoW encodes four context slices per example (104-119
# examples/s against triplet's 320 on 2 vCPUs, i.e. 29 minutes at 3,200 steps):
# 1,900 steps take 18-19 minutes and gained 2.0 on FSDD digits with 10 shots
# over 1,600, three seeds, with no probe column lower (docs/evaluation.md,
# "Goal 2: CBoW with 1,900 steps"). SkipGram (about 220 examples/s) ran 3,200
# steps in about 15.5 minutes; 3,700 take 17-18.5 and gained 1.0 on FSDD
# digits with 10 shots over three seeds, and 0.7 on the mean of the six probe
# columns (docs/evaluation.md, "Goal 2: SkipGram with 3,700 steps").
TUNED_STEPS_BY_TASK = {"audio2vec_cbow": 1900, "audio2vec_skipgram": 3700}


def recipe(task: str = DEFAULT_TASK, name: str = "tuned") -> Params:
  """The defaults a run starts from: the measured 'tuned' recipe or the 'paper's.

  'paper': the 2019 configuration (global max pool, constant-rate Adam, no
  augmentation), kept selectable and reported. 'tuned': what measurement on
  small real pools on a 2-core CPU favoured (docs/evaluation.md, 'Pretraining recipe'):
  mean and standard deviation over time of all five blocks' outputs
  (`multi_mean_std`, `TUNED_POOL_BLOCKS`), a cosine similarity for the contrastive task, a cosine
  schedule with warm-up, weight decay,
  gradient clipping, and the augmentations of `TUNED_AUGMENT` for every task
  (the temporal-context tasks too: two views should differ in loudness and
  background). Flags given on a command line override either.
  """
  if name not in RECIPES:
    raise ValueError(f"--recipe must be one of {', '.join(RECIPES)}, got {name!r}")
  base = Params()
  base = dataclasses.replace(base, task=dataclasses.replace(base.task, name=task))
  if name == "paper":
    return base
  return dataclasses.replace(
      base,
      encoder=dataclasses.replace(base.encoder, pooling="multi_mean_std", embedding_dim=0,
                                  pool_blocks=TUNED_POOL_BLOCKS),
      task=dataclasses.replace(base.task, contrastive_temperature=0.2,
                               contrastive_similarity="cosine",
                               contrastive_max_offset_frames=100),
      train=dataclasses.replace(base.train, steps=TUNED_STEPS_BY_TASK.get(task, TUNED_STEPS),
                                schedule="cosine", warmup_steps=100,
                                weight_decay=1e-4, clip_norm=5.0, concat_clips=0,
                                keep_checkpoints=10),
      augment=TUNED_AUGMENT)


def tiny() -> Params:
  """A preset for tests: a narrow encoder and a short schedule."""
  return Params(
      encoder=EncoderParams(width=0.25, embedding_dim=16),
      train=TrainParams(steps=20, batch_size=8, checkpoint_every_steps=10,
                        log_every_steps=5, shuffle_buffer=16))
