"""The command-line flags of every command (mobile_ssl/commands/): fast, no model runs.

Each command defines its flags into a fresh `flags.FlagValues()`, so these
tests share no absl state with each other or with the console scripts.
"""

import dataclasses
import re
import sys

from absl import flags
import pytest
import tensorflow as tf

from mobile_ssl.benchmark import bench as bench_lib
from mobile_ssl.commands import bench
from mobile_ssl.commands import cli
from mobile_ssl.commands import data_service
from mobile_ssl.commands import evaluate
from mobile_ssl.commands import export_tflite
from mobile_ssl.commands import federated
from mobile_ssl.commands import quickstart
from mobile_ssl.commands import train
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import training_params
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.export import export_params as export_params_lib
from mobile_ssl.federated import run_state

# command module -> the params dataclasses whose fields are its flags.
COMMANDS = {
    train: [training_params.TrainParams, params_lib.EncoderParams, training_params.TaskParams,
            training_params.AugmentParams],
    evaluate: [eval_params_lib.EvalParams],
    export_tflite: [export_params_lib.ExportParams],
    bench: [bench_lib.BenchParams],
    federated: [run_state.FederatedParams],
    quickstart: [quickstart.QuickstartParams],
    data_service: [],
}
# Fields that are deliberately not flags ('flag': None in their metadata).
NOT_FLAGS = {
    training_params.TrainParams: {"keep_checkpoints"},
    params_lib.EncoderParams: {"base_channels"},
    training_params.TaskParams: {"name", "byol_hidden_dim", "byol_projection_dim", "num_classes"},
    training_params.AugmentParams: set(),
    eval_params_lib.EvalParams: {"shuffle_buffer"},
    export_params_lib.ExportParams: set(),
    bench_lib.BenchParams: set(),
    run_state.FederatedParams: {"min_clients"},
    quickstart.QuickstartParams: set(),
}
ids = lambda module: module.__name__.rsplit(".", 1)[-1]  # pylint: disable=unnecessary-lambda-assignment
WITH_PARAMS = [m for m, classes in COMMANDS.items() if classes]


def _flags(module, *args) -> flags.FlagValues:
  fv = flags.FlagValues()
  module.define_flags(fv)
  fv([module.PROG, *args])
  return fv


def _defaults(module, cls):
  """What a run without the flag gets: the tuned recipe's sections for train."""
  if module is train:
    section = {training_params.TrainParams: "train", params_lib.EncoderParams: "encoder",
               training_params.TaskParams: "task", training_params.AugmentParams: "augment"}[cls]
    return getattr(recipes.recipe(), section)
  return cls()


# Values that the command itself validates before it would run anything.
VALID = {"pooling": ("mean_max", "mean_max"), "crop_scale": ("0.5,1.25", (0.5, 1.25)),
         "contrastive_similarity": ("bilinear", "bilinear")}


def _other_value(f: cli.FieldFlag, default):
  """(argument, value) setting the field to something other than its default."""
  if f.flag in VALID:
    text, value = VALID[f.flag]
    return f"--{f.flag}={text}", value
  if "enum" in f.field.metadata:
    value = next(c for c in f.field.metadata["enum"] if c != default)
  elif f.kind is bool:
    return (f"--no{f.flag}" if default else f"--{f.flag}"), not default
  elif f.kind is int:
    value = (default or 0) + 3
  elif f.kind is float:
    value = (default or 0.0) + 0.25
  elif f.kind is tuple:
    value = ("a", "b") if f.item is str else (0.5, 1.25)
    return f"--{f.flag}={','.join(map(str, value))}", value
  else:
    value = f"x_{f.flag}"
  return f"--{f.flag}={value}", value


@pytest.mark.parametrize("module", WITH_PARAMS, ids=ids)
def test_every_flag_sets_its_field(module):
  args, expected = [], {}
  for cls in COMMANDS[module]:
    for f in cli.field_flags(cls):
      arg, value = _other_value(f, getattr(_defaults(module, cls), f.field.name))
      args.append(arg)
      expected[cls, f.field.name] = value
  fv = _flags(module, *args)
  if module is train:  # the command's own path: the recipe, overridden by the flags given
    params = train.params_from_flags(fv)
    got = {cls: getattr(params, section) for cls, section in zip(
        COMMANDS[train], ("train", "encoder", "task", "augment"))}
  elif module is bench:
    got = {bench_lib.BenchParams: bench.params_from_flags(fv)}
  else:
    got = {cls: cls(**cli.dataclass_values(cls, fv)) for cls in COMMANDS[module]}
  for (cls, field), value in expected.items():
    assert getattr(got[cls], field) == value, (cls.__name__, field)


