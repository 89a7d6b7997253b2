"""int8 calibration audio: the one sampler of real 975 ms waveform windows.

`export_tflite` and the benchmark's line-up (mobile_ssl/benchmark/lineup.py)
both calibrate with `calibration_windows`, so for the same encoder and
settings the benchmark times byte for byte the file a user ships.
"""

import typing

import numpy as np

from mobile_ssl.core import params as params_lib
from mobile_ssl.data import datasets
from mobile_ssl.export import validation

# Non-overlapping windows (more distinct audio per window), at most 4 per clip
# (so the set spans many clips), in file order of the split: deterministic.
CALIBRATION_HOP_SECONDS = 0.975
CALIBRATION_WINDOWS_PER_CLIP = 4
DEFAULT_CALIBRATION_WINDOWS = 200


def calibration_windows(spec: str, count: int = DEFAULT_CALIBRATION_WINDOWS,
                        feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
                        *, data_dir: typing.Optional[str] = None, default_split: str = "train",
                        progress: bool = False) -> typing.Tuple[np.ndarray, dict]:
  """The one int8 calibration sampler: real 975 ms waveform windows of a dataset split.

  Args:
    spec: TFDS name, NAME@SPLIT or audio folder; or several, comma-separated
      (a pool, as `mobile-ssl-train --dataset` takes it), each giving an equal
      share: calibrate on every kind of audio the file will see, since int8
      clips what lies outside the calibrated ranges (docs/export.md).
    count: windows wanted (fewer if the split is shorter).
    default_split: the split when `spec` names none.

  Returns:
    (windows [n, slice_samples] float32, {'dataset', 'split', 'windows'}).
  """
  specs = [s.strip() for s in spec.split(",") if s.strip()]
  if len(specs) > 1:
    share = -(-count // len(specs))
    parts = [calibration_windows(s, share, feature_params, data_dir=data_dir,
                                 default_split=default_split, progress=progress) for s in specs]
    windows = np.concatenate([w for w, _ in parts])
    return windows, {"dataset": spec, "split": ",".join(i["split"] for _, i in parts),
                     "windows": int(len(windows))}
  builder, split = datasets.builder_and_split(spec, default_split, data_dir)
  windows = validation.windows(builder, split, count, feature_params,
                               hop_seconds=CALIBRATION_HOP_SECONDS,
                               max_per_clip=CALIBRATION_WINDOWS_PER_CLIP, progress=progress)
  return windows, {"dataset": spec, "split": split, "windows": int(len(windows))}

