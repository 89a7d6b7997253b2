"""A stand-in for `adb` in tests (no phone exists here): records its argv, answers like adb.

Environment:
  FAKE_ADB_LOG: file to which each call's argv is appended as one JSON line.
  FAKE_ADB_SERIAL: the only connected device; other serials fail as adb does.
  FAKE_ADB_BENCHMARK: file printed for a `shell ... benchmark_model ...` call.
  FAKE_ADB_LOGCAT: file printed for `logcat -d ...`.
The printed files are in the formats of TFLite's benchmark_model and its app
(tests/data/benchmark_*.txt).
"""

import json
import os
import sys


def main(argv):
  with open(os.environ["FAKE_ADB_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(argv) + "\n")
  if len(argv) < 3 or argv[0] != "-s":
    print("adb: usage: adb -s SERIAL COMMAND", file=sys.stderr)
    return 1
  serial, command, rest = argv[1], argv[2], argv[3:]
  if serial != os.environ.get("FAKE_ADB_SERIAL"):
    print(f"adb: device '{serial}' not found", file=sys.stderr)
    return 1
  if command == "get-state":
    print("device")
  elif command == "push":
    local, remote = rest
    if not os.path.exists(local):
      print(f"adb: error: cannot stat '{local}': No such file or directory", file=sys.stderr)
      return 1
    print(f"{local}: 1 file pushed, 0 skipped. 12.3 MB/s ({os.path.getsize(local)} bytes in "
          f"0.001s)")
  elif command == "shell":
    line = " ".join(rest)
    if "benchmark_model " in line + " " and "am start" not in line:
      with open(os.environ["FAKE_ADB_BENCHMARK"], encoding="utf-8") as f:
        sys.stdout.write(f.read())
    elif line.startswith("am start"):
      print("Starting: Intent { cmp=org.tensorflow.lite.benchmark/.BenchmarkModelActivity "
            "(has extras) }")
    elif line == "getprop ro.product.model":
      print("Pixel 7")
    elif line == "getprop ro.soc.model":
      print("Tensor G2")
    elif line == "cat /proc/cpuinfo":  # Tensor G2: Cortex-X1/A78/A55, Armv8.2 (dotprod, no i8mm)
      for cpu in range(2):
        print(f"processor\t: {cpu}\nBogoMIPS\t: 49.15\nFeatures\t: fp asimd evtstrm aes pmull "
              "sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\n")
  elif command == "logcat":
    if "-d" in rest:
      with open(os.environ["FAKE_ADB_LOGCAT"], encoding="utf-8") as f:
        sys.stdout.write(f.read())
  else:
    print(f"adb: unknown command {command}", file=sys.stderr)
    return 1
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
