"""The quickstart's report: a README.md with PNGs, and the summary printed at the end.

Everything comes from the summary dict `quickstart.quickstart` assembles (the
probe rows of mobile_ssl.evaluation.suite, the export report of mobile_ssl.export.exporter, the
benchmark report of mobile_ssl.benchmark.bench); the plots come from mobile_ssl.evaluation.eval_report
(loss curves, accuracy bars) and mobile_ssl.benchmark.bench_report (size and latency bars).
"""

import os
import typing

from mobile_ssl.benchmark import bench_report
from mobile_ssl.core import atomic
from mobile_ssl.evaluation import eval_report

README = "README.md"
LOSS_PNG = "loss_curves.png"
SIZE_LATENCY_PNG = "size_latency.png"


def _accuracy_table(rows: typing.Sequence[dict]) -> typing.List[str]:
  if not rows:
    return ["(the dataset has no labels: no linear probe)"]
  return eval_report.markdown(rows).strip().split("\n")


def _export_lines(export: typing.Optional[dict]) -> typing.List[str]:
  if not export:
    return ["(not exported)"]
  lines = []
  refused = bool(export.get("error"))
  later = refused and export.get("written_without_probe_check")
  if later:
    lines.append(f"**The int8 model failed validation** ({export['error']}); the file at "
                 "that path was written afterwards, outside the quickstart's checked export.")
  elif refused:
    lines.append(f"**The int8 model failed validation and was not written:** {export['error']}")
  if export.get("stale_file"):
    lines.append(f"- the file at `{export.get('path')}` is older than this run's encoder, from "
                 "an earlier one: kept as it was, not benchmarked")
  validation = export.get("validation", {})
  state = " (written outside the quickstart's checks)" if later else (
      " (refused, not written)" if refused else "")
  lines.append(f"- file{state}: `{export.get('path')}`, "
               f"{export.get('size_bytes', 0):,} bytes, "
               f"input `{export.get('input', {}).get('name', 'waveform')}` "
               f"{export.get('input', {}).get('shape', '')}, output `embedding`")
  if validation:
    lines.append(f"- cosine to the Keras encoder on held-out windows: mean "
                 f"{validation.get('mean_cosine', float('nan')):.5f}, min "
                 f"{validation.get('min_cosine', float('nan')):.5f}")
  probe = export.get("probe")
  if probe:
    stride = probe.get("train_window_stride", 1)
    # Not the probe table's Keras row when the check fitted on fewer windows.
    fitted_on = (f" (both probes fitted on 1 in {stride} train windows, "
                 f"{probe['train_windows']:,} windows)" if stride > 1 else "")
    lines.append(f"- linear probe on `{probe.get('task')}`: .tflite "
                 f"{probe.get('tflite_accuracy', float('nan')):.3f} vs Keras "
                 f"{probe.get('keras_accuracy', float('nan')):.3f}{fitted_on}")
  if refused and probe and not later:
    # A drop of a few of 300 test clips is within the check's spread from one fit to the
    # next (docs/export.md, "How many windows the probe check needs"): say how to go on.
    lines.append(f"- to write the file without the probe check: `export_tflite "
                 f"--encoder={export.get('encoder', '<run>')} --output={export.get('path')} "
                 "--quantization=int8 --input=waveform` (the cosine checks still apply), then "
                 "`mobile-ssl-quickstart` again to benchmark it")
  return lines


def _ours_and_peer(bench: dict):
  ours = next((m for m in bench["models"] if m["family"] != "peer"), None)
  peer = next((m for m in bench["models"] if m["family"] == "peer"), None)
  return ours, peer


def _peer_label(peer: dict) -> str:
  if peer.get("input") == "waveform":
    return f"{peer['arch']} (waveform in, front end included)"
  return f"{peer['arch']} architecture (log-mel in, no front end)"


def benchmark_lines(bench: typing.Optional[dict]) -> typing.List[str]:
  """Latency and size of our model against the peer, measured in the same run.

  Against a waveform-in peer (the quickstart's default, `yamnet_waveform`)
  both models do the same work, and each one's front end and encoder part
  are compared too (the per-op profile's front-end share of each). Against a
  log-mel-in peer only our encoder part does the peer's work.
  """
  if not bench:
    return ["(not benchmarked)"]
  ours, peer = _ours_and_peer(bench)
  if ours is None or peer is None or not ours.get("results") or not peer.get("results"):
    return ["(no timing)"]
  mine, theirs = ours["results"][0]["latency_us"], peer["results"][0]["latency_us"]
  lines = [f"- {bench['label']}, 1 thread, XNNPACK, median of interleaved rounds;",
           *(f"  {line}" for line in bench_report.cpu_lines(bench)),
           f"- ours (waveform in, front end included): {mine / 1000:.3f} ms, "
           f"{ours['size_bytes']:,} bytes",
           f"- {_peer_label(peer)}, {peer['precision']}, random weights: "
           f"{theirs / 1000:.3f} ms, {peer['size_bytes']:,} bytes",
           f"- ours / peer: latency {mine / theirs:.2f}x, size {ours['size_bytes'] / peer['size_bytes']:.3f}x"]
  front, peer_front = ours.get("front_end"), peer.get("front_end")
  if not (front and front.get("total_us")):
    return lines
  encoder_us = mine * (1 - front["share"])
  if peer.get("input") != "waveform":
    lines.append(f"- in our model the log-mel front end takes {100 * front['share']:.0f} % of the "
                 f"time; the encoder part (~{encoder_us / 1000:.3f} ms) is "
                 f"{theirs / encoder_us:.1f}x faster than the peer")
  elif peer_front and peer_front.get("total_us"):
    peer_encoder_us = theirs * (1 - peer_front["share"])
    lines += [f"- front end: ours ~{mine * front['share'] / 1000:.3f} ms "
              f"({100 * front['share']:.0f} %), the peer's ~"
              f"{theirs * peer_front['share'] / 1000:.3f} ms ({100 * peer_front['share']:.0f} %)",
              f"- encoder part: ours ~{encoder_us / 1000:.3f} ms, the peer's "
              f"~{peer_encoder_us / 1000:.3f} ms ({peer_encoder_us / encoder_us:.1f}x)"]
  return lines


