"""The android target: TFLite's own benchmark tools on a phone, over adb.

Two flows, the ones TFLite documents (tensorflow/lite/tools/benchmark):
  * binary (default): push the user's `benchmark_model` build (android_aarch64)
    and the model to /data/local/tmp/mobile_ssl, run it pinned to the big
    cores (`taskset f0`, the mask is a flag: big cores are 4-7 on most 4+4
    SoCs) and parse its "Inference timings in us: Init: ..., First inference:
    ..., Warmup (avg): ..., Inference (avg): ..." and "Memory footprint delta
    ..." lines (and the "count=... p5=... median=... p95=..." line of recent
    builds);
  * apk: the benchmark app (installed by the user, foreground scheduling):
    `am start -S -n org.tensorflow.lite.benchmark/.BenchmarkModelActivity
    --es args '"--graph=... --num_threads=..."'`, then its logcat line
    "Average inference timings in us: Warmup: ..., Init: ..., Inference: ...".

No phone exists where this was written: tests/benchmark_test.py checks the
exact command lines and the parsing through a fake `adb` that prints outputs
in the real formats (tests/data/). Numbers parsed here are phone latency; the
tool's own percentiles (p5/median/p95) are reported, it prints no p90/p99.
"""

import os
import re
import shlex
import subprocess
import time
import typing

from mobile_ssl.benchmark import latency

REMOTE_DIR = "/data/local/tmp/mobile_ssl"
APK_ACTIVITY = "org.tensorflow.lite.benchmark/.BenchmarkModelActivity"
APK_PACKAGE = "org.tensorflow.lite.benchmark"
DEFAULT_CPU_MASK = "f0"

_NUMBER = r"([-+0-9.eE]+)"
_TIMINGS = re.compile(r"Inference timings in us: Init: " + _NUMBER + r", First inference: "
                      + _NUMBER + r", Warmup \(avg\): " + _NUMBER + r", Inference \(avg\): "
                      + _NUMBER)
_MEMORY = re.compile(r"Memory footprint delta from the start of the tool \(MB\): init="
                     + _NUMBER + r" overall=" + _NUMBER)
_COUNT = re.compile(r"count=(\d+)((?: \w+=[-+0-9.eE]+)+)")
_APK = re.compile(r"Average inference timings in us: Warmup: " + _NUMBER + r", Init: "
                  + _NUMBER + r", Inference: " + _NUMBER)


class AdbError(ValueError):
  """adb failed or the device answered something unusable (a one-line message)."""


def adb(serial: str, *args: str, adb_path: str = "adb", timeout_s: float = 600) -> str:
  """Runs `adb -s SERIAL ARGS...`; its stdout. AdbError with adb's message on failure."""
  command = [adb_path, "-s", serial, *args]
  try:
    process = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, timeout=timeout_s, check=False)
  except FileNotFoundError:
    raise AdbError(f"--adb={adb_path}: adb not found (apt-get install adb)") from None
  except subprocess.TimeoutExpired:
    raise AdbError(f"adb {' '.join(args[:2])}: no answer in {timeout_s:g} s") from None
  if process.returncode != 0:
    message = (process.stderr or process.stdout).strip().splitlines()
    raise AdbError(f"adb -s {serial} {' '.join(args[:2])}: "
                   f"{message[-1] if message else f'exit {process.returncode}'}")
  return process.stdout


def check_device(serial: str, adb_path: str = "adb") -> None:
  state = adb(serial, "get-state", adb_path=adb_path).strip()
  if state != "device":
    raise AdbError(f"--adb_serial={serial}: device state is {state!r}, not 'device'")


def _float(text: str) -> float:
  return float(text)  # handles '2.71985e+06', which the tool prints for large values


def parse_benchmark_model(text: str) -> dict:
  """Figures from `benchmark_model` output (plain, 'INFO:'-prefixed or logcat lines).

  Returns:
    {'init_us', 'first_inference_us', 'warmup_avg_us', 'inference_avg_us',
    'memory_init_mb'?, 'memory_overall_mb'?, 'count'?, 'min_us'?, 'std_us'?,
    'p50_us'?, 'p5_us'?, 'p95_us'?} from the last benchmark in the text.

  Raises:
    ValueError: no "Inference timings in us" line (the tool failed; the
      message quotes its last line).
  """
  timings = _TIMINGS.findall(text)
  if not timings:
    last = [line for line in text.strip().splitlines() if line.strip()][-1:] or ["no output"]
    raise ValueError(f"benchmark_model printed no 'Inference timings' line; last line: "
                     f"{last[0].strip()}")
  init, first, warmup, avg = (_float(v) for v in timings[-1])
  out = {"init_us": init, "first_inference_us": first, "warmup_avg_us": warmup,
         "inference_avg_us": avg, "latency_us": avg}
  memory = _MEMORY.findall(text)
  if memory:
    out["memory_init_mb"], out["memory_overall_mb"] = (_float(v) for v in memory[-1])
  counts = _COUNT.findall(text)
  if counts:  # the last count= line is the timed runs
    count, fields = counts[-1]
    values = dict(pair.split("=") for pair in fields.split())
    out["count"] = int(count)
    for key, name in (("min", "min_us"), ("std", "std_us"), ("median", "p50_us"),
                      ("p5", "p5_us"), ("p95", "p95_us"), ("max", "max_us")):
      if key in values:
        out[name] = _float(values[key])
    if "p50_us" in out:
      out["latency_us"] = out["p50_us"]  # the tool's median: robust, like the host figure
  return out


