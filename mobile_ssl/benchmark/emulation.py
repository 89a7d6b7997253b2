"""The emulated-arm64 target: the latency runner in an aarch64 Python under qemu-user.

mobile_ssl/benchmark/setup_emulation.sh makes the sysroot (Debian arm64 python3.11 + the
aarch64 wheels of ai-edge-litert and numpy + a fake Neoverse-N1
/proc/cpuinfo). Here `qemu-aarch64-static` runs that Python with
QEMU_LD_PREFIX pointing at the sysroot (no chroot, no binfmt) and
QEMU_CPU=neoverse-n1: with qemu's default 'max' CPU, XNNPACK's int8 kernels
return wrong results, and without the fake cpuinfo XNNPACK turns itself off.

What the figures mean: the model loads and runs on LiteRT's aarch64 kernels
(XNNPACK's NEON paths) and gives the same outputs as on x86; the times are
qemu's, orders of magnitude slower than native and skewed by the instruction
mix (TCG emulates float NEON slowly and integer dot products cheaply; the
measured figures are in docs/benchmark.md, "Emulated arm64 results"). They are
labelled EMULATED_LABEL and are never phone latency.
"""

import os
import shutil
import typing

from mobile_ssl.benchmark import latency

EMULATED_LABEL = "emulated (qemu), not phone latency"
QEMU = "qemu-aarch64-static"
QEMU_CPU = "neoverse-n1"
PYTHON = "usr/bin/python3.11"
SETUP_SCRIPT = os.path.join("mobile_ssl", "benchmark", "setup_emulation.sh")


def default_sysroot() -> str:
  """$ARM64_SYSROOT, else build/arm64-sysroot in the folder that holds `mobile_ssl`."""
  return os.environ.get("ARM64_SYSROOT") or os.path.join(latency.package_parent(), "build",
                                                          "arm64-sysroot")


def check(sysroot: str) -> None:
  """Raises ValueError (one line, with the fix) unless the emulated target is ready."""
  hint = (f"run `bash {os.path.join(latency.package_parent(), SETUP_SCRIPT)}` first "
          "(as root, about 40 s; see docs/benchmark.md)")
  if shutil.which(QEMU) is None:
    raise ValueError(f"--target=emulated-arm64: {QEMU} is not installed; {hint}")
  if not os.path.isfile(os.path.join(sysroot, PYTHON)):
    raise ValueError(f"--target=emulated-arm64: no aarch64 Python in {sysroot}; {hint}")
  if not os.path.isdir(os.path.join(sysroot, "opt", "site", "ai_edge_litert")):
    raise ValueError(f"--target=emulated-arm64: {sysroot} has no aarch64 ai_edge_litert; {hint}")
  if not os.path.isfile(os.path.join(sysroot, "proc", "cpuinfo")):
    raise ValueError(f"--target=emulated-arm64: {sysroot}/proc/cpuinfo is missing (without it "
                     f"XNNPACK is off, with the host's it crashes); {hint}")


def environment(sysroot: str) -> typing.Dict[str, str]:
  """The variables qemu and the aarch64 Python need."""
  return {
      "QEMU_CPU": QEMU_CPU,
      "QEMU_LD_PREFIX": sysroot,
      # The aarch64 wheels first: the host's x86 site-packages must never be found.
      "PYTHONPATH": os.path.join(sysroot, "opt", "site"),
      "PYTHONNOUSERSITE": "1",
  }


def python_command(sysroot: str) -> typing.List[str]:
  return [QEMU, os.path.join(sysroot, PYTHON)]


def run_request(request: dict, sysroot: typing.Optional[str] = None) -> dict:
  """`latency.run_request` in the emulated aarch64 Python; its result, labelled.

  Raises:
    ValueError: the emulated target is not set up (the message says how).
    RuntimeError: the emulated runner failed.
  """
  sysroot = os.path.abspath(sysroot or default_sysroot())
  check(sysroot)
  result = latency.run_in_child(request, python_command(sysroot), environment(sysroot),
                                what="emulated-arm64")
  result["platform"]["label"] = EMULATED_LABEL
  result["platform"]["peak_rss_mb"] = None
  for model in result["models"]:
    for figures in model["results"]:
      # The RSS seen inside qemu-user is qemu's own (translation cache included).
      figures["memory_init_mb"] = figures["memory_overall_mb"] = None
  return result
