r"""Seed means of mobile-ssl-eval rows: one table and one bar chart per group of runs.

  python bench/seed_means.py --results=eval/results.csv \
      --groups="FedAvgM=fed_m09,fed_m09_s1,fed_m09_s2;central=keras,keras_s1,keras_s2;untrained=untrained" \
      --output=docs/results/seeds.png

A group names the methods (results.csv's `method`) that are seeds of one
configuration; each bar is their mean, its whisker the lowest and highest
seed, one bar per task and label budget. A single-method group is drawn
without a whisker. Prints the Markdown table of means (± the seeds' SD)
that docs/ quotes.

  python bench/seed_means.py --results=pool.csv --curve="clips in the pool" \
      --groups="675=p25,p25_s1;1350=p50,p50_s1;2700=full,full_s1;untrained=untrained" \
      --output=docs/results/pool.png

`--curve=LABEL` draws lines instead of bars: the groups named by a number
are points at that x (log scale, LABEL under the axis), one panel per
column, whiskers the lowest and highest seed; the other groups (the floor,
untrained) are horizontal dashed lines. Not a test.
"""

import os
import statistics

from absl import app
from absl import flags
from matplotlib import pyplot as plt

from mobile_ssl.core import atomic
from mobile_ssl.evaluation import eval_report

flags.DEFINE_string("results", None, "A results.csv of mobile-ssl-eval.", required=True)
flags.DEFINE_string("groups", None, "NAME=method,method;NAME=... (seeds of one configuration).",
                    required=True)
flags.DEFINE_string("output", "", "Where to write the chart (PNG); none when empty.")
flags.DEFINE_string("curve", "", "x-axis label: draw groups named by numbers as a curve "
                    "against that number instead of bars.")
FLAGS = flags.FLAGS


def read_rows(path: str) -> dict:
  """{(method, column): accuracy %}; a column is 'task' or 'task · k shots'."""
  rows = {}
  for r in eval_report.read_csv(path):
    task = r["task"].split(":")[-1]
    shots = r["shots_per_class"]
    column = f"{task} · {eval_report.shots_label(shots)}" if shots else task
    rows[(r["method"], column)] = 100 * r["accuracy"]
  return rows


def parse_groups(text: str) -> list:
  groups = []
  for part in filter(None, text.split(";")):
    name, _, methods = part.partition("=")
    if not methods:
      raise app.UsageError(f"--groups: {part!r} is not NAME=method,method")
    groups.append((name.strip(), [m.strip() for m in methods.split(",") if m.strip()]))
  return groups


def main(argv):
  del argv
  if not os.path.isfile(FLAGS.results):
    raise app.UsageError(f"--results: no file {FLAGS.results}")
  folder = os.path.dirname(os.path.abspath(FLAGS.output)) if FLAGS.output else ""
  if folder and not os.path.isdir(folder):
    raise app.UsageError(f"--output: no folder {folder}")
  rows = read_rows(FLAGS.results)
  groups = parse_groups(FLAGS.groups)
  columns = list(dict.fromkeys(c for (_, c) in rows))
  missing = [m for _, methods in groups for m in methods
             if not any((m, c) in rows for c in columns)]
  if missing:
    raise app.UsageError(f"{FLAGS.results}: no rows for {', '.join(missing)}")
  stats = {}
  print("| configuration | seeds | " + " | ".join(columns) + " |")
  print("|---|---|" + "---|" * len(columns))
  for name, methods in groups:
    cells = []
    for column in columns:
      values = [rows[(m, column)] for m in methods]
      stats[(name, column)] = (statistics.mean(values), min(values), max(values))
      sd = f" ±{statistics.stdev(values):.1f}" if len(values) > 1 else ""
      cells.append(f"{statistics.mean(values):.1f}{sd}")
    print(f"| {name} | {len(methods)} | " + " | ".join(cells) + " |")
  if not FLAGS.output:
    return
  if FLAGS.curve:
    fig = _curve(groups, columns, stats, FLAGS.curve)
  else:
    fig = _bars(groups, columns, stats)
  with atomic.replacing(FLAGS.output, suffix=".png") as tmp:
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
  plt.close(fig)
  print(f"wrote {FLAGS.output}")


def _number(name: str):
  try:
    return float(name.replace(",", ""))
  except ValueError:
    return None


def _curve(groups: list, columns: list, stats: dict, label: str):
  """One panel per column: the numbered groups as a line, the others as dashed levels."""
  points = sorted((_number(name), name, methods) for name, methods in groups
                  if _number(name) is not None)
  if len(points) < 2:
    raise app.UsageError("--curve needs at least two groups named by a number, got "
                         f"{[name for name, _ in groups]}")
  levels = [name for name, _ in groups if _number(name) is None]
  across = min(3, len(columns))
  down = -(-len(columns) // across)
  fig, axes = plt.subplots(down, across, figsize=(3.2 * across + 1.5, 2.9 * down),
                           squeeze=False)
  for ax in axes.flat[len(columns):]:
    ax.set_visible(False)
  for ax, column in zip(axes.flat, columns):
    xs = [x for x, _, _ in points]
    means = [stats[(name, column)][0] for _, name, _ in points]
    low = [m - stats[(name, column)][1] for m, (_, name, _) in zip(means, points)]
    high = [stats[(name, column)][2] - m for m, (_, name, _) in zip(means, points)]
    ax.errorbar(xs, means, yerr=[low, high], marker="o", capsize=2, color="C0",
                label="pretrained (mean, seed range)")
    for i, name in enumerate(levels):
      ax.axhline(stats[(name, column)][0], linestyle="--", color=f"C{i + 1}", label=name)
    ax.set_xscale("log")
    ax.set_xticks(xs, [f"{x:g}" for x in xs], fontsize=7)
    ax.minorticks_off()
    ax.set_title(column, fontsize=9)
    ax.set_xlabel(label, fontsize=8)
    ax.grid(alpha=0.3)
  for row in axes:
    row[0].set_ylabel("clip accuracy (%)")
  axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
  fig.tight_layout()
  return fig


def _bars(groups: list, columns: list, stats: dict):
  """One bar per group and column, whiskers the lowest and highest seed."""
  # The legend sits right of the bars, where it covers none of them.
  fig, ax = plt.subplots(figsize=(2.2 * len(columns) + 4.5, 4))
  width = 0.8 / len(groups)
  for g, (name, methods) in enumerate(groups):
    xs = [c + (g - (len(groups) - 1) / 2) * width for c in range(len(columns))]
    means = [stats[(name, c)][0] for c in columns]
    low = [m - stats[(name, c)][1] for m, c in zip(means, columns)]
    high = [stats[(name, c)][2] - m for m, c in zip(means, columns)]
    ax.bar(xs, means, width, yerr=[low, high] if len(methods) > 1 else None, capsize=2,
           label=name)
  ax.set_xticks(range(len(columns)), columns)
  ax.set_ylabel("clip accuracy (%)")
  ax.set_ylim(0, 100)
  ax.grid(axis="y", alpha=0.3)
  ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
  ax.set_title("Mean over seeds (whiskers: lowest and highest seed)")
  fig.tight_layout()
  return fig


if __name__ == "__main__":
  app.run(main)