def parse_apk_logcat(text: str) -> dict:
  """Figures from the benchmark app's logcat line (the last one in the text)."""
  found = _APK.findall(text)
  if not found:
    raise ValueError("no 'Average inference timings in us' line in logcat (did the app run? "
                     "see `adb logcat -s tflite`)")
  warmup, init, avg = (_float(v) for v in found[-1])
  return {"init_us": init, "warmup_avg_us": warmup, "inference_avg_us": avg, "latency_us": avg}


def benchmark_args(remote_model: str, threads: int, xnnpack: bool, warmup_runs: int,
                   num_runs: int) -> typing.List[str]:
  """benchmark_model's flags for one measurement (the same for the binary and the app)."""
  return [f"--graph={remote_model}", f"--num_threads={threads}",
          f"--use_xnnpack={'true' if xnnpack else 'false'}", f"--warmup_runs={warmup_runs}",
          f"--num_runs={num_runs}"]


def binary_command(remote_binary: str, args: typing.Sequence[str],
                   cpu_mask: str = DEFAULT_CPU_MASK) -> str:
  """The `adb shell` command line: pinned to the cores of `cpu_mask` (hex)."""
  pin = ["taskset", cpu_mask] if cpu_mask else []
  return " ".join(shlex.quote(a) for a in [*pin, remote_binary, *args])


def apk_command(args: typing.Sequence[str]) -> str:
  """The `adb shell` command that starts the benchmark app.

  TFLite's docs type `--es args '"--graph=... --num_threads=4"'` in a host
  shell, which strips the single quotes; the device shell then strips the
  double ones. We hand adb one string, so one level of quoting is the same.
  """
  return f"am start -S -n {APK_ACTIVITY} --es args {shlex.quote(' '.join(args))}"


def push(serial: str, local: str, adb_path: str = "adb") -> str:
  """Pushes a file to REMOTE_DIR; its remote path."""
  remote = f"{REMOTE_DIR}/{os.path.basename(local)}"
  adb(serial, "push", local, remote, adb_path=adb_path)
  return remote


def run(serial: str, models: typing.Sequence[typing.Tuple[str, str]],
        configs: typing.Sequence[dict], *, warmup_runs: int, num_runs: int,
        benchmark_binary: str = "", mode: str = "binary", cpu_mask: str = DEFAULT_CPU_MASK,
        adb_path: str = "adb", apk_timeout_s: float = 300, poll_s: float = 1.0) -> dict:
  """Benchmarks (name, local .tflite path) pairs on a phone for each config.

  Returns:
    The same shape as latency.run_request: {'platform', 'models': [{'name',
    'path', 'results': [dict(config, **parsed figures)]}]}.
  """
  if mode not in ("binary", "apk"):
    raise ValueError(f"--android_mode must be 'binary' or 'apk', got {mode!r}")
  if mode == "binary" and not benchmark_binary:
    raise ValueError("--target=android needs --benchmark_binary=PATH (an android_aarch64 "
                     "benchmark_model build) or --android_mode=apk")
  if mode == "binary" and not os.path.isfile(benchmark_binary):
    raise ValueError(f"--benchmark_binary={benchmark_binary}: file not found")
  check_device(serial, adb_path)
  adb(serial, "shell", f"mkdir -p {REMOTE_DIR}", adb_path=adb_path)
  remote_binary = ""
  if mode == "binary":
    remote_binary = push(serial, benchmark_binary, adb_path)
    adb(serial, "shell", f"chmod 755 {shlex.quote(remote_binary)}", adb_path=adb_path)
  out = []
  for name, path in models:
    remote_model = push(serial, path, adb_path)
    results = []
    for config in configs:
      args = benchmark_args(remote_model, config["threads"], config["xnnpack"], warmup_runs,
                            num_runs)
      if mode == "binary":
        text = adb(serial, "shell", binary_command(remote_binary, args, cpu_mask),
                   adb_path=adb_path)
        parsed = parse_benchmark_model(text)
      else:
        adb(serial, "logcat", "-c", adb_path=adb_path)
        adb(serial, "shell", apk_command(args), adb_path=adb_path)
        parsed = _wait_for_apk(serial, adb_path, apk_timeout_s, poll_s)
      results.append(dict(config, **parsed))
    out.append({"name": name, "path": path, "results": results})
  model = adb(serial, "shell", "getprop ro.product.model", adb_path=adb_path).strip()
  soc = adb(serial, "shell", "getprop ro.soc.model", adb_path=adb_path).strip()
  features = latency.cpu_features(adb(serial, "shell", "cat /proc/cpuinfo", adb_path=adb_path))
  return {"platform": {"machine": "android", "device": model, "cpu": soc, "serial": serial,
                       "cpu_features": features, "kernels": latency.kernel_summary(features),
                       "recommended_precision": latency.recommend_precision(features),
                       "mode": mode, "cpu_mask": cpu_mask if mode == "binary" else "",
                       "label": "Android phone (TFLite benchmark tool)"},
          "models": out}


def _wait_for_apk(serial: str, adb_path: str, timeout_s: float, poll_s: float) -> dict:
  deadline = time.monotonic() + timeout_s
  while True:
    text = adb(serial, "logcat", "-d", "-s", "tflite", adb_path=adb_path)
    if _APK.search(text):
      return parse_apk_logcat(text)
    if time.monotonic() > deadline:
      raise AdbError(f"the benchmark app printed no result in {timeout_s:g} s "
                     "(is org.tensorflow.lite.benchmark installed?)")
    time.sleep(poll_s)
