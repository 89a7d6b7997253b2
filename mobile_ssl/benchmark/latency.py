"""Times .tflite models with the LiteRT interpreter, in the terms of TFLite's `benchmark_model`.

Standalone on purpose: imports only the standard library, numpy,
ai_edge_litert (with its own dependencies flatbuffers and tqdm) and
mobile_ssl/core/tensor_quantization.py (numpy only), so this file
runs unchanged in the host venv and in the emulated aarch64 Python that
mobile_ssl/benchmark/setup_emulation.sh makes, which has nothing else. `mobile-ssl-bench`
runs it as a child process, `python -m mobile_ssl.benchmark.latency REQUEST.json
RESULT.json`: a fresh process that has imported only LiteRT gives
memory deltas comparable to benchmark_model's, and TensorFlow's thread pools
in the parent stay out of the timings.

Terms, as benchmark_model prints them ("Inference timings in us: Init: ...,
First inference: ..., Warmup (avg): ..., Inference (avg): ..."):
  * Init: creating the interpreter from the file + allocate_tensors (this is
    where XNNPACK packs the weights);
  * First inference: the first invoke;
  * Warmup (avg): the mean of the warm-up invokes after the first;
  * Inference (avg): the mean of all timed invokes; we add p50/p90/p99/min/std.
  * Memory: RSS delta from before the interpreter was created, after init and
    after the runs ("Memory footprint delta from the start of the tool (MB):
    init=... overall=..."), approximate, as the tool itself says.
Machines are noisy, so the timed invokes come in `repeats` rounds that
interleave all models and configurations; `latency_us`, the figure ratios
are made of, is the median over rounds of each round's median invoke: one
preempted invoke of 4 ms moves a 200-invoke mean of a 50 us model by 40 %,
and its median not at all.
"""

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import typing

import numpy as np
from ai_edge_litert import interpreter as litert

from mobile_ssl.core import tensor_quantization

try:  # a dependency of ai-edge-litert, so present in the emulated sysroot too
  import tqdm
except ImportError:  # pragma: no cover
  tqdm = None

DEFAULT_REQUEST = {"configs": [{"threads": 1, "xnnpack": True}], "warmup_runs": 20,
                   "num_runs": 200, "repeats": 5, "op_profile": False, "op_profile_runs": 200,
                   "return_outputs": True, "progress": True}