_PROBE_ON = {
    "clips": "Each probe is fitted on the train clips' mean window embeddings (975 ms windows, "
             "hop 0.5 s) and scores each test clip's mean embedding; `--probe_on=windows` fits "
             "every window instead (mobile-ssl-eval's default, the papers' protocol).",
    "windows": "Each probe is fitted on every 975 ms train window (hop 0.5 s); a test clip's "
               "prediction is the mean of its windows' probabilities."}


def clip_counts(clips: typing.Mapping[str, int]) -> str:
  """'train 2,400, validation 300, test 300' from {split: clips}."""
  return ", ".join(f"{split} {count:,}" for split, count in clips.items())


def stage_line(stage_seconds: typing.Mapping[str, typing.Optional[float]]) -> str:
  """Each finished stage's seconds and share of their sum, then the sum."""
  done = {k: v for k, v in stage_seconds.items() if v is not None}
  total = sum(done.values())
  shares = ", ".join(f"{k} {v:.1f} s ({100 * v / total:.0f} %)" if total else f"{k} {v:.1f} s"
                     for k, v in done.items())
  return f"{shares}; {total:.1f} s in all" if done else "(no stage finished)"


def write(summary: dict, report_dir: str) -> str:
  """Writes README.md, the probe table/plots, loss curves and size/latency bars."""
  os.makedirs(report_dir, exist_ok=True)
  files = []
  if summary["rows"]:
    paths = eval_report.write(summary["rows"], report_dir)
    files += [os.path.basename(paths["bars"]), os.path.basename(paths["csv"])]
  trained = {k: v for k, v in summary["runs"].items() if k != "untrained"}
  if eval_report.loss_curves(trained, os.path.join(report_dir, LOSS_PNG)):
    files.append(LOSS_PNG)
  if summary.get("benchmark"):
    bench_report.bar_chart(summary["benchmark"], os.path.join(report_dir, SIZE_LATENCY_PNG))
    files.append(SIZE_LATENCY_PNG)
  qp = summary["params"]
  lines = [f"# mobile_ssl quickstart on `{qp['dataset']}`", "",
           f"Pretext task `{qp['task']}`, {qp['steps']} steps of {qp['batch_size']}, encoder width "
           f"{qp['width']:g}; baselines `supervised` (same budget, label "
           f"`{summary['labels'][0] if summary['labels'] else '-'}`), `untrained`, and the "
           "classical floor `logmel_stats` (log-mel and MFCC statistics, probed the same way). "
           f"Clips per split: {clip_counts(summary['clips'])}."]
  if summary["concat_clips"] > 1:
    lines.append(f"The clips are shorter than `{qp['task']}` needs, so {summary['concat_clips']} "
                 "consecutive (shuffled) clips were joined into each training recording.")
  lines += ["", "## Linear probe (clip accuracy, 95 % bootstrap interval)", "",
            _PROBE_ON.get(qp.get("probe_on", "windows"), ""), ""]
  lines += _accuracy_table(summary["rows"])
  lines += ["", "## int8 TFLite model", ""] + _export_lines(summary["export"])
  lines += ["", "## Size and latency", ""] + benchmark_lines(summary["benchmark"])
  lines += ["", "## Files", ""]
  for f in files:  # each on its own paragraph: an image beside a link renders as one line
    lines += [f"![{f}]({f})" if f.endswith(".png") else f"[{f}]({f})", ""]
  lines += ["## Time per stage", "", stage_line(summary["stage_seconds"]), ""]
  path = os.path.join(report_dir, README)
  atomic.write_text(path, "\n".join(lines))
  return path


def summary_text(summary: dict) -> str:
  """What the command prints at the end: the probe table and the model's numbers."""
  lines = ["", "## Linear probe (clip accuracy %, 95 % interval)"] + _accuracy_table(summary["rows"])
  lines += ["", "## int8 waveform model"] + _export_lines(summary["export"])
  lines += benchmark_lines(summary["benchmark"])
  return "\n".join(lines)
