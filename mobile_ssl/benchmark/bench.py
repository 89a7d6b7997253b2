"""Size and latency of .tflite models on host x86, emulated arm64 or Android (the library of
`mobile-ssl-bench`, mobile_ssl/commands/bench.py).

Reports size (bytes), weights and multiply-adds read from the file, the op
histogram, and latency in the terms of TFLite's benchmark_model (Init, First
inference, Warmup (avg), Inference (avg); plus p50/p90/p99) for each thread
count and XNNPACK on/off, and memory; with --peers, YAMNet's MobileNet v1, a
FRILL-like MobileNetV3-Small and a COLA-like EfficientNet-B0 are built with
random weights, converted by the same converter at the same precision and
timed in the same interleaved run, and our models' latency and size are given
as ratios to each. Writes OUTPUT_DIR/benchmark.{json,md,png} (and
accuracy_latency.png with --probe_task). docs/benchmark.md explains the
figures, the emulated target and the Android flows.
"""

import dataclasses
import datetime
import os
import typing

import numpy as np

from mobile_ssl.benchmark import android
from mobile_ssl.benchmark import bench_report
from mobile_ssl.benchmark import emulation
from mobile_ssl.benchmark import latency
from mobile_ssl.benchmark import lineup
from mobile_ssl.benchmark import peers as peers_lib
from mobile_ssl.benchmark import tflite_graph
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.data import downstream
from mobile_ssl.export import calibration
from mobile_ssl.export import probe_accuracy
from mobile_ssl.export import validation

TARGETS = ("host", "emulated-arm64", "android")
PRECISIONS = ("float32", "float16", "dynamic", "int8")
INPUT_KINDS = ("log_mel", "waveform")
# Emulation is orders of magnitude slower than native (docs/benchmark.md):
# fewer invokes by default (flag value -1).
RUN_DEFAULTS = {"host": (20, 200, 5), "emulated-arm64": (3, 10, 3), "android": (5, 50, 1)}

