"""A benchmark run as JSON (everything), Markdown (tables) and PNGs (bars, accuracy vs latency).

The report dict (`bench.py` assembles it) holds 'target', 'label',
'platform', 'settings', 'models' (one dict per model: size, weights, MACs,
op histogram, 'results' per thread/XNNPACK configuration in benchmark_model's
terms, optional 'op_profile', 'front_end', 'accuracy', 'x86_agreement') and
'ratios' (ours vs each peer at the same precision, measured in the same run).
Latencies in the tables are milliseconds; the headline is `latency_us`, the
median over interleaved rounds of each round's median invoke.
"""

import json
import os
import typing

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # files only, no display
from matplotlib import pyplot  # pylint: disable=g-import-not-at-top,wrong-import-position

from mobile_ssl.core import atomic

FAMILY_COLOURS = {"ours": "tab:blue", "file": "tab:blue", "peer": "tab:orange"}


def _ms(us: typing.Optional[float]) -> str:
  return "" if us is None else f"{us / 1000:.3f}"


def _headline(model: dict) -> dict:
  return model["results"][0] if model.get("results") else {}


def ratios(models: typing.Sequence[dict]) -> typing.List[dict]:
  """Ours (and user files) vs every peer of the same precision, on the headline config."""
  out = []
  for ours in models:
    if ours["family"] == "peer" or not ours.get("results"):
      continue
    for peer in models:
      if peer["family"] != "peer" or peer["precision"] != ours["precision"] or not peer.get(
          "results"):
        continue
      mine, theirs = _headline(ours)["latency_us"], _headline(peer)["latency_us"]
      out.append({"ours": ours["name"], "peer": peer["name"], "precision": ours["precision"],
                  "ours_input": ours["input"], "ours_latency_us": mine,
                  "peer_latency_us": theirs, "speedup": theirs / mine,
                  "latency_ratio": mine / theirs,
                  "size_ratio": ours["size_bytes"] / peer["size_bytes"],
                  "macs_ratio": (ours["macs"] / peer["macs"]) if peer["macs"] else None})
  return out


def cpu_lines(report: dict) -> typing.List[str]:
  """Which kernels ran (CPU features from /proc/cpuinfo) and the precision to ship there.

  The feature rule (`mobile_ssl.benchmark.latency.recommend_precision`) comes with what this
  run measured: the fastest precision of our models in the table.
  """
  p = report["platform"]
  features = p.get("cpu_features")
  lines = [f"CPU features: {' '.join(features) if features else 'not read'}"
           f"{' (' + p['kernels'] + ')' if p.get('kernels') else ''}."]
  ours = [m for m in report["models"] if m["family"] != "peer" and m.get("results")]
  by_precision = {}
  for m in ours:
    latency_us = _headline(m)["latency_us"]
    key = (m["precision"], m["input"])
    by_precision[key] = min(latency_us, by_precision.get(key, latency_us))
  measured = ""
  if len({k[0] for k in by_precision}) > 1:
    ranked = sorted(by_precision.items(), key=lambda item: item[1])
    measured = " Measured here: " + ", ".join(
        f"{precision} {kind} {_ms(us)} ms" for (precision, kind), us in ranked) + "."
  if p.get("recommended_precision") or measured:
    lines.append(f"Recommended precision: {p.get('recommended_precision', '')}.{measured}")
  return lines


