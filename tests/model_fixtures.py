"""Small models, inputs and runners shared by the unit and integration tiers."""

import dataclasses

import numpy as np
from absl import flags

from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import training_params

# Two encoder blocks instead of five: the code paths of the full encoder, a ~3x
# faster conversion. The on-device training tests use it as is; the federated
# ones through run_state.federated_params.
TWO_BLOCK_PARAMS = dataclasses.replace(
    recipes.tiny(),
    encoder=params_lib.EncoderParams(width=1.0, embedding_dim=16, base_channels=(4, 8),
                                     pooling="time_mean_max"),
    task=dataclasses.replace(training_params.TaskParams(), name="contrastive",
                             contrastive_temperature=0.2))


def windows(seed, count=4):
  """Log-mel-like windows: per-clip tone bands plus noise, so clips differ from each other."""
  rng = np.random.default_rng(seed)
  x = rng.normal(0.0, 0.3, (count, 96, 64, 1)).astype(np.float32)
  for i in range(count):
    x[i, :, (7 * i) % 60:(7 * i) % 60 + 4, 0] += 3.0
  return x


def latency_request(models, **overrides):
  """A latency-runner request over tests/conftest.py's tiny float32 .tflite."""
  request = {"models": [{"name": "tiny", "path": models["float32"], "inputs": [models["input"]]}],
             "configs": [{"threads": 1, "xnnpack": True}, {"threads": 1, "xnnpack": False}],
             "warmup_runs": 3, "num_runs": 20, "repeats": 2, "progress": False}
  request.update(overrides)
  return request


def run_command(command, args, capsys):
  """Runs a mobile_ssl.commands module's main() in-process: (exit code, stdout, stderr)."""
  values = flags.FlagValues()
  command.define_flags(values)
  rest = values([command.PROG, *args])
  try:
    code = command.main(rest, values)
  except SystemExit as e:
    code = e.code
  out = capsys.readouterr()
  return code, out.out, out.err
