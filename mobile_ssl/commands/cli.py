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
"""

import dataclasses
import functools
import sys
import typing

from absl import app
from absl import flags
from absl import logging

OK = 0
CHECK_FAILED = 1
CANNOT_RUN = 2


def where(fv: flags.FlagValues) -> dict:
  """Keyword arguments for flags.DEFINE_*: into `fv`, listed by --helpshort."""
  module = sys.argv[0] if fv is flags.FLAGS else "mobile_ssl"
  return {"flag_values": fv, "module_name": module}


def define(fv: flags.FlagValues, name: str, default, help_text: str) -> None:
  """Defines a flag whose type follows its default (bool, int, float, tuple -> list, str)."""
  kw = where(fv)
  if isinstance(default, bool):
    flags.DEFINE_bool(name, default, help_text, **kw)
  elif isinstance(default, int):
    flags.DEFINE_integer(name, default, help_text, **kw)
  elif isinstance(default, float):
    flags.DEFINE_float(name, default, help_text, **kw)
  elif isinstance(default, tuple):
    flags.DEFINE_list(name, [v if isinstance(v, str) else f"{v:g}" for v in default],
                      help_text, **kw)
  else:
    flags.DEFINE_string(name, default, help_text, **kw)


def dataclass_values(cls, fv: flags.FlagValues, renames: typing.Mapping[str, str] = None) -> dict:
  """{field: value} of `cls`'s fields from flags of the same name (or `renames[field]`);
  list flags become tuples, as the frozen dataclasses hold them."""
  values = {}
  for field in dataclasses.fields(cls):
    value = fv[(renames or {}).get(field.name, field.name)].value
    values[field.name] = tuple(value) if isinstance(value, list) else value
  return values


def error(prog: str, message) -> int:
  """Prints the one-line error and returns the exit code of a command that could not run."""
  print(f"{prog}: error: {message}", file=sys.stderr)
  return CANNOT_RUN


def check_no_arguments(prog: str, argv: typing.Sequence[str]) -> None:
  if len(argv) > 1:
    sys.exit(error(prog, f"unexpected arguments: {' '.join(argv[1:])}"))


def quiet_logs(fv: flags.FlagValues) -> None:
  """TFDS logs every file it opens at INFO; commands log warnings unless --verbosity is given."""
  if "verbosity" not in fv or not fv["verbosity"].present:
    logging.set_verbosity(logging.WARNING)


def _parse(prog: str, argv: typing.List[str]) -> typing.List[str]:
  try:
    return flags.FLAGS(argv)
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