def _rss_mb() -> float:
  """Resident set size of this process in MB (Linux /proc; ru_maxrss elsewhere)."""
  try:
    with open("/proc/self/statm") as f:
      return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
  except (OSError, ValueError, IndexError):
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def interpreter(model: typing.Union[str, bytes], threads: int = 1,
                xnnpack: bool = True) -> litert.Interpreter:
  """A LiteRT interpreter on a path or bytes; XNNPACK off means builtin kernels only."""
  kwargs = {"num_threads": int(threads)}
  if not xnnpack:
    kwargs["experimental_op_resolver_type"] = (
        litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  if isinstance(model, (bytes, bytearray)):
    return litert.Interpreter(model_content=bytes(model), **kwargs)
  return litert.Interpreter(model_path=model, **kwargs)


def prepare_input(detail: dict, value: typing.Optional[np.ndarray], seed: int = 0) -> np.ndarray:
  """An input array for one input tensor: `value` cast (or quantized) to its dtype and shape.

  Without a value: seeded standard normal values (quantized for integer inputs).
  """
  shape = tuple(detail["shape"])
  if value is None:
    value = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
  return tensor_quantization.quantize(np.asarray(value).reshape(shape), detail)


def output_values(it: litert.Interpreter) -> np.ndarray:
  """The first output as float32 (dequantized when the output is integer)."""
  detail = it.get_output_details()[0]
  return tensor_quantization.dequantize(it.get_tensor(detail["index"]), detail)


def _set_inputs(it: litert.Interpreter, values: typing.Sequence[typing.Optional[np.ndarray]]):
  for i, detail in enumerate(it.get_input_details()):
    it.set_tensor(detail["index"], prepare_input(detail, values[i] if i < len(values) else None, i))


def _timed(it: litert.Interpreter, runs: int) -> typing.List[float]:
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    it.invoke()
    times.append((time.perf_counter() - start) * 1e6)
  return times


class _Slot:
  """One (model, configuration): its interpreter and what was measured so far."""

  def __init__(self, path, values, config, warmup_runs):
    before = _rss_mb()
    start = time.perf_counter()
    self.interpreter = interpreter(path, config["threads"], config["xnnpack"])
    self.interpreter.allocate_tensors()
    self.init_us = (time.perf_counter() - start) * 1e6
    self.memory_init_mb = _rss_mb() - before
    _set_inputs(self.interpreter, values)
    self.first_us = _timed(self.interpreter, 1)[0]
    warmup = _timed(self.interpreter, max(0, warmup_runs - 1))
    self.warmup_avg_us = float(np.mean(warmup)) if warmup else self.first_us
    # Measured now, before the next model is loaded: this model's footprint alone.
    self.memory_overall_mb = _rss_mb() - before
    self.config = dict(config)
    self.times, self.round_medians = [], []

  def run(self, runs: int):
    times = _timed(self.interpreter, runs)
    self.times += times
    self.round_medians.append(float(np.median(times)))

  def result(self) -> dict:
    times = np.asarray(self.times)
    return dict(
        self.config, init_us=self.init_us, first_inference_us=self.first_us,
        warmup_avg_us=self.warmup_avg_us, inference_avg_us=float(times.mean()),
        p50_us=float(np.percentile(times, 50)), p90_us=float(np.percentile(times, 90)),
        p99_us=float(np.percentile(times, 99)), min_us=float(times.min()),
        std_us=float(times.std()), count=int(times.size), round_p50_us=self.round_medians,
        latency_us=float(np.median(self.round_medians)),
        memory_init_mb=round(self.memory_init_mb, 3),
        memory_overall_mb=round(self.memory_overall_mb, 3))


def op_profile(path: str, values: typing.Sequence[typing.Optional[np.ndarray]] = (),
               threads: int = 1, xnnpack: bool = True, runs: int = 200) -> typing.List[dict]:
  """Per-operator latency: each op cut out of the model (tflite_graph.single_op_models) and timed.

  The inputs of each op are the real intermediate values of the model on
  `values` (captured with the builtin kernels), so data-dependent kernels see
  realistic data. A one-op model still pays the interpreter's per-invoke
  cost, so the sum slightly exceeds the whole model's time (by how much:
  docs/benchmark.md, "What the figures mean").

  Returns:
    [{'index', 'op', 'output_shape', 'median_us'}] in execution order.
  """
  from mobile_ssl.benchmark import tflite_graph  # numpy/LiteRT only, like this module
  full = litert.Interpreter(
      model_path=path, experimental_preserve_all_tensors=True,
      experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  full.allocate_tensors()
  _set_inputs(full, values)
  full.invoke()
  rows = []
  for op in tflite_graph.single_op_models(path):
    it = interpreter(op["content"], threads, xnnpack)
    feeds = [full.get_tensor(t) for t in op["inputs"]]
    for detail, value in zip(it.get_input_details(), feeds):
      # Shapes stored in the file can be stale where the graph has dynamic shapes.
      if tuple(detail["shape"]) != value.shape:
        it.resize_tensor_input(detail["index"], value.shape, strict=False)
    it.allocate_tensors()
    for detail, value in zip(it.get_input_details(), feeds):
      it.set_tensor(detail["index"], value.astype(detail["dtype"]))
    _timed(it, max(10, runs // 10))
    rows.append({"index": op["index"], "op": op["op"], "output_shape": op["output_shape"],
                 "median_us": float(np.median(_timed(it, runs)))})
  return rows


def run_request(request: dict) -> dict:
  """Measures every model of a request (see DEFAULT_REQUEST; 'models' is required).

  Args:
    request: {'models': [{'name', 'path', 'inputs': [.npy path or None, ...]}],
      'configs': [{'threads', 'xnnpack'}], 'warmup_runs', 'num_runs',
      'repeats', 'op_profile', 'op_profile_runs', 'return_outputs'}.

  Returns:
    {'platform': {...}, 'models': [{'name', 'path', 'results': [per config],
    'output': [floats] (first config), 'op_profile': [...]?}]}.
  """
  request = dict(DEFAULT_REQUEST, **request)
  models = []
  for spec in request["models"]:
    values = [np.load(p) if p else None for p in spec.get("inputs") or []]
    models.append((spec, values))
  slots = [[_Slot(spec["path"], values, c, request["warmup_runs"]) for c in request["configs"]]
           for spec, values in models]
  rounds = range(request["repeats"])
  if tqdm is not None and request["progress"]:
    rounds = tqdm.tqdm(rounds, desc="timing rounds", file=sys.stderr, leave=False,
                       disable=not sys.stderr.isatty())
  for _ in rounds:
    for model_slots in slots:  # interleaved: every round visits every model and config
      for slot in model_slots:
        slot.run(request["num_runs"])
  out = []
  for (spec, values), model_slots in zip(models, slots):
    entry = {"name": spec.get("name", os.path.basename(spec["path"])), "path": spec["path"],
             "results": [s.result() for s in model_slots]}
    if request["return_outputs"]:
      entry["output"] = output_values(model_slots[0].interpreter).ravel().tolist()
    if request["op_profile"]:
      first = request["configs"][0]
      entry["op_profile"] = op_profile(spec["path"], values, first["threads"], first["xnnpack"],
                                       request["op_profile_runs"])
    out.append(entry)
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
  return {"platform": dict(platform_info(), peak_rss_mb=round(peak, 1)), "models": out}


# /proc/cpuinfo flags that decide which XNNPACK kernels run, in report order.
# x86: AVX2+FMA is the float32 and the int8 (VPMADDUBSW) baseline, AVX-512
# widens both, VNNI (AVX512_VNNI or the VEX AVX_VNNI) adds the int8 dot
# product VPDPBUSD, AMX tiles are not used by XNNPACK. ARM: asimddp is the
# int8 dot product (SDOT, Armv8.2+), i8mm the int8 matrix multiply (SMMLA,
# Armv8.6), asimdhp native float16 arithmetic, sve/bf16 are reported only.
X86_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                "avx512_fp16", "amx_int8")
ARM_FEATURES = ("asimd", "asimddp", "i8mm", "asimdhp", "sve", "bf16")


def cpu_features(cpuinfo: typing.Optional[str] = None) -> typing.List[str]:
  """The relevant features (`X86_FEATURES`, `ARM_FEATURES`) that /proc/cpuinfo lists."""
  if cpuinfo is None:
    try:
      with open("/proc/cpuinfo") as f:
        cpuinfo = f.read()
    except OSError:
      return []
  flags = set()
  for line in cpuinfo.splitlines():
    name, _, value = line.partition(":")
    if name.strip().lower() in ("flags", "features"):
      flags.update(value.split())
  return [f for f in X86_FEATURES + ARM_FEATURES if f in flags]


def kernel_summary(features: typing.Sequence[str]) -> str:
  """One line: which int8 and float kernels XNNPACK can pick with these features."""
  have = set(features)
  if have & set(X86_FEATURES):
    width = "AVX-512" if "avx512f" in have else "AVX2" if "avx2" in have else "SSE"
    if have & {"avx512_vnni", "avx_vnni"}:
      int8 = f"{width} + VNNI dot products (VPDPBUSD)"
    else:
      int8 = f"{width} without VNNI (VPMADDUBSW, ~2x the instructions of VNNI)"
    return f"x86: float32 on {width}{' FMA' if 'fma' in have else ''}; int8 on {int8}"
  if have & set(ARM_FEATURES):
    if "i8mm" in have:
      int8 = "i8mm matrix multiply (SMMLA) and dotprod (SDOT)"
    elif "asimddp" in have:
      int8 = "dotprod (SDOT), no i8mm"
    else:
      int8 = "NEON widening multiplies (no dotprod: int8 gains less)"
    fp16 = "; float16 arithmetic (asimdhp) available" if "asimdhp" in have else ""
    return f"arm: float32 on NEON; int8 on {int8}{fp16}"
  return "unknown CPU features (no /proc/cpuinfo flags)"


def recommend_precision(features: typing.Sequence[str]) -> str:
  """The precision to ship for a CPU with `features`, and why (one line).

  int8 wherever an int8 dot product exists (x86 VNNI, ARM dotprod/i8mm): the
  encoder is conv-bound and int8 is also 4x smaller. On x86 without VNNI
  (AVX2 only) int8 ran 1.13-1.54x slower than float32 on every one of our
  models, measured on an AVX2-only AMD EPYC (docs/benchmark.md, "On an
  AVX2-only CPU"): float32 for latency there, int8 only for size. ARM without
  dotprod is unmeasured. A benchmark table at several precisions on the
  device itself is the final word (`--precisions`).
  """
  have = set(features)
  if have & {"avx512_vnni", "avx_vnni", "asimddp", "i8mm"}:
    return "int8: the CPU has int8 dot-product instructions (4x smaller, fastest)"
  if have & set(X86_FEATURES):
    return ("float32 for latency, int8 for size: without VNNI our int8 files ran 1.1-1.5x "
            "slower than float32 on an AVX2-only CPU; compare with float32 in this table")
  if have & set(ARM_FEATURES):
    return ("int8 for size; latency gain smaller without int8 dot products: compare with "
            "float32 in this table")
  return "unknown CPU: benchmark int8 and float32 on the device (--precisions=int8,float32)"


def platform_info() -> dict:
  cpu = ""
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.lower().startswith(("model name", "cpu part")):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  features = cpu_features()
  try:
    from importlib import metadata
    litert_version = metadata.version("ai-edge-litert")
  except Exception:  # pylint: disable=broad-except  # a missing dist-info is not fatal
    litert_version = "?"
  return {"machine": platform.machine(), "system": platform.system(),
          "python": platform.python_version(), "litert": litert_version, "cpu": cpu,
          "cpu_count": os.cpu_count(), "cpu_features": features,
          "kernels": kernel_summary(features), "recommended_precision": recommend_precision(
              features)}


def package_parent() -> str:
  """The folder that holds the `mobile_ssl` package (the repository root when installed editable)."""
  return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_in_child(request: dict, python: typing.Sequence[str] = (sys.executable,),
                 env: typing.Optional[dict] = None, what: str = "host") -> dict:
  """Runs `run_request` in a child Python (this machine's, or an emulated one).

  Args:
    request: as for run_request.
    python: the interpreter command (e.g. [qemu-aarch64-static, .../python3.11]).
    env: extra environment; PYTHONPATH gets this package's parent appended.
    what: names the target in error messages.

  Raises:
    RuntimeError: the child failed (its last stderr lines are in the message).
  """
  child_env = dict(os.environ)
  child_env.update(env or {})
  paths = [p for p in (child_env.get("PYTHONPATH", ""), package_parent()) if p]
  child_env["PYTHONPATH"] = os.pathsep.join(paths)
  with tempfile.TemporaryDirectory(prefix="mobile_ssl_latency_") as tmp:
    request_path, result_path = os.path.join(tmp, "request.json"), os.path.join(tmp, "result.json")
    with open(request_path, "w", encoding="utf-8") as f:
      json.dump(request, f)
    process = subprocess.run([*python, "-m", "mobile_ssl.benchmark.latency", request_path, result_path],
                             env=child_env, stdout=subprocess.PIPE, stderr=None, text=True,
                             check=False)
    if process.returncode != 0 or not os.path.exists(result_path):
      raise RuntimeError(f"{what} latency runner failed (exit {process.returncode}); "
                         "its error is printed above")
    with open(result_path, encoding="utf-8") as f:
      return json.load(f)


def main(argv: typing.Sequence[str]) -> int:
  if len(argv) != 3:
    print("usage: python -m mobile_ssl.benchmark.latency REQUEST.json RESULT.json", file=sys.stderr)
    return 2
  with open(argv[1], encoding="utf-8") as f:
    request = json.load(f)
  result = run_request(request)
  tmp = argv[2] + ".tmp"
  with open(tmp, "w", encoding="utf-8") as f:
    json.dump(result, f)
  os.replace(tmp, argv[2])  # atomic: the parent never reads half a result
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
