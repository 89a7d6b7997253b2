"""Tests of mobile_ssl.commands.cli and the commands' flag parsing, in-process (no subprocess)."""

import dataclasses
import typing

import pytest
from absl import flags

from mobile_ssl.commands import cli
from mobile_ssl.commands import train as train_cmd
from mobile_ssl.core import recipes


@dataclasses.dataclass(frozen=True)
class _Settings:
  on: bool = dataclasses.field(default=False, metadata={"help": "a bool"})
  count: int = dataclasses.field(default=3, metadata={"help": "an int", "flag": "num_count"})
  rate: float = dataclasses.field(default=0.5, metadata={"help": "a float"})
  scale: typing.Tuple[float, ...] = dataclasses.field(default=(0.6, 1.5), metadata={"help": "t"})
  mode: str = dataclasses.field(default="a", metadata={"help": "a choice", "enum": ("a", "b")})
  note: typing.Optional[str] = dataclasses.field(default=None, metadata={"help": "optional"})
  hidden: int = dataclasses.field(default=9, metadata={"flag": None})


def test_flags_follow_the_field_types_names_and_defaults():
  fv = flags.FlagValues()
  cli.define_dataclass(fv, _Settings)
  assert "hidden" not in fv and "count" not in fv  # not a flag; renamed
  assert fv["scale"].default == ["0.6", "1.5"]  # tuples of numbers become lists of strings
  fv(["prog", "--on", "--num_count=7", "--rate=2e-3", "--scale=0.8,1.25", "--mode=b",
      "--note=x"])
  assert cli.dataclass_values(_Settings, fv) == {
      "on": True, "count": 7, "rate": 0.002, "scale": (0.8, 1.25), "mode": "b", "note": "x"}
  with pytest.raises(flags.IllegalFlagValueError, match="num_count"):
    fv(["prog", "--num_count=seven"])
  with pytest.raises(flags.IllegalFlagValueError, match="mode"):
    fv(["prog", "--mode=c"])


def test_only_present_flags_and_bad_list_items_name_the_flag():
  fv = flags.FlagValues()
  cli.define_dataclass(fv, _Settings, defaults=_Settings(rate=0.25))
  assert fv["rate"].default == 0.25  # the defaults instance, e.g. a recipe
  fv(["prog", "--rate=1"])
  assert cli.dataclass_values(_Settings, fv, present_only=True) == {"rate": 1.0}
  fv(["prog", "--scale=0.5,big"])
  with pytest.raises(ValueError, match="--scale: expected comma-separated numbers"):
    cli.dataclass_values(_Settings, fv)


def test_a_field_without_help_or_flag_none_is_refused():

  @dataclasses.dataclass(frozen=True)
  class Bad:
    x: int = 1

  with pytest.raises(TypeError, match="Bad.x: give it metadata 'help'"):
    cli.define_dataclass(flags.FlagValues(), Bad)


def test_error_is_one_line_and_exit_code_two(capsys):
  assert cli.error("mobile-ssl-x", ValueError("--steps must be >= 1")) == cli.CANNOT_RUN == 2
  assert capsys.readouterr().err == "mobile-ssl-x: error: --steps must be >= 1\n"
  with pytest.raises(SystemExit) as exit_info:
    cli.check_no_arguments("mobile-ssl-x", ["mobile-ssl-x", "stray", "words"])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == "mobile-ssl-x: error: unexpected arguments: stray words\n"
  cli.check_no_arguments("mobile-ssl-x", ["mobile-ssl-x"])  # nothing extra: no exit
  assert (cli.OK, cli.CHECK_FAILED) == (0, 1)


def test_where_lists_flags_under_the_program_or_the_library():
  fv = flags.FlagValues()
  assert cli.where(fv) == {"flag_values": fv, "module_name": "mobile_ssl"}


def _train_flags(*args):
  fv = flags.FlagValues()
  train_cmd.define_flags(fv)
  fv(["mobile-ssl-train", *args])
  return train_cmd.params_from_flags(fv)


def test_train_flags_start_from_the_tuned_recipe():
  params = _train_flags("--dataset=a,b@test")
  assert params == dataclasses.replace(recipes.recipe(), datasets=("a", "b@test"))


def test_train_flags_given_override_the_chosen_recipe():
  params = _train_flags("--task=temporal_gap", "--recipe=paper", "--crop_scale=0.8,1.2",
                        "--steps=50", "--width=0.5", "--encoder_variant=fast")
  paper = recipes.recipe("temporal_gap", "paper")
  assert params.augment == dataclasses.replace(paper.augment, crop_scale=(0.8, 1.2))
  assert params.train == dataclasses.replace(paper.train, steps=50)
  assert params.encoder == dataclasses.replace(paper.encoder, width=0.5, variant="fast")
  assert params.task == paper.task


@pytest.mark.parametrize("args,message", [
    (["--crop_scale=big,1"], "--crop_scale: expected comma-separated numbers"),
    (["--freq_crop_scale=0.8"], r"--freq_crop_scale: expected 2 comma-separated values, got 1 \(0.8\)"),
    (["--crop_scale=0.6,1,1.5"], "--crop_scale: expected 2 comma-separated values, got 3"),
    (["--crop_scale=1.5,0.5"], "--crop_scale must be two numbers 0 < low <= high"),
    (["--pooling=attention"], "--pooling must be one of max, mean_max, time_mean_max, multi_mean_std"),
    (["--width=-1"], "--width must be > 0"),
    (["--contrastive_similarity=dot"], "--contrastive_similarity must be one of bilinear, cosine"),
])
def test_bad_train_flags_are_clear_errors(args, message):
  with pytest.raises(ValueError, match=message):
    _train_flags(*args)


def test_unknown_task_is_refused_by_the_parser():
  with pytest.raises(flags.IllegalFlagValueError, match="temporal_gap"):
    _train_flags("--task=nope")
