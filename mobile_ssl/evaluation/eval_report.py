"""Evaluation results as files: CSV, a Markdown table like the paper's, and PNG plots.

The table has one row per method (an encoder, its mode and label budget, e.g.
'temporal_gap', 'temporal_gap (fine-tuned)', 'untrained · 10 shots') and one
column per task, each cell 'accuracy [95 % interval]' in percent. The bar
chart groups the methods by task with the intervals as error bars; the
label-efficiency plot (log x) shows accuracy against the fraction of training
labels, one line per method and one panel per task, when several fractions
were run. All files are written atomically; matplotlib uses the Agg backend.
"""

import csv
import io
import os
import typing

import matplotlib
from matplotlib import ticker  # pylint: disable=g-import-not-at-top

matplotlib.use("Agg")  # Files only: no display on servers and CI.
from matplotlib import pyplot  # pylint: disable=g-import-not-at-top,wrong-import-position

from mobile_ssl.core import atomic  # pylint: disable=wrong-import-position
from mobile_ssl.evaluation import probe as probe_lib  # pylint: disable=wrong-import-position

COLUMNS = ("task", "method", "mode", "label_fraction", "shots_per_class", "accuracy", "ci_low",
           "ci_high", "clips", "classes", "train_clips", "unseen_test_clips", "seconds", "draws",
           "draw_sd", "probe_on", "probe_iterations")
CSV_FILE = "results.csv"
MARKDOWN_FILE = "results.md"
BARS_FILE = "accuracy_by_task.png"
FRACTIONS_FILE = "accuracy_vs_label_fraction.png"


def shots_label(shots) -> str:
  """'1 shot', '10 shots': a label budget of `shots` (int or digits) clips per class."""
  return f"{int(shots)} shot{'' if int(shots) == 1 else 's'}"


def method_label(row: dict) -> str:
  """'name', 'name (fine-tuned)', plus ' · 10 shots' or ' · 10% labels'."""
  label = row["method"]
  if row["mode"] == "finetune" and row["method"] != "supervised":
    label += " (fine-tuned)"
  if row.get("shots_per_class"):
    label += f" · {shots_label(row['shots_per_class'])}"
  elif row.get("label_fraction") not in ("", None) and float(row["label_fraction"]) != 1.0:
    label += f" · {100 * float(row['label_fraction']):g}% labels"
  return label


def _unique(values) -> list:
  return list(dict.fromkeys(values))


def csv_text(rows: typing.Sequence[dict]) -> str:
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
  writer.writeheader()
  for row in rows:
    writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) and k != "label_fraction" else v)
                     for k, v in row.items()})
  return out.getvalue()


def _cell(r: dict) -> str:
  text = f"{100 * r['accuracy']:.1f} [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"
  return text + (f" ±{100 * r['draw_sd']:.1f}" if r.get("draws", 1) > 1 else "")


def markdown(rows: typing.Sequence[dict]) -> str:
  """Methods x tasks, 'acc [lo, hi]' in percent (' ±sd' over draws); '—' where not run."""
  tasks = _unique(r["task"] for r in rows)
  labels = _unique(method_label(r) for r in rows)
  cells = {(method_label(r), r["task"]): r for r in rows}
  lines = ["| method | " + " | ".join(tasks) + " |",
           "|---|" + "---|" * len(tasks)]
  for label in labels:
    values = []
    for task in tasks:
      r = cells.get((label, task))
      values.append("—" if r is None else _cell(r))
    lines.append(f"| {label} | " + " | ".join(values) + " |")
  details = "; ".join(f"{t}: {_task_summary(rows, t)}" for t in tasks)
  draws = sorted({r.get("draws", 1) for r in rows if r.get("draws", 1) > 1})
  averaged = (f" Rows under a label budget: the mean of {'/'.join(map(str, draws))} draws of "
              f"the labelled clips, ± their standard deviation." if draws else "")
  on_clips = any(r.get("probe_on") == "clips" for r in rows)
  probe = (" Linear probes fitted on each clip's mean window embedding (`--probe_on=clips`)."
           if on_clips else "")
  caps = sorted({int(r["probe_iterations"]) for r in rows if r.get("probe_iterations")
                 and int(r["probe_iterations"]) != probe_lib.MAX_ITERATIONS})
  if caps:
    probe += (f" Probe fits stopped after at most {'/'.join(map(str, caps))} L-BFGS iterations "
              f"(`--probe_iterations`; default {probe_lib.MAX_ITERATIONS}).")
  return ("\n".join(lines) + "\n\nClip accuracy (%) [95 % bootstrap interval]." + averaged
          + probe + " " + details + ".\n")


def _task_summary(rows: typing.Sequence[dict], task: str) -> str:
  r = next(r for r in rows if r["task"] == task)
  unseen = f", {r['unseen_test_clips']} with a class unseen in training" if r.get(
      "unseen_test_clips") else ""
  return f"{r['classes']} classes, {r['clips']} test clips{unseen}"


def _save(figure, path: str) -> None:
  with atomic.replacing(path, suffix=".png") as tmp:
    figure.savefig(tmp, dpi=120, bbox_inches="tight")
  pyplot.close(figure)