@dataclasses.dataclass(frozen=True)
class BenchParams:
  """Everything a benchmark run needs; `mobile-ssl-bench` has one flag per field, its
  help in the field's metadata (mobile_ssl/commands/cli.py)."""
  target: str = dataclasses.field(default="host", metadata={
      "help": "Where to run.", "enum": TARGETS})
  threads: typing.Tuple[str, ...] = dataclasses.field(default=("1",), metadata={
      "help": "Thread counts to sweep, e.g. 1,2,4."})
  xnnpack: typing.Tuple[str, ...] = dataclasses.field(default=("on",), metadata={
      "help": "XNNPACK settings to sweep: on, off or on,off."})
  # -1 (here and below): the target's default (RUN_DEFAULTS)
  warmup_runs: int = dataclasses.field(default=-1, metadata={
      "help": "Warm-up invokes per model and config (-1: per target)."})
  num_runs: int = dataclasses.field(default=-1, metadata={
      "help": "Timed invokes per round (-1: 200 host, 10 emulated, 50 android)."})
  repeats: int = dataclasses.field(default=-1, metadata={
      "help": "Interleaved timing rounds; the headline is their median."})
  build: typing.Tuple[str, ...] = dataclasses.field(default=(), metadata={
      "help": f"Our encoder variants to build and convert: "
              f"{', '.join(encoder_lib.VARIANTS)}."})
  widths: typing.Tuple[str, ...] = dataclasses.field(default=("1",), metadata={
      "help": "Encoder widths for --build (a width sweep: 0.25,0.5,1,2)."})
  encoder_dirs: typing.Tuple[str, ...] = dataclasses.field(default=(), metadata={
      "help": "Trained run directories to convert (instead of --build)."})
  precisions: typing.Tuple[str, ...] = dataclasses.field(
      default=("int8", "float32"),
      metadata={"help": f"Precisions of built models and peers: {', '.join(PRECISIONS)}."})
  inputs: typing.Tuple[str, ...] = dataclasses.field(
      default=("log_mel", "waveform"),
      metadata={"help": "Inputs of our built models: log_mel, waveform (front end in the graph)."})
  peers: bool = dataclasses.field(default=False, metadata={
      "help": "Also build, convert and time the peer architectures."})
  peer_names: typing.Tuple[str, ...] = dataclasses.field(
      default=tuple(peers_lib.PEERS), metadata={"help": "Which peers with --peers."})
  peer_models: typing.Tuple[str, ...] = dataclasses.field(default=(), metadata={
      "help": "Peer .tflite files (e.g. a shipped yamnet.tflite, or the models/ of an "
              "earlier run): timed and used for ratios like --peers."})
  op_profile: bool = dataclasses.field(default=False, metadata={
      "help": "Per-op profile of every model (first config)."})
  probe_task: str = dataclasses.field(default="", metadata={
      "help": "Linear-probe accuracy of our log-mel models on this task (a code such as "
              "SYN_EVENT, or DATASET:LABEL_KEY)."})
  calibration_dataset: str = dataclasses.field(default="synthetic_audio", metadata={
      "help": "Real audio for int8 calibration and the timed input ('' : seeded random "
              "input, no int8 builds)."})
  calibration_split: str = dataclasses.field(default="train", metadata={
      "help": "Split of --calibration_dataset."})
  calibration_examples: int = dataclasses.field(
      default=calibration.DEFAULT_CALIBRATION_WINDOWS,
      metadata={"help": "975 ms windows used to calibrate int8."})
  data_dir: typing.Optional[str] = dataclasses.field(default=None, metadata={
      "help": "TFDS data dir (default: TFDS's, ~/tensorflow_datasets)."})
  output_dir: str = dataclasses.field(default="reports/benchmark", metadata={
      "help": "Where benchmark.{json,md,png} and the built models go."})
  seed: int = dataclasses.field(default=0, metadata={
      "help": "Seeds the random weights of built models."})
  arm64_sysroot: str = dataclasses.field(default="", metadata={
      "help": "emulated-arm64: the sysroot (default $ARM64_SYSROOT or build/arm64-sysroot)."})
  adb_serial: str = dataclasses.field(default="", metadata={
      "help": "android: the device serial (adb devices)."})
  adb: str = dataclasses.field(default="adb", metadata={
      "help": "android: the adb executable."})
  android_mode: str = dataclasses.field(default="binary", metadata={
      "help": "android: benchmark_model binary or the benchmark app.",
      "enum": ("binary", "apk")})
  benchmark_binary: str = dataclasses.field(default="", metadata={
      "help": "android: path of an android_aarch64 benchmark_model."})
  cpu_mask: str = dataclasses.field(default=android.DEFAULT_CPU_MASK, metadata={
      "help": "android: taskset mask (hex) pinning benchmark_model to the big cores."})


def _list(flag: str, values, convert: typing.Callable, allowed=None, minimum=None) -> list:
  out = []
  for value in values:
    try:
      item = convert(value)
    except ValueError:
      raise ValueError(f"--{flag}: {value!r} is not a valid value") from None
    if allowed is not None and item not in allowed:
      raise ValueError(f"--{flag}: {value!r} is not one of {', '.join(map(str, allowed))}")
    if minimum is not None and item < minimum:
      raise ValueError(f"--{flag}: {value!r} must be >= {minimum}")
    out.append(item)
  if not out:
    raise ValueError(f"--{flag}: give at least one value")
  return out


