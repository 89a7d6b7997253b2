"""What every command shares: how flags are defined and parsed, and one exit-code rule.

Exit codes of every mobile_ssl command:
  0  done;
  1  the job ran, and its result failed a check the user asked it to pass
     (export_tflite refuses to write a file below its validation thresholds);
  2  it could not run: an unknown or bad flag, a missing path, unreadable audio.
     The reason is one line on stderr, `PROG: error: ...`, naming the flag or file.

Each command module has `define_flags(fv)`, which defines its flags in the
FlagValues it is given, and `main(argv, fv)`. The console script passes absl's
global FLAGS (`run` below); a test or another program passes a fresh
`flags.FlagValues()`, so two commands imported into one process never collide
on a shared flag name such as --model_dir.

Flags that set a field of a frozen params dataclass are generated from it
(`define_dataclass`, `dataclass_values`): the field's type gives the flag's
type, its default (or that of an instance given, e.g. the tuned recipe's) the
flag's default, and its metadata the rest:

  dataclasses.field(default=..., metadata={"help": "..."})          # --FIELD
  dataclasses.field(default=..., metadata={"help": ..., "flag": "encoder_variant"})
  dataclasses.field(default=..., metadata={"help": ..., "enum": CHOICES})  # DEFINE_enum
  dataclasses.field(default=..., metadata={"flag": None})            # not a flag

A field with neither help nor flag=None is an error when its flags are
defined, so a new field cannot become a flag without help by accident.
"""

import dataclasses
import functools
import sys
import types
import typing

from absl import app
from absl import flags
from absl import logging

from mobile_ssl.core import determinism

OK = 0
CHECK_FAILED = 1
CANNOT_RUN = 2


def where(fv: flags.FlagValues) -> dict:
  """Keyword arguments for flags.DEFINE_*: into `fv`, listed by --helpshort."""
  module = sys.argv[0] if fv is flags.FLAGS else "mobile_ssl"
  return {"flag_values": fv, "module_name": module}


def _define(fv: flags.FlagValues, name: str, kind, default, help_text: str,
            enum: typing.Optional[typing.Sequence[str]] = None) -> None:
  kw = where(fv)
  if enum is not None:
    flags.DEFINE_enum(name, default, list(enum), help_text, **kw)
  elif kind is bool:
    flags.DEFINE_bool(name, default, help_text, **kw)
  elif kind is int:
    flags.DEFINE_integer(name, default, help_text, **kw)
  elif kind is float:
    flags.DEFINE_float(name, default, help_text, **kw)
  elif kind is tuple:
    flags.DEFINE_list(name, [v if isinstance(v, str) else f"{v:g}" for v in default],
                      help_text, **kw)
  else:
    flags.DEFINE_string(name, default, help_text, **kw)


class FieldFlag(typing.NamedTuple):
  """A dataclass field that is a flag: its flag name, type, (tuple) element type and,
  for a fixed-length tuple such as Tuple[float, float], its length."""
  flag: str
  field: dataclasses.Field
  kind: type
  item: typing.Optional[type]
  length: typing.Optional[int] = None  # None: any length (Tuple[X, ...]) or not a tuple


def field_flags(cls) -> typing.List[FieldFlag]:
  """The fields of `cls` that are flags, in field order (metadata: module docstring)."""
  hints = typing.get_type_hints(cls)
  out = []
  for field in dataclasses.fields(cls):
    meta = field.metadata
    if "flag" in meta and meta["flag"] is None:
      continue
    if "help" not in meta:
      raise TypeError(f"{cls.__name__}.{field.name}: give it metadata 'help' (a flag) or "
                      "'flag': None (not a flag)")
    kind, item, length = hints[field.name], None, None
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
      kind = args[0]  # Optional[X]: a flag of type X, default None
    if typing.get_origin(kind) is tuple:
      items = typing.get_args(kind)
      length = None if Ellipsis in items else len(items)
      kind, item = tuple, items[0]
    out.append(FieldFlag(meta.get("flag", field.name), field, kind, item, length))
  return out