def bar_chart(rows: typing.Sequence[dict], path: str) -> None:
  """Grouped bars: accuracy per task (groups) and method (bars), CI error bars."""
  tasks = _unique(r["task"] for r in rows)
  labels = _unique(method_label(r) for r in rows)
  cells = {(method_label(r), r["task"]): r for r in rows}
  width = 0.8 / len(labels)
  figure, axes = pyplot.subplots(figsize=(max(6.0, 1.2 + len(tasks) * len(labels) * 0.45), 4.5))
  # tab20's 20 colours, distinct; past 20 bars a continuous map keeps them apart.
  colours = (pyplot.get_cmap("tab20") if len(labels) <= 20 else
             lambda i: pyplot.get_cmap("turbo")(i / (len(labels) - 1)))
  for i, label in enumerate(labels):
    xs, heights, errors = [], [], [[], []]
    for j, task in enumerate(tasks):
      r = cells.get((label, task))
      if r is None:
        continue
      xs.append(j - 0.4 + (i + 0.5) * width)
      heights.append(100 * r["accuracy"])
      errors[0].append(100 * (r["accuracy"] - r["ci_low"]))
      errors[1].append(100 * (r["ci_high"] - r["accuracy"]))
    axes.bar(xs, heights, width, yerr=errors, capsize=2, label=label, color=colours(i))
  axes.set_xticks(range(len(tasks)), tasks)
  axes.set_ylabel("clip accuracy (%)")
  axes.set_ylim(0, 100)
  axes.set_title("Downstream accuracy (95 % bootstrap intervals)")
  axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
  axes.grid(axis="y", alpha=0.3)
  _save(figure, path)


def fraction_curves(rows: typing.Sequence[dict], path: str) -> bool:
  """Accuracy vs label fraction (log x), one panel per task; False if < 2 fractions."""
  curves = [r for r in rows if r.get("label_fraction") not in ("", None)]
  if len({float(r["label_fraction"]) for r in curves}) < 2:
    return False
  tasks = _unique(r["task"] for r in curves)
  figure, panels = pyplot.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 4), squeeze=False)
  for axes, task in zip(panels[0], tasks):
    for name in _unique((r["method"], r["mode"]) for r in curves if r["task"] == task):
      points = sorted((float(r["label_fraction"]), r) for r in curves
                      if r["task"] == task and (r["method"], r["mode"]) == name)
      xs = [f for f, _ in points]
      axes.plot(xs, [100 * r["accuracy"] for _, r in points], marker="o",
                label=method_label(dict(points[0][1], label_fraction=1.0)))
      axes.fill_between(xs, [100 * r["ci_low"] for _, r in points],
                        [100 * r["ci_high"] for _, r in points], alpha=0.15)
    axes.set_xscale("log")
    fractions = sorted({float(r["label_fraction"]) for r in curves if r["task"] == task})
    axes.set_xticks(fractions, [f"{100 * f:g}%" for f in fractions])
    axes.xaxis.set_minor_formatter(ticker.NullFormatter())
    axes.set_xlabel("fraction of training labels")
    axes.set_ylabel("clip accuracy (%)")
    axes.set_title(task)
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
  _save(figure, path)
  return True


def write(rows: typing.Sequence[dict], output_dir: str) -> typing.Dict[str, str]:
  """Writes every output; returns {'csv', 'markdown', 'bars', 'fractions'?: path}."""
  if not rows:
    raise ValueError("no results to write")
  os.makedirs(output_dir, exist_ok=True)
  paths = {"csv": os.path.join(output_dir, CSV_FILE),
           "markdown": os.path.join(output_dir, MARKDOWN_FILE),
           "bars": os.path.join(output_dir, BARS_FILE)}
  atomic.write_text(paths["csv"], csv_text(rows))
  atomic.write_text(paths["markdown"], markdown(rows))
  bar_chart(rows, paths["bars"])
  fractions = os.path.join(output_dir, FRACTIONS_FILE)
  if fraction_curves(rows, fractions):
    paths["fractions"] = fractions
  return paths


def read_csv(path: str) -> typing.List[dict]:
  """Rows of a results.csv with numbers parsed (to re-plot or merge runs)."""
  with open(path, newline="", encoding="utf-8") as f:
    rows = list(csv.DictReader(f))
  for row in rows:
    for key in ("accuracy", "ci_low", "ci_high", "seconds"):
      row[key] = float(row[key])
    # Written before draws were averaged: one draw.
    row["draws"] = int(row.get("draws") or 1)
    row["draw_sd"] = float(row.get("draw_sd") or 0.0)
    # Written before --probe_on: linear rows probed every window.
    row.setdefault("probe_on", "windows" if row["mode"] == "linear" else "")
    # Written before --probe_iterations: the default cap.
    caps = row.get("probe_iterations") or (probe_lib.MAX_ITERATIONS if row["mode"] == "linear"
                                           else "")
    row["probe_iterations"] = int(caps) if caps != "" else ""
    for key in ("clips", "classes", "train_clips", "unseen_test_clips"):
      row[key] = int(row[key])
    row["shots_per_class"] = int(row["shots_per_class"]) if row["shots_per_class"] else ""
    row["label_fraction"] = float(row["label_fraction"]) if row["label_fraction"] else ""
  return rows


def loss_curves(runs: typing.Dict[str, str], path: str) -> bool:
  """Training loss against step, one panel per run (from each run's train_log.csv).

  Args:
    runs: {label: run directory}.
    path: the PNG to write.

  Returns:
    False when no run has a log (e.g. only 'untrained').
  """
  logs = {}
  for label, run_dir in runs.items():
    log = os.path.join(run_dir, "train_log.csv")
    if os.path.exists(log):
      with open(log, newline="", encoding="utf-8") as f:
        # A resumed run logs the steps after its checkpoint again: keep the last.
        points = {int(r["step"]): float(r["loss"]) for r in csv.DictReader(f)}
      if points:
        logs[label] = sorted(points.items())
  if not logs:
    return False
  figure, axes = pyplot.subplots(1, len(logs), figsize=(4.5 * len(logs), 3.5), squeeze=False)
  for ax, (label, points) in zip(axes[0], logs.items()):
    steps, losses = zip(*points)
    ax.plot(steps, losses, linewidth=1)
    ax.set_title(label)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.grid(alpha=0.3)
  _save(figure, path)
  return True
