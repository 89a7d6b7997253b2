"""Tests of mobile_ssl.core.params, training_params and recipes: JSON, sizes, validation, recipes."""

import dataclasses
import json

import pytest

from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import training_params


@pytest.mark.parametrize("make", [params_lib.Params, recipes.tiny, recipes.recipe,
                                  lambda: recipes.recipe("temporal_gap", "paper")])
def test_json_round_trip_keeps_every_field_and_tuple(make):
  params = make()
  back = params_lib.from_json(params.to_json())
  assert back == params
  # Tuples come back as tuples (JSON has only lists): the frozen dataclasses compare equal.
  assert isinstance(back.encoder.base_channels, tuple) and isinstance(back.datasets, tuple)
  assert isinstance(back.augment.crop_scale, tuple)
  assert json.loads(params.to_json())["version"] == 1


def test_unknown_keys_name_the_section_and_the_known_fields():
  values = params_lib.Params().to_dict()
  with pytest.raises(ValueError, match=r"params\['encoder'\]: unknown parameter\(s\) \['depth'\]"
                                       r".*'width'"):
    params_lib.from_dict(dict(values, encoder=dict(values["encoder"], depth=3)))
  with pytest.raises(ValueError, match="unknown section 'optimizer'"):
    params_lib.from_dict(dict(values, optimizer={}))
  # A section left out keeps its defaults.
  partial = params_lib.from_dict({"train": {"steps": 7}})
  assert partial.train.steps == 7 and partial.encoder == params_lib.EncoderParams()


def test_front_end_sizes_follow_the_rates():
  fp = params_lib.FeatureParams()
  assert (fp.window_samples, fp.hop_samples) == (400, 160)
  assert fp.slice_samples == 95 * 160 + 400 == 15600 and fp.slice_seconds == 0.975
  at_8k = dataclasses.replace(fp, sample_rate_hz=8000, mel_max_hz=3800.0)
  assert (at_8k.window_samples, at_8k.hop_samples, at_8k.slice_samples) == (200, 80, 7800)


@pytest.mark.parametrize("width,pooling,embedding_dim,expected", [
    (1.0, "max", 128, 128),  # a dense layer: its size
    (1.0, "max", 0, 128),  # the last block's channels
    (1.0, "mean_max", 0, 256),
    (1.0, "time_mean_max", 0, 2 * 2 * 128),  # 64 bins halved 5 times: 2 bins left
    (0.5, "time_mean_max", 0, 2 * 2 * 64),
    (0.25, "mean_max", 0, 2 * 32),
])
def test_output_dim(width, pooling, embedding_dim, expected):
  encoder = params_lib.EncoderParams(width=width, pooling=pooling, embedding_dim=embedding_dim)
  assert encoder.output_dim() == expected


def test_output_dim_counts_the_blocks_and_bins():
  # Three blocks over 40 bins: 40 -> 20 -> 10 -> 5 bins; channels 8 * 0.5 rounded.
  encoder = params_lib.EncoderParams(base_channels=(8, 16, 30), width=0.5, embedding_dim=0,
                                     pooling="time_mean_max")
  assert encoder.channels() == (4, 8, 15)
  assert encoder.output_dim(params_lib.FeatureParams(num_mel_bins=40)) == 2 * 5 * 15
  assert params_lib.EncoderParams(width=0.01).channels() == (1, 1, 1, 1, 1)  # never 0 channels


@pytest.mark.parametrize("bad,message", [
    (params_lib.FeatureParams(fft_length=256), "power of two >= the window"),
    (params_lib.FeatureParams(mel_max_hz=9000.0), "mel range 125.0-9000.0 Hz"),
    (params_lib.FeatureParams(stft_dtype="float16"), "stft_dtype"),
    (params_lib.FeatureParams(num_mel_bins=0), "positive"),
    (params_lib.EncoderParams(width=0.0), "--width must be > 0"),
    (training_params.AugmentParams(gain_db=-1.0), "--gain_db"),
    (training_params.AugmentParams(eq_db=-1.0), "--eq_db"),
    (training_params.AugmentParams(crop_scale=(0.0, 1.0)), "--crop_scale"),
    (training_params.TaskParams(audio2vec_target="raw"), "--audio2vec_target must be one of"),
])
def test_validation_names_the_parameter(bad, message):
  with pytest.raises(ValueError, match=message):
    bad.validate()


@pytest.mark.parametrize("augment,message", [
    # A params.json with one number or three: the flags check the count, and so does the file.
    ({"crop_scale": [0.6, 1.0, 1.5]}, r"params\['augment'\]\['crop_scale'\]: expected 2 values"),
    ({"freq_crop_scale": [1.0]}, r"params\['augment'\]\['freq_crop_scale'\]: expected 2 values"),
    ({"crop_scale": 1.0}, r"\['crop_scale'\]: expected 2 values, got 1.0"),
])
def test_params_file_tuples_need_their_length(augment, message):
  values = recipes.recipe().to_dict()
  values["augment"].update(augment)
  with pytest.raises(ValueError, match=message):
    params_lib.from_dict(values)
  # Variable-length tuples take any count.
  values = recipes.recipe().to_dict()
  values["encoder"]["base_channels"] = [4, 8, 16]
  assert params_lib.from_dict(values).encoder.base_channels == (4, 8, 16)


def test_defaults_validate():
  params = recipes.recipe()
  assert params.features.validate() is params.features
  assert params.encoder.validate() is params.encoder
  assert params.augment.validate() is params.augment


def test_augment_enabled_by_any_augmentation():
  assert not training_params.AugmentParams().enabled
  for change in ({"gain_db": 1.0}, {"eq_db": 1.0}, {"mixup_ratio": 0.1},
                 {"crop_scale": (0.9, 1.0)}, {"time_mask_frames": 1}, {"freq_mask_bins": 1}):
    assert training_params.AugmentParams(**change).enabled, change


def test_recipes():
  paper = recipes.recipe("triplet", "paper")
  assert paper == dataclasses.replace(params_lib.Params(), task=training_params.TaskParams(
      name="triplet"))
  tuned = recipes.recipe()
  assert tuned.task.name == recipes.DEFAULT_TASK == "triplet"
  assert (tuned.encoder.pooling, tuned.encoder.embedding_dim) == ("multi_mean_std", 0)
  assert tuned.encoder.pool_blocks == 5 and tuned.encoder.output_dim() == 2560
  assert params_lib.Params().encoder.pool_blocks == 3  # what older run directories had
  assert tuned.task.contrastive_similarity == "cosine"
  assert (tuned.train.schedule, tuned.train.concat_clips) == ("cosine", 0)
  assert (tuned.train.steps, tuned.train.batch_size) == (recipes.TUNED_STEPS, 64) == (3200, 64)
  # Steps follow a task's step cost where it is far from triplet's: the same time budget.
  assert recipes.recipe("audio2vec_cbow").train.steps == 1900 < recipes.TUNED_STEPS
  assert recipes.recipe("audio2vec_skipgram").train.steps == 3700 > recipes.TUNED_STEPS
  assert recipes.recipe("temporal_gap").train.steps == recipes.TUNED_STEPS
  assert tuned.augment == recipes.TUNED_AUGMENT and tuned.augment.enabled
  with pytest.raises(ValueError, match="--recipe must be one of tuned, paper, got 'best'"):
    recipes.recipe(name="best")


def test_params_are_frozen():
  with pytest.raises(dataclasses.FrozenInstanceError):
    params_lib.Params().encoder.width = 2.0