def _settings(bp: BenchParams) -> dict:
  """BenchParams -> validated settings; ValueError naming the flag."""
  if bp.target not in TARGETS:
    raise ValueError(f"--target={bp.target}: not one of {', '.join(TARGETS)}")
  defaults = RUN_DEFAULTS[bp.target]
  runs = {}
  for i, name in enumerate(("warmup_runs", "num_runs", "repeats")):
    value = getattr(bp, name)
    if value != -1 and value < 1:
      raise ValueError(f"--{name} must be >= 1 (or -1 for the default), got {value}")
    runs[name] = defaults[i] if value == -1 else value
  threads = _list("threads", bp.threads, int, minimum=1)
  xnnpack = _list("xnnpack", bp.xnnpack, str.lower, ("on", "off"))
  return dict(
      runs,
      configs=[{"threads": t, "xnnpack": x == "on"} for x in xnnpack for t in threads],
      build=_list("build", bp.build, str, encoder_lib.VARIANTS) if bp.build else [],
      widths=_list("widths", bp.widths, float, minimum=1e-6),
      precisions=_list("precisions", bp.precisions, str.lower, PRECISIONS),
      inputs=_list("inputs", bp.inputs, str.lower, INPUT_KINDS),
      peer_names=(_list("peer_names", bp.peer_names, str.lower, tuple(peers_lib.PEERS))
                  if bp.peers else []))


def _file_entries(paths: typing.Sequence[str], family: str = "file") -> typing.List[lineup.Entry]:
  entries = []
  for path in paths:
    info = tflite_graph.describe(path)  # ValueError naming the file if it is not a model
    shape = info["inputs"][0]["shape"] if info["inputs"] else []
    kind = "waveform" if len(shape) == 2 else "log_mel" if len(shape) == 4 else "other"
    name = os.path.splitext(os.path.basename(path))[0]
    entries.append(lineup.Entry(name, family, name, info["precision"], kind,
                                os.path.abspath(path)))
  return entries


def _measure(entries, settings: dict, inputs: typing.Dict[str, str], bp: BenchParams) -> dict:
  models = [{"name": e.name, "path": e.path,
             "inputs": [inputs[e.input_kind]] if e.input_kind in inputs else []}
            for e in entries]
  request = {"models": models, "configs": settings["configs"],
             "warmup_runs": settings["warmup_runs"], "num_runs": settings["num_runs"],
             "repeats": settings["repeats"], "op_profile": bp.op_profile,
             "op_profile_runs": 200 if bp.target == "host" else 5}
  if bp.target == "host":
    return latency.run_in_child(request)
  if bp.target == "emulated-arm64":
    result = emulation.run_request(request, bp.arm64_sysroot or None)
    reference = latency.run_in_child(dict(request, configs=[{"threads": 1, "xnnpack": True}],
                                          warmup_runs=1, num_runs=1, repeats=1,
                                          op_profile=False, progress=False))
    for model, x86 in zip(result["models"], reference["models"]):
      model["x86_agreement"] = _agreement(model["output"], x86["output"])
    return result
  return android.run(bp.adb_serial, [(e.name, e.path) for e in entries],
                     settings["configs"], warmup_runs=settings["warmup_runs"],
                     num_runs=settings["num_runs"], benchmark_binary=bp.benchmark_binary,
                     mode=bp.android_mode, cpu_mask=bp.cpu_mask, adb_path=bp.adb)


def _agreement(a: typing.Sequence[float], b: typing.Sequence[float]) -> dict:
  a, b = np.asarray(a, np.float64).reshape(1, -1), np.asarray(b, np.float64).reshape(1, -1)
  max_abs_diff = float(np.abs(a - b).max()) if a.size else 0.0
  # Two all-zero outputs (a random-weight int8 peer can give one) agree exactly.
  cosine = float(validation.cosines(a, b)[0]) if a.any() or b.any() else 1.0
  return {"max_abs_diff": max_abs_diff, "cosine": cosine}


def _front_end(model: dict) -> typing.Optional[dict]:
  """Time of the ops before the first convolution (the log-mel front end) in the op profile."""
  profile = model.get("op_profile")
  if model["input"] != "waveform" or not profile:
    return None
  first = next((i for i, o in enumerate(profile) if o["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D")),
               len(profile))
  front = sum(o["median_us"] for o in profile[:first])
  total = sum(o["median_us"] for o in profile)
  return {"front_end_us": front, "total_us": total, "share": front / total if total else 0.0}


