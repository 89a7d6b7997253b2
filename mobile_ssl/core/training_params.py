"""How a run trains: the pretext task, the optimisation and the augmentations.

The sections `task`, `train` and `augment` of a run's `params.Params`: what
pretraining, fine-tuning and a federated round train with. The model's own
sections (front end, encoder), which every later stage reads back from a run,
are in params.py beside `Params`. mobile-ssl-train makes one flag per field
from each field's metadata (fields.py).
"""

import dataclasses
import typing

from mobile_ssl.core import fields

SIMILARITIES = ("bilinear", "cosine")  # of the contrastive task
AUDIO2VEC_TARGETS = ("log_mel", "normalized")  # what Audio2Vec reconstructs


@dataclasses.dataclass(frozen=True)
class AugmentParams:
  """Random changes applied to every log-mel view a task feeds the encoder.

  All off by default (the paper used none); `recipes.recipe()` switches them on.
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
    fields.check_choices(self)  # --audio2vec_target
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