def markdown(report: dict) -> str:
  p = report["platform"]
  lines = [f"# mobile-ssl-bench: {report['label']}", "",
           f"Target `{report['target']}`: {p.get('machine', '?')} {p.get('cpu', '')}"
           f" ({p.get('cpu_count', '?')} CPUs), LiteRT {p.get('litert', '?')}, "
           f"Python {p.get('python', '?')}. {report['settings_text']}", "",
           *cpu_lines(report), ""]
  config = _headline(report["models"][0]) if report["models"] else {}
  lines += [f"## Models ({config.get('threads', '?')} thread(s), XNNPACK "
            f"{'on' if config.get('xnnpack', True) else 'off'}; times in ms)", "",
            "| model | precision | input | size (KB) | weights | MACs (M) | Init | First "
            "inference | Inference (avg) | p50 | p90 | p99 | memory init/overall (MB) |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for m in report["models"]:
    r = _headline(m)
    memory = ("" if r.get("memory_overall_mb") is None else
              f"{r.get('memory_init_mb', 0):.1f} / {r['memory_overall_mb']:.1f}")
    lines.append(
        f"| {m['name']} | {m['precision']} | {m['input']} | {m['size_bytes'] / 1000:.1f} | "
        f"{m['weights']:,} | {m['macs'] / 1e6:.2f} | {_ms(r.get('init_us'))} | "
        f"{_ms(r.get('first_inference_us'))} | {_ms(r.get('inference_avg_us'))} | "
        f"{_ms(r.get('p50_us'))} | {_ms(r.get('p90_us'))} | {_ms(r.get('p99_us'))} | {memory} |")
  if any(len(m.get("results", [])) > 1 for m in report["models"]):
    lines += ["", "## Threads and XNNPACK (p50 / Inference (avg), ms)", "",
              "| model | threads | XNNPACK | p50 | Inference (avg) | Init |",
              "|---|---:|---|---:|---:|---:|"]
    for m in report["models"]:
      for r in m.get("results", []):
        lines.append(f"| {m['name']} | {r['threads']} | {'on' if r['xnnpack'] else 'off'} | "
                     f"{_ms(r.get('p50_us', r.get('latency_us')))} | "
                     f"{_ms(r.get('inference_avg_us'))} | {_ms(r.get('init_us'))} |")
  if report.get("ratios"):
    lines += ["", "## Ours vs peers (same converter, same precision, same run)", "",
              "| ours | peer | precision | ours (ms) | peer (ms) | speed-up (peer / ours) | "
              "latency ours/peer | size ours/peer | MACs ours/peer |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for q in report["ratios"]:
      macs = "" if q["macs_ratio"] is None else f"{q['macs_ratio']:.3f}"
      lines.append(f"| {q['ours']} | {q['peer']} | {q['precision']} | "
                   f"{_ms(q['ours_latency_us'])} | {_ms(q['peer_latency_us'])} | "
                   f"{q['speedup']:.2f}x | {q['latency_ratio']:.3f} | {q['size_ratio']:.3f} | "
                   f"{macs} |")
  lines += _extras(report)
  return "\n".join(lines) + "\n"


def _extras(report: dict) -> typing.List[str]:
  lines = ["", "## Op histograms", ""]
  for m in report["models"]:
    ops = ", ".join(f"{op} x{n}" for op, n in m["op_histogram"].items())
    lines.append(f"- {m['name']}: {ops}")
  fronts = [m for m in report["models"] if m.get("front_end")]
  if fronts:
    lines += ["", "## Front end share of waveform models (per-op profile: ops before the "
              "first conv)", "", "| model | front end (ms) | whole model (ms) | share |",
              "|---|---:|---:|---:|"]
    for m in fronts:
      f = m["front_end"]
      lines.append(f"| {m['name']} | {_ms(f['front_end_us'])} | {_ms(f['total_us'])} | "
                   f"{100 * f['share']:.0f} % |")
  for m in report["models"]:
    if not m.get("op_profile"):
      continue
    total = sum(o["median_us"] for o in m["op_profile"]) or 1.0
    lines += ["", f"## Per-op profile: {m['name']} (each op alone, median us)", "",
              "| # | op | output | us | % |", "|---:|---|---|---:|---:|"]
    for o in m["op_profile"]:
      lines.append(f"| {o['index']} | {o['op']} | {'x'.join(map(str, o['output_shape']))} | "
                   f"{o['median_us']:.2f} | {100 * o['median_us'] / total:.1f} |")
  swept = [m for m in report["models"] if m.get("width") is not None and m["family"] == "ours"]
  if len({m["width"] for m in swept}) > 1 or any(m.get("accuracy") for m in swept):
    lines += ["", "## Width sweep", "", "| model | weights | width | size (KB) | params (Keras) | "
              "MACs (M) | p50 (ms) | accuracy [95 % CI] |",
              "|---|---|---:|---:|---:|---:|---:|---|"]
    for m in sorted(swept, key=lambda m: (m["arch"], m["input"], m["precision"], m["width"])):
      a = m.get("accuracy")
      acc = (f"{a['accuracy']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}] ({a['task']})"
             if a else "")
      weights = (os.path.basename(os.path.normpath(m["encoder_dir"])) if m.get("encoder_dir")
                 else "untrained (random init)")
      lines.append(f"| {m['name']} | {weights} | {m['width']:g} | {m['size_bytes'] / 1000:.1f} | "
                   f"{m.get('keras_params') or ''} | {m['macs'] / 1e6:.2f} | "
                   f"{_ms(_headline(m).get('latency_us'))} | {acc} |")
  agreement = [m for m in report["models"] if m.get("x86_agreement")]
  if agreement:
    lines += ["", "## Output agreement with x86 (same input)", "",
              "| model | max abs diff | cosine |", "|---|---:|---:|"]
    for m in agreement:
      a = m["x86_agreement"]
      lines.append(f"| {m['name']} | {a['max_abs_diff']:.3g} | {a['cosine']:.6f} |")
  return lines


def _save(figure, path: str) -> None:
  with atomic.replacing(path, suffix=".png") as tmp:
    figure.savefig(tmp, format="png", dpi=120)
  pyplot.close(figure)


def bar_chart(report: dict, path: str) -> None:
  """Headline latency and file size per model, side by side (log scales)."""
  models = [m for m in report["models"] if m.get("results")]
  names = [m["name"] for m in models]
  colours = [FAMILY_COLOURS.get(m["family"], "tab:gray") for m in models]
  figure, (left, right) = pyplot.subplots(1, 2, figsize=(12, 0.45 * len(models) + 1.8),
                                          sharey=True)
  values = ([_headline(m)["latency_us"] / 1000 for m in models],
            [m["size_bytes"] / 1000 for m in models])
  labels = (f"latency, ms (p50, {report['label']})", "file size, KB")
  for axes, numbers, label in zip((left, right), values, labels):
    axes.barh(names, numbers, color=colours)
    axes.set_xscale("log")
    # Log bars start at the left limit: put it well below the smallest value.
    axes.set_xlim(min(numbers) / 4, max(numbers) * 4)
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlabel(label)
    for y, number in enumerate(numbers):
      text = f"{number:.3g}" if number < 1000 else f"{number:,.0f}"
      axes.annotate(text, (number, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)
  left.invert_yaxis()
  figure.suptitle("mobile-ssl-bench: ours (blue) vs peers (orange)")
  figure.tight_layout()
  _save(figure, path)


def accuracy_chart(report: dict, path: str) -> bool:
  """Accuracy vs latency for models with an accuracy; False (no file) if there are none."""
  models = [m for m in report["models"] if m.get("accuracy") and m.get("results")]
  if not models:
    return False
  figure, axes = pyplot.subplots(figsize=(7, 5))
  series = {}  # one line per architecture/input/precision, ordered by latency (width)
  for m in models:
    series.setdefault((m["arch"], m["input"], m["precision"]), []).append(m)
  for (arch, kind, precision), members in series.items():
    members.sort(key=lambda m: _headline(m)["latency_us"])
    x = [_headline(m)["latency_us"] / 1000 for m in members]
    y = [m["accuracy"]["accuracy"] for m in members]
    errors = [[m["accuracy"]["accuracy"] - m["accuracy"]["ci_low"] for m in members],
              [m["accuracy"]["ci_high"] - m["accuracy"]["accuracy"] for m in members]]
    axes.errorbar(x, y, yerr=errors, fmt="o-", capsize=3, label=f"{arch} {kind} {precision}")
    for m, xi, yi in zip(members, x, y):
      tag = f"w{m['width']:g}" if m.get("width") is not None else m["name"]
      axes.annotate(tag, (xi, yi), textcoords="offset points", xytext=(5, 5), fontsize=8)
  axes.legend(fontsize=8)
  axes.set_xscale("log")
  axes.set_xlabel(f"latency, ms (p50, {report['label']})")
  axes.set_ylabel(f"probe accuracy ({models[0]['accuracy']['task']})")
  axes.grid(alpha=0.3)
  figure.tight_layout()
  _save(figure, path)
  return True


def write(report: dict, output_dir: str) -> typing.Dict[str, str]:
  """Writes benchmark.json, benchmark.md, benchmark.png (+ accuracy_latency.png); their paths."""
  os.makedirs(output_dir, exist_ok=True)
  paths = {"json": os.path.join(output_dir, "benchmark.json"),
           "markdown": os.path.join(output_dir, "benchmark.md"),
           "png": os.path.join(output_dir, "benchmark.png")}
  atomic.write_text(paths["json"], json.dumps(report, indent=1, sort_keys=True) + "\n")
  atomic.write_text(paths["markdown"], markdown(report))
  bar_chart(report, paths["png"])
  accuracy_png = os.path.join(output_dir, "accuracy_latency.png")
  if accuracy_chart(report, accuracy_png):
    paths["accuracy_png"] = accuracy_png
  return paths
