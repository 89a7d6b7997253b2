"""Tests of mobile_ssl.commands.cli and the commands' flag parsing, in-process (no subprocess)."""

import dataclasses

import pytest
from absl import flags

from mobile_ssl.commands import cli
from mobile_ssl.commands import train as train_cmd
from mobile_ssl.core import params as params_lib


def test_flag_types_follow_the_defaults():
  fv = flags.FlagValues()
  for name, default in (("on", False), ("count", 3), ("rate", 0.5), ("scale", (0.6, 1.5)),
                        ("name", "x")):
    cli.define(fv, name, default, "help")
  fv(["prog", "--on", "--count=7", "--rate=2e-3", "--scale=0.8,1.25", "--name=y"])
  assert (fv.on, fv.count, fv.rate, fv.scale, fv.name) == (True, 7, 0.002, ["0.8", "1.25"], "y")
  assert fv["scale"].default == ["0.6", "1.5"]  # tuples of numbers become lists of strings
  with pytest.raises(flags.IllegalFlagValueError, match="count"):
    fv(["prog", "--count=seven"])


def test_dataclass_values_reads_fields_and_renames_and_makes_tuples():

  @dataclasses.dataclass(frozen=True)
  class Settings:
    threads: int = 1
    sizes: tuple = ("a",)

  fv = flags.FlagValues()
  cli.define(fv, "num_threads", 1, "")
  cli.define(fv, "sizes", ("a",), "")
  fv(["prog", "--num_threads=4", "--sizes=b,c"])
  values = cli.dataclass_values(Settings, fv, renames={"threads": "num_threads"})
  assert values == {"threads": 4, "sizes": ("b", "c")}
  assert Settings(**values) == Settings(4, ("b", "c"))


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
  assert params == dataclasses.replace(params_lib.recipe(), datasets=("a", "b@test"))


def test_train_flags_given_override_the_chosen_recipe():
  params = _train_flags("--task=temporal_gap", "--recipe=paper", "--crop_scale=0.8,1.2",
                        "--steps=50", "--width=0.5", "--encoder_variant=fast")
  paper = params_lib.recipe("temporal_gap", "paper")
  assert params.augment == dataclasses.replace(paper.augment, crop_scale=(0.8, 1.2))
  assert params.train == dataclasses.replace(paper.train, steps=50)
  assert params.encoder == dataclasses.replace(paper.encoder, width=0.5, variant="fast")
  assert params.task == paper.task


@pytest.mark.parametrize("args,message", [
    (["--crop_scale=big,1"], "--crop_scale: expected comma-separated numbers"),
    (["--crop_scale=1.5,0.5"], "--crop_scale must be two numbers 0 < low <= high"),
    (["--pooling=attention"], "--pooling must be one of max, mean_max, time_mean_max"),
    (["--width=-1"], "--width must be > 0"),
])
def test_bad_train_flags_are_clear_errors(args, message):
  with pytest.raises(ValueError, match=message):
    _train_flags(*args)


def test_unknown_task_is_refused_by_the_parser():
  with pytest.raises(flags.IllegalFlagValueError, match="temporal_gap"):
    _train_flags("--task=nope")