def test_train_renamed_flag():
  fv = _flags(train, "--encoder_variant=fast")
  assert train.params_from_flags(fv).encoder.variant == "fast"
  assert "variant" not in fv


@pytest.mark.parametrize("module", WITH_PARAMS, ids=ids)
def test_defaults_are_the_dataclass_defaults(module):
  fv = _flags(module)
  for cls in COMMANDS[module]:
    defaults = _defaults(module, cls)
    assert dataclasses.replace(defaults, **cli.dataclass_values(cls, fv)) == defaults
    assert cli.dataclass_values(cls, fv, present_only=True) == {}
  if module is train:
    assert train.params_from_flags(fv) == recipes.recipe()


@pytest.mark.parametrize("cls", list(NOT_FLAGS), ids=lambda c: c.__name__)
def test_fields_are_flags_unless_marked(cls):
  names = {f.field.name for f in cli.field_flags(cls)}
  assert names | NOT_FLAGS[cls] == {f.name for f in dataclasses.fields(cls)}
  assert not names & NOT_FLAGS[cls]
  module = next(m for m, classes in COMMANDS.items() if cls in classes)
  fv = _flags(module)
  for name in NOT_FLAGS[cls] - {"name"}:  # train's --task sets TaskParams.name
    assert name not in fv, name


def test_a_field_without_help_or_flag_none_is_an_error():
  @dataclasses.dataclass(frozen=True)
  class Undecided:
    x: int = 1
  with pytest.raises(TypeError, match="Undecided.x"):
    cli.define_dataclass(flags.FlagValues(), Undecided)


@pytest.mark.parametrize("module", list(COMMANDS), ids=ids)
def test_helpshort_lists_the_flags(module):
  fv = _flags(module)
  # --helpshort lists the flags of module sys.argv[0]: cli.where defines them there for
  # absl's FLAGS (the console script), and under 'mobile_ssl' for any other FlagValues.
  assert cli.where(flags.FLAGS)["module_name"] == sys.argv[0]
  text = fv.module_help("mobile_ssl")
  names = {name for name, flag in fv._flags().items() if name == flag.name}  # pylint: disable=protected-access
  assert names
  for name in names:
    assert re.search(rf"--(\[no\])?{name}:", text), name


PARSE_ERRORS = [
    (train, "--steps=abc", "--steps"),
    (train, "--task=nope", "--task"),
    (evaluate, "--batch_size=abc", "--batch_size"),
    (export_tflite, "--quantization=int4", "--quantization"),
    (export_tflite, "--min_mean_cosine=high", "--min_mean_cosine"),
    (bench, "--seed=1.5", "--seed"),
    (bench, "--android_mode=usb", "--android_mode"),
    (federated, "--rounds=ten", "--rounds"),
    (federated, "--strategy=fedsgd", "--strategy"),
    (quickstart, "--peer=nope", "--peer"),
    (data_service, "--nope=1", "nope"),
]


@pytest.mark.parametrize("module,arg,names", PARSE_ERRORS, ids=lambda v: getattr(
    v, "__name__", str(v)).rsplit(".", 1)[-1])
def test_a_bad_flag_exits_2_with_one_line(module, arg, names, capsys):
  fv = flags.FlagValues()
  module.define_flags(fv)
  with pytest.raises(SystemExit) as e:
    cli._parse(module.PROG, [module.PROG, arg], fv)  # pylint: disable=protected-access
  assert e.value.code == cli.CANNOT_RUN
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith(f"{module.PROG}: error: "), lines
  assert names in lines[0]