def benchmark(paths: typing.Sequence[str], bp: BenchParams = BenchParams()) -> dict:
  """The whole run: the report dict (see bench_report); ValueError for bad input."""
  settings = _settings(bp)
  entries = _file_entries(paths)
  given_peers = _file_entries(bp.peer_models, family="peer")
  builds = bool(settings["build"] or bp.encoder_dirs or settings["peer_names"])
  if not entries and not builds:
    raise ValueError("nothing to benchmark: give MODEL.tflite files, --build=paper,fast, "
                     "--encoder_dirs=DIR,... or --peers")
  # Target problems surface before minutes of conversion, not after.
  if bp.target == "emulated-arm64":
    emulation.check(os.path.abspath(bp.arm64_sysroot or emulation.default_sysroot()))
  if bp.target == "android":
    if not bp.adb_serial:
      raise ValueError("--target=android needs --adb_serial (see `adb devices`)")
    if bp.android_mode == "binary" and not os.path.isfile(bp.benchmark_binary):
      raise ValueError(f"--benchmark_binary={bp.benchmark_binary or '(unset)'}: file not found "
                       "(an android_aarch64 benchmark_model build), or use --android_mode=apk")
  work_dir = os.path.join(bp.output_dir, "models")
  os.makedirs(work_dir, exist_ok=True)
  inputs, calib = {}, None
  if bp.calibration_dataset:
    calib = lineup.calibration(bp.calibration_dataset, bp.calibration_split,
                               bp.calibration_examples, bp.data_dir)
    inputs = calib.save_inputs(work_dir)
  elif builds and "int8" in settings["precisions"]:
    raise ValueError("--calibration_dataset is empty: int8 models need real calibration audio")
  if settings["build"] or bp.encoder_dirs:
    entries += lineup.ours(settings["build"], settings["widths"], settings["precisions"],
                           settings["inputs"], work_dir, calib, bp.encoder_dirs,
                           seed=bp.seed)
  if settings["peer_names"]:
    # Same precision as ours: the built precisions, or those of the given files.
    ours_built = bool(settings["build"] or bp.encoder_dirs)
    wanted = settings["precisions"] if ours_built else sorted({e.precision for e in entries})
    entries += lineup.peer_entries(settings["peer_names"], wanted, work_dir, calib,
                                   seed=bp.seed)
  entries += given_peers
  measured = _measure(entries, settings, inputs, bp)
  models = []
  for entry, result in zip(entries, measured["models"]):
    info = tflite_graph.describe(entry.path)
    model = {"name": entry.name, "family": entry.family, "arch": entry.arch,
             "width": entry.width, "precision": entry.precision, "input": entry.input_kind,
             "path": entry.path, "encoder_dir": entry.encoder_dir,
             "keras_params": entry.keras_params, "keras_macs": entry.keras_macs,
             "size_bytes": info["size_bytes"], "weights": info["weights"], "macs": info["macs"],
             "op_histogram": info["op_histogram"], "results": result["results"]}
    for key in ("op_profile", "x86_agreement"):
      if key in result:
        model[key] = result[key]
    model["front_end"] = _front_end(model)
    models.append(model)
  if bp.probe_task:
    task = downstream.load_task(bp.probe_task, bp.data_dir)
    for model in models:
      if model["family"] != "peer" and model["input"] == "log_mel":
        model["accuracy"] = probe_accuracy.accuracy(model["path"], bp.probe_task, task=task)
  label = measured["platform"].get("label") or f"host {measured['platform']['machine']}"
  return {
      "tool": "mobile-ssl-bench", "created": datetime.datetime.now().isoformat(timespec="seconds"),
      "target": bp.target, "label": label, "platform": measured["platform"],
      "settings": dict(settings),
      "settings_text": (f"{settings['warmup_runs']} warm-up + {settings['repeats']} interleaved "
                        f"rounds x {settings['num_runs']} invokes per model and config; "
                        f"calibration: {bp.calibration_dataset or 'none'}."),
      "models": models, "ratios": bench_report.ratios(models)}