def define_dataclass(fv: flags.FlagValues, cls, defaults=None) -> None:
  """One flag per field of `cls` that is a flag; defaults from the instance `defaults`
  (default: `cls()`), so --help shows what a run without the flag gets."""
  defaults = cls() if defaults is None else defaults
  for f in field_flags(cls):
    _define(fv, f.flag, f.kind, getattr(defaults, f.field.name), f.field.metadata["help"],
            f.field.metadata.get("enum"))


def dataclass_values(cls, fv: flags.FlagValues, present_only: bool = False) -> dict:
  """{field: value} for `cls`'s fields that are flags (`define_dataclass`); list flags
  become tuples of the field's element type, as the frozen dataclasses hold them.
  present_only: only the flags given on the command line (to override a recipe).
  A list item of the wrong type raises ValueError naming the flag."""
  values = {}
  for f in field_flags(cls):
    if present_only and not fv[f.flag].present:
      continue
    value = fv[f.flag].value
    if f.kind is tuple and value is not None:
      try:
        value = tuple(v if f.item is str else f.item(v) for v in value)
      except ValueError:
        raise ValueError(f"--{f.flag}: expected comma-separated numbers, got {value}") from None
      if f.length is not None and len(value) != f.length:
        raise ValueError(f"--{f.flag}: expected {f.length} comma-separated values, got "
                         f"{len(value)} ({','.join(map(str, value))})")
    values[f.field.name] = value
  return values


def error(prog: str, message) -> int:
  """Prints the one-line error and returns the exit code of a command that could not run."""
  print(f"{prog}: error: {message}", file=sys.stderr)
  return CANNOT_RUN


def check_no_arguments(prog: str, argv: typing.Sequence[str]) -> None:
  if len(argv) > 1:
    sys.exit(error(prog, f"unexpected arguments: {' '.join(argv[1:])}"))


def define_deterministic(fv: flags.FlagValues) -> None:
  """--deterministic, for the commands that train (core/determinism.py)."""
  flags.DEFINE_bool("deterministic", False,
                    "Train the same weights to the bit from the same seed: TensorFlow runs one "
                    "op at a time (a two-branch task such as triplet trained 1.5x as long on 2 "
                    "cores; docs/evaluation.md).", **where(fv))


def apply_deterministic(prog: str, fv: flags.FlagValues) -> None:
  """Applies --deterministic before anything runs; exits 2 with one line if it is too late."""
  if fv.deterministic:
    try:
      determinism.make_deterministic()
    except RuntimeError as e:
      sys.exit(error(prog, f"--deterministic: {e}"))


def quiet_logs(fv: flags.FlagValues) -> None:
  """TFDS logs every file it opens at INFO; commands log warnings unless --verbosity is given."""
  if "verbosity" not in fv or not fv["verbosity"].present:
    logging.set_verbosity(logging.WARNING)


def _parse(prog: str, argv: typing.List[str],
           fv: typing.Optional[flags.FlagValues] = None) -> typing.List[str]:
  """Parses `argv` into `fv` (default: absl's FLAGS); a bad flag exits 2 with one line."""
  try:
    return (flags.FLAGS if fv is None else fv)(argv)
  except flags.Error as e:  # absl would exit 1 with a 'FATAL' banner
    sys.exit(error(prog, f"{e} (--helpshort lists the flags)"))


def run(prog: str, define_flags: typing.Callable, main: typing.Callable,
        required: typing.Sequence[str] = ()) -> None:
  """The console script: flags in absl's global FLAGS, parsed with the exit-code rule."""
  define_flags(flags.FLAGS)
  for name in required:
    flags.mark_flag_as_required(name)
  app.run(functools.partial(_main, main), flags_parser=functools.partial(_parse, prog))


def _main(main, argv):
  return main(argv, flags.FLAGS)
