"""mobile-ssl-bench: size and latency of .tflite models on host x86, emulated arm64 or Android.

  mobile-ssl-bench MODEL.tflite [MODEL.tflite ...] [--peers] [--target=host]
  mobile-ssl-bench --build=paper,fast --inputs=log_mel,waveform --precisions=int8,float32 --peers
  mobile-ssl-bench --encoder_dirs=runs/w0.5,runs/w1 --probe_task=SYN_EVENT --peers
  mobile-ssl-bench ours_int8.tflite --peer_models=yamnet.tflite   # peers you already have
  mobile-ssl-bench m.tflite --target=emulated-arm64   # after mobile_ssl/benchmark/setup_emulation.sh
  mobile-ssl-bench m.tflite --target=android --adb_serial=X --benchmark_binary=benchmark_model

What is measured and how: mobile_ssl/benchmark/bench.py and docs/benchmark.md.
"""

from absl import flags

from mobile_ssl.benchmark import bench
from mobile_ssl.benchmark import bench_report
from mobile_ssl.commands import cli

PROG = "mobile-ssl-bench"


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py): one per BenchParams field."""
  cli.define_dataclass(fv, bench.BenchParams)


def params_from_flags(fv: flags.FlagValues) -> bench.BenchParams:
  """The flags as BenchParams."""
  return bench.BenchParams(**cli.dataclass_values(bench.BenchParams, fv))


def _summary(report: dict) -> str:
  lines = []
  for q in report["ratios"]:
    pace = (f"{q['speedup']:.2f}x faster" if q["speedup"] >= 1 else
            f"{1 / q['speedup']:.2f}x slower")
    lines.append(f"{q['ours']} vs {q['peer']}: {pace} ({q['ours_latency_us'] / 1000:.3f} vs "
                 f"{q['peer_latency_us'] / 1000:.3f} ms), {q['size_ratio']:.3f}x the size")
  return "\n".join(lines)


def main(argv, fv: flags.FlagValues) -> int:
  cli.quiet_logs(fv)
  try:
    bp = params_from_flags(fv)
    report = bench.benchmark(argv[1:], bp)
    paths = bench_report.write(report, bp.output_dir)
  except (ValueError, RuntimeError) as e:  # user errors: one line, no traceback
    return cli.error(PROG, e)
  print(bench_report.markdown(report).split("\n## Op histograms")[0])
  summary = _summary(report)
  if summary:
    print(summary)
  print("wrote " + ", ".join(paths.values()))
  return 0


def run():
  cli.run(PROG, define_flags, main)


if __name__ == "__main__":
  run()
