"""The metadata convention of settings dataclasses, and the check it allows.

Every stage keeps its settings as a frozen dataclass (`params.Params` for a
training run; `EvalParams`, `ExportParams`, `BenchParams`, `FederatedParams`,
`QuickstartParams`: docs/architecture.md). A field's `metadata` holds its
command-line help ('help'), the flag's name where it differs ('flag'; None: not
a flag) and, for a choice, its allowed values ('enum'). The commands generate
their flags from it (mobile_ssl/commands/cli.py, `define_dataclass`); this
module holds what library code does with it: `check_choices`, which refuses a
value set in code or read from JSON that the flag would have refused.
"""

import dataclasses


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