@pytest.mark.parametrize("module,args,message", [
    (train, ["--crop_scale=a,b"], "--crop_scale: expected comma-separated numbers"),
    (train, ["--pooling=sum"], "--pooling must be one of"),
    (evaluate, ["--encoders=untrained", "--tasks=SYN_EVENT", "--output_dir=unused",
                "--batch_size=0"], "--batch_size must be >= 1, got 0"),
    (evaluate, ["--encoders=untrained", "--tasks=SYN_EVENT", "--output_dir=unused",
                "--probe_iterations=0"], "--probe_iterations must be >= 1, got 0"),
    (export_tflite, [], "--encoder is required"),
    (bench, ["--threads=0"], "--threads: '0' must be >= 1"),
    (federated, ["--model_dir=unused"], "--dataset is required"),
    (quickstart, ["--steps=0", "--output_dir=unused"], "--steps and --batch_size must be >= 1"),
    (quickstart, ["--probe_iterations=0", "--output_dir=unused"],
     "--probe_iterations must be >= 1, got 0"),
], ids=lambda v: getattr(v, "__name__", "").rsplit(".", 1)[-1] or None)
def test_a_bad_value_is_exit_code_2_from_main(module, args, message, capsys):
  fv = _flags(module, *args)
  assert module.main([module.PROG], fv) == cli.CANNOT_RUN
  captured = capsys.readouterr()
  lines = captured.err.strip().splitlines()
  assert lines == [f"{module.PROG}: error: {lines[0].split(': error: ', 1)[1]}"], lines
  assert message in lines[0]
  assert not captured.out


@pytest.mark.parametrize("module", [train, evaluate, quickstart],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_deterministic_after_tensorflow_ran_is_one_line_and_no_work(module, tmp_path, capsys):
  """--deterministic must be set before the first op; this process has run ops already."""
  assert float(tf.constant(1.0) + 1.0) == 2.0  # TensorFlow has run an op in this process
  fv = _flags(module, "--deterministic", f"--output_dir={tmp_path / 'out'}"
              if "output_dir" in _flags(module) else f"--model_dir={tmp_path / 'out'}")
  assert fv.deterministic
  with pytest.raises(SystemExit) as e:
    module.main([module.PROG], fv)
  assert e.value.code == cli.CANNOT_RUN
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 1, lines
  assert lines[0].startswith(f"{module.PROG}: error: --deterministic: deterministic training "
                             "must be chosen before TensorFlow runs its first op")
  assert not (tmp_path / "out").exists()
  assert tf.config.threading.get_inter_op_parallelism_threads() != 1  # left as it was


def test_commands_define_into_separate_flag_values_without_collisions():
  """train, federated, evaluate and quickstart share names (--seed, --model_dir, ...)."""
  values = {}
  for i, module in enumerate(COMMANDS):
    values[module] = _flags(module, f"--seed={i}") if "seed" in _flags(module) else None
  again = _flags(train, "--seed=99")  # the same command twice in one process
  for i, module in enumerate(COMMANDS):
    if values[module] is not None:
      assert values[module].seed == i
  assert again.seed == 99 and values[train].seed == 0
  assert "seed" not in flags.FLAGS  # nothing leaked into absl's global FlagValues


def test_params_json_unchanged_by_flag_metadata():
  for name in recipes.RECIPES:
    p = recipes.recipe(name=name)
    assert params_lib.from_json(p.to_json()) == p
    assert "help" not in p.to_json() and "metadata" not in p.to_json()


def test_train_cache_dir_under_a_file_is_one_line_before_any_work(tmp_path, capsys):
  """mobile-ssl-train refuses a --cache_dir under a file before it makes the run folder
  (before session 55: a NotADirectoryError traceback, and params.json left behind)."""
  blocker = tmp_path / "file"
  blocker.write_text("x")
  fv = _flags(train, f"--model_dir={tmp_path / 'run'}", f"--cache_dir={blocker}",
              "--task=triplet", "--steps=1")
  assert train.main([train.PROG], fv) == cli.CANNOT_RUN
  lines = capsys.readouterr().err.strip().splitlines()
  assert lines == [f"mobile-ssl-train: error: --cache_dir={blocker}: {blocker} is not a "
                   "writable folder"], lines
  assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flag", ["output_dir", "cache_dir"])
def test_eval_folder_under_a_file_is_one_line_before_any_work(flag, tmp_path, capsys):
  """mobile-ssl-eval refuses an --output_dir or --cache_dir under a file before embedding."""
  blocker = tmp_path / "file"
  blocker.write_text("x")
  folders = {"output_dir": str(tmp_path / "out"), "cache_dir": str(tmp_path / "cache")}
  folders[flag] = str(blocker / "sub")
  fv = _flags(evaluate, "--encoders=untrained", "--tasks=SYN_EVENT",
              *(f"--{k}={v}" for k, v in folders.items()))
  assert evaluate.main([evaluate.PROG], fv) == cli.CANNOT_RUN
  lines = capsys.readouterr().err.strip().splitlines()
  assert lines == [f"mobile-ssl-eval: error: --{flag}={blocker}/sub: {blocker} is not a "
                   "writable folder"], lines
  assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()
