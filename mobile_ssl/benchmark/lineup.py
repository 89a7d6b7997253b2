"""The models a benchmark run builds: our encoder (variants, widths, run dirs) and the peers.

Every built model goes through the project's one converter at the same
precision, with int8 calibrated on real audio by the exporter's own sampler
(`calibration_lib.calibration_windows`), never noise. Our encoder is built by
`convert.encoder_tflite`, the function behind `export_tflite` (integer I/O for
int8 log-mel, metadata included), so with the same calibration data and count
the timed file is the shipped file byte for byte; the peers get the same
calibration and the same int8 I/O rule. The .tflite files land in a work
folder and are then timed like any user-given file.

Entry names read `<arch>[_w<width>]_<input>_<precision>`, e.g.
`paper_log_mel_int8`, `fast_w0.5_log_mel_int8`, `yamnet_log_mel_int8`.
"""

import dataclasses
import os
import typing

import keras
import numpy as np

from mobile_ssl.benchmark import peers
from mobile_ssl.core import atomic
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir as model_dir_lib
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import progress
from mobile_ssl.export import calibration as calibration_lib
from mobile_ssl.export import convert
from mobile_ssl.export import inference_model as inference_model_lib
from mobile_ssl.export import tflite_embedder


@dataclasses.dataclass(frozen=True)
class Entry:
  """One model of the line-up and where its .tflite is."""
  name: str
  family: str  # 'ours' | 'peer' | 'file'
  arch: str  # encoder variant, peer name, or the file name
  precision: str
  input_kind: str  # 'log_mel' | 'waveform'
  path: str
  width: typing.Optional[float] = None
  encoder_dir: str = ""
  keras_params: typing.Optional[int] = None
  keras_macs: typing.Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Calibration:
  """Real examples: waveform windows [n, 15600] and their log-mels [n, 96, 64, 1], float32."""
  waveforms: np.ndarray
  log_mels: np.ndarray

  def examples(self, input_kind: str) -> typing.List[np.ndarray]:
    """Batch-1 arrays for the converter's representative dataset."""
    source = self.waveforms if input_kind == "waveform" else self.log_mels
    return [x[None] for x in source]  # = convert.representative(waveforms, kind, fp)

  def save_inputs(self, folder: str) -> typing.Dict[str, str]:
    """One real example per input kind as .npy (the latency runner's input); their paths."""
    paths = {}
    for kind, value in (("waveform", self.waveforms[:1]), ("log_mel", self.log_mels[:1])):
      paths[kind] = os.path.join(folder, f"input_{kind}.npy")
      with atomic.replacing(paths[kind], suffix=".npy") as tmp:
        np.save(tmp, value.astype(np.float32))
    return paths


def calibration(dataset: str = "synthetic_audio", split: str = "train",
                count: int = calibration_lib.DEFAULT_CALIBRATION_WINDOWS,
                data_dir: typing.Optional[str] = None,
                feature_params: params_lib.FeatureParams = params_lib.FeatureParams()
                ) -> Calibration:
  """`count` windows of real audio from a dataset: `calibration_lib.calibration_windows`' windows.

  Raises:
    ValueError: unknown or unbuilt dataset (datasets.builder's message), or no audio.
  """
  spec = dataset if "@" in dataset else f"{dataset}@{split}"
  waveforms, _ = calibration_lib.calibration_windows(spec, count, feature_params, data_dir=data_dir)
  log_mels = tflite_embedder.model_inputs(waveforms, "log_mel", feature_params)
  return Calibration(waveforms, log_mels.astype(np.float32))


def _keras_counts(model: keras.Model) -> typing.Tuple[int, int]:
  counts = encoder_lib.complexity(model)
  return counts["params"], counts["macs"]


def _width_tag(width: typing.Optional[float]) -> str:
  return "" if width is None or width == 1.0 else f"_w{width:g}"


def _write_peer(entry_path: str, model: keras.Model, precision: str, calib: Calibration,
                input_kind: str = "log_mel") -> None:
  representative = calib.examples(input_kind) if precision == "int8" else None
  io = convert.integer_io(precision, input_kind)
  atomic.write_bytes(entry_path, convert.convert(model, precision, representative, int8_io=io,
                                                 int8_output=io))


def ours(variants: typing.Sequence[str], widths: typing.Sequence[float],
         precisions: typing.Sequence[str], input_kinds: typing.Sequence[str],
         work_dir: str, calib: Calibration, encoder_dirs: typing.Sequence[str] = (),
         feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
         seed: int = 0) -> typing.List[Entry]:
  """Our encoder: every variant x width with random init (seeded), or the given run dirs.

  Args:
    encoder_dirs: trained run directories (params.json + encoder.keras); when
      given, these are converted instead of variants x widths.
  """
  sources = []  # (arch, width, encoder_dir, keras encoder, run params)
  if encoder_dirs:
    for directory in encoder_dirs:
      model, params = model_dir_lib.load_encoder(directory)
      sources.append((params.encoder.variant, params.encoder.width, directory, model, params))
  else:
    for variant in variants:
      for width in widths:
        encoder_params = params_lib.EncoderParams(variant=variant, width=float(width))
        params = params_lib.Params(encoder=encoder_params, features=feature_params)
        sources.append((variant, float(width), "",
                        encoder_lib.build_encoder(encoder_params, feature_params, seed=seed),
                        params))
  jobs = [(s, p, k) for s in sources for k in input_kinds for p in precisions]
  entries = []
  for (arch, width, directory, model, params), precision, kind in progress.bar(
      jobs, desc="convert ours"):
    tag = os.path.basename(os.path.normpath(directory)) if directory else arch + _width_tag(width)
    name = f"{tag}_{kind}_{precision}"
    path = os.path.join(work_dir, name + ".tflite")
    # A run's own front end; calibration log-mels are recomputed from the same windows.
    windows = calib.waveforms if precision == "int8" else None
    atomic.write_bytes(path, convert.encoder_tflite(model, params, kind, precision, windows))
    params_count, macs = _keras_counts(model)
    entries.append(Entry(name, "ours", arch, precision, kind, path, width, directory,
                         params_count, macs))
  return entries


def peer_entries(names: typing.Sequence[str], precisions: typing.Sequence[str], work_dir: str,
                 calib: Calibration,
                 feature_params: params_lib.FeatureParams = params_lib.FeatureParams(),
                 seed: int = 0) -> typing.List[Entry]:
  """The peers (mobile_ssl/benchmark/peers.py) at each precision: log-mel input, or waveform for
  the ones with their own front end (`peers.WAVEFORM_PEERS`)."""
  entries = []
  for name in progress.bar(names, desc="convert peers"):
    model = peers.build_peer(name, feature_params, seed=seed)
    params_count, macs = _keras_counts(model)
    kind = peers.input_kind(name)
    if kind == "waveform":  # batch 1, same weights (the front end has none)
      wrapped = peers.waveform_peer(feature_params, batch_size=1)
      wrapped.set_weights(model.get_weights())
      arch = name.replace("_waveform", "")
    else:
      wrapped, arch = inference_model_lib.inference_model(model, feature_params, "log_mel"), name
    for precision in precisions:
      entry_name = f"{arch}_{kind}_{precision}"
      path = os.path.join(work_dir, entry_name + ".tflite")
      _write_peer(path, wrapped, precision, calib, kind)
      entries.append(Entry(entry_name, "peer", name, precision, kind, path, None, "",
                           params_count, macs))
  return entries
