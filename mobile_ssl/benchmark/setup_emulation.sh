#!/usr/bin/env bash
# Sets up the emulated aarch64 target of `mobile-ssl-bench --target=emulated-arm64`.
#
# What it makes (idempotent; a second run only checks, ~2 s):
#   build/arm64-sysroot/            a Debian bookworm arm64 root (python3.11), unpacked
#                                   with `debootstrap --foreign` + `dpkg-deb -x`: no chroot,
#                                   no binfmt, no second stage (that one takes ~4 min under qemu)
#   build/arm64-sysroot/opt/site/   aarch64 wheels of ai-edge-litert and numpy, installed by the
#                                   host pip (`--target --platform ...`), same versions as the venv
#   build/arm64-sysroot/proc/cpuinfo  a fake Neoverse-N1 cpuinfo (mobile_ssl/benchmark/cpuinfo-neoverse-n1)
# and runs a smoke test: the aarch64 Python imports the LiteRT interpreter under qemu.
#
# Two settings are required and used by mobile_ssl/benchmark/emulation.py:
#   QEMU_CPU=neoverse-n1: with qemu's default 'max' CPU, XNNPACK's int8 path gives wrong results;
#   the fake cpuinfo: the host's x86 /proc/cpuinfo makes the aarch64 cpuinfo library crash, and no
#   cpuinfo at all disables XNNPACK. It must match QEMU_CPU (asimddp on a CPU without it: SIGILL).
#
# Needs root (apt-get, debootstrap) and network access to the Debian mirror and PyPI.
# Environment: ARM64_SYSROOT (default build/arm64-sysroot), PYTHON (default .venv/bin/python),
# DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

START_SECONDS=$(date +%s)
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROOT=${ARM64_SYSROOT:-$REPO/build/arm64-sysroot}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CPUINFO=$REPO/mobile_ssl/benchmark/cpuinfo-neoverse-n1

say() { echo "setup_emulation: [$(( $(date +%s) - START_SECONDS )) s] $*"; }
die() { echo "setup_emulation: error: $*" >&2; exit 1; }

[ -x "$PYTHON" ] || die "$PYTHON: no Python (create the venv first, see BUILD.md, or set PYTHON=)"
[ -f "$CPUINFO" ] || die "$CPUINFO: missing"

# 1. Host packages.
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
  [ "$(id -u)" = 0 ] || die "qemu-user-static and debootstrap are missing; run as root to install them"
  say "installing qemu-user-static debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    qemu-user-static debootstrap >/dev/null
fi

# 2. The arm64 root. Built in a .partial folder and renamed when complete, so an interrupted run
# never leaves something that looks finished.
if [ ! -x "$ROOT/usr/bin/python3.11" ]; then
  [ "$(id -u)" = 0 ] || die "debootstrap needs root"
  rm -rf "$ROOT.partial"
  mkdir -p "$(dirname "$ROOT")"
  say "debootstrap --foreign arm64 bookworm -> $ROOT"
  debootstrap --foreign --arch arm64 --variant=minbase --include=python3 \
    bookworm "$ROOT.partial" "$MIRROR" >"$ROOT.partial.log" 2>&1 \
    || die "debootstrap failed, see $ROOT.partial.log"
  say "unpacking $(ls "$ROOT.partial"/var/cache/apt/archives/*.deb | wc -l) packages"
  for deb in "$ROOT.partial"/var/cache/apt/archives/*.deb; do
    dpkg-deb -x "$deb" "$ROOT.partial"
  done
  rm -f "$ROOT.partial"/var/cache/apt/archives/*.deb "$ROOT.partial.log"
  rm -rf "$ROOT"
  mv "$ROOT.partial" "$ROOT"
fi

# 3. The fake cpuinfo (always refreshed: cheap, and the file may have changed).
rm -rf "$ROOT/proc"
mkdir -p "$ROOT/proc"
cp "$CPUINFO" "$ROOT/proc/cpuinfo"

# 4. aarch64 wheels, the versions the host venv runs (so x86 and arm64 results are comparable).
versions=$("$PYTHON" -c "import importlib.metadata as m; print(m.version('ai-edge-litert'), m.version('numpy'))")
read -r LITERT_VERSION NUMPY_VERSION <<<"$versions"
MARKER="$ROOT/opt/site/.mobile_ssl-wheels"
WANT="ai-edge-litert==$LITERT_VERSION numpy==$NUMPY_VERSION"
if [ "$(cat "$MARKER" 2>/dev/null)" != "$WANT" ]; then
  say "pip install --target (aarch64): $WANT"
  rm -rf "$ROOT/opt/site"
  # ai-edge-litert 2.x aarch64 wheels are tagged manylinux_2_27; with manylinux2014 alone pip
  # silently falls back to 1.4.0.
  "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile --no-warn-conflicts \
    --target "$ROOT/opt/site" --only-binary=:all: \
    --platform manylinux_2_27_aarch64 --platform manylinux2014_aarch64 \
    --python-version 3.11 --implementation cp --abi cp311 \
    "ai-edge-litert==$LITERT_VERSION" "numpy==$NUMPY_VERSION"
  echo "$WANT" >"$MARKER"
fi

# 5. Smoke test: the aarch64 Python imports LiteRT under qemu.
say "smoke test"
QEMU_CPU=neoverse-n1 QEMU_LD_PREFIX="$ROOT" PYTHONPATH="$ROOT/opt/site" PYTHONNOUSERSITE=1 \
  qemu-aarch64-static "$ROOT/usr/bin/python3.11" -c \
  "import platform, numpy, ai_edge_litert.interpreter; print('  aarch64 python', platform.python_version(), platform.machine(), 'numpy', numpy.__version__)" \
  || die "the emulated Python failed to import ai_edge_litert"

say "ready: $ROOT ($(du -sh "$ROOT" | cut -f1)), set up in $(( $(date +%s) - START_SECONDS )) s"
