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
from mobile_ssl.core import encoder as encoder_lib

PROG = "mobile-ssl-bench"
_D = bench.BenchParams()


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py): one per BenchParams field."""
  where = cli.where(fv)
  flags.DEFINE_enum("target", _D.target, bench.TARGETS, "Where to run.", **where)
  flags.DEFINE_list("threads", list(_D.threads), "Thread counts to sweep, e.g. 1,2,4.", **where)
  flags.DEFINE_list("xnnpack", list(_D.xnnpack), "XNNPACK settings to sweep: on, off or on,off.",
                    **where)
  flags.DEFINE_integer("warmup_runs", _D.warmup_runs,
                       "Warm-up invokes per model and config (-1: per target).", **where)
  flags.DEFINE_integer("num_runs", _D.num_runs, "Timed invokes per round (-1: 200 host, 10 "
                       "emulated, 50 android).", **where)
  flags.DEFINE_integer("repeats", _D.repeats, "Interleaved timing rounds; the headline is their "
                       "median.", **where)
  flags.DEFINE_list("build", list(_D.build), f"Our encoder variants to build and convert: "
                    f"{', '.join(encoder_lib.VARIANTS)}.", **where)
  flags.DEFINE_list("widths", list(_D.widths), "Encoder widths for --build (a width sweep: "
                    "0.25,0.5,1,2).", **where)
  flags.DEFINE_list("encoder_dirs", list(_D.encoder_dirs), "Trained run directories to convert "
                    "(instead of --build).", **where)
  flags.DEFINE_list("precisions", list(_D.precisions), f"Precisions of built models and peers: "
                    f"{', '.join(bench.PRECISIONS)}.", **where)
  flags.DEFINE_list("inputs", list(_D.inputs), "Inputs of our built models: log_mel, "
                    "waveform (front end in the graph).", **where)
  flags.DEFINE_bool("peers", _D.peers, "Also build, convert and time the peer architectures.",
                    **where)
  flags.DEFINE_list("peer_names", list(_D.peer_names), "Which peers with --peers.", **where)
  flags.DEFINE_list("peer_models", list(_D.peer_models), "Peer .tflite files (e.g. a shipped "
                    "yamnet.tflite, or the models/ of an earlier run): timed and used for ratios "
                    "like --peers.", **where)
  flags.DEFINE_bool("op_profile", _D.op_profile, "Per-op profile of every model (first config).",
                    **where)
  flags.DEFINE_string("probe_task", _D.probe_task, "Linear-probe accuracy of our log-mel models on "
                      "this task (a code such as SYN_EVENT, or DATASET:LABEL_KEY).", **where)
  flags.DEFINE_string("calibration_dataset", _D.calibration_dataset, "Real audio for int8 "
                      "calibration and the timed input ('' : seeded random input, no int8 builds).",
                      **where)
  flags.DEFINE_string("calibration_split", _D.calibration_split, "Split of --calibration_dataset.",
                      **where)
  flags.DEFINE_integer("calibration_examples", _D.calibration_examples,
                       "975 ms windows used to calibrate int8.", **where)
  flags.DEFINE_string("data_dir", _D.data_dir, "TFDS data dir (default: TFDS's, "
                      "~/tensorflow_datasets).", **where)
  flags.DEFINE_string("output_dir", _D.output_dir, "Where benchmark.{json,md,png} and the "
                      "built models go.", **where)
  flags.DEFINE_integer("seed", _D.seed, "Seeds the random weights of built models.", **where)
  flags.DEFINE_string("arm64_sysroot", _D.arm64_sysroot, "emulated-arm64: the sysroot (default "
                      "$ARM64_SYSROOT or build/arm64-sysroot).", **where)
  flags.DEFINE_string("adb_serial", _D.adb_serial, "android: the device serial (adb devices).",
                      **where)
  flags.DEFINE_string("adb", _D.adb, "android: the adb executable.", **where)
  flags.DEFINE_enum("android_mode", _D.android_mode, ["binary", "apk"], "android: "
                    "benchmark_model binary or the benchmark app.", **where)
  flags.DEFINE_string("benchmark_binary", _D.benchmark_binary, "android: path of an "
                      "android_aarch64 benchmark_model.", **where)
  flags.DEFINE_string("cpu_mask", _D.cpu_mask, "android: taskset mask (hex) pinning "
                      "benchmark_model to the big cores.", **where)


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
