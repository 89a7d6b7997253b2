r"""mobile-ssl-quickstart: pretrain, probe, export and benchmark in one command.

  mobile-ssl-quickstart                                   # the embedded default, offline
  mobile-ssl-quickstart --dataset=/data/my_audio --output_dir=my_quickstart

Stages, each skipped when a previous run of the same command finished it:
  1 data       build the dataset if needed (synthetic_audio is generated offline)
  2 pretrain   the pretext task (--task) for --steps steps
  3 baselines  'supervised' (the dataset's first label, the same budget) and 'untrained'
  4 probe      a linear probe of each encoder on each label of the dataset, next to
               the classical floor 'logmel_stats' (log-mel/MFCC statistics), fitted on
               each clip's mean window embedding (--probe_on=windows: on every window)
  5 export     the pretrained encoder as an int8 waveform-input .tflite, validated
  6 benchmark  its size and latency against YAMNet's architecture at int8
  7 report     OUTPUT_DIR/report/README.md with PNGs; a summary on stdout
It only calls the other modules' public functions (pretraining, evaluation,
mobile_ssl.export.exporter, mobile_ssl.benchmark.bench). If the clips are too short for the task's
context (e.g. FSDD's half-second digits), consecutive clips are joined into
longer recordings (`--concat_clips` of mobile-ssl-train), and the report says so.
"""

import dataclasses
import json
import os
import pathlib
import sys
import time
import typing

from absl import flags

from mobile_ssl.benchmark import bench as benchmark_lib
from mobile_ssl.benchmark import bench_report
from mobile_ssl.benchmark import peers
from mobile_ssl.commands import cli
from mobile_ssl.commands import quickstart_report
from mobile_ssl.core import atomic
from mobile_ssl.core import fields
from mobile_ssl.core import params as params_lib
from mobile_ssl.core import recipes
from mobile_ssl.core import tasks
from mobile_ssl.data import datasets
from mobile_ssl.data import downstream
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import suite as evaluation
from mobile_ssl.export import export_params as export_params_lib
from mobile_ssl.export import exporter
from mobile_ssl.training import pretraining
from mobile_ssl.training import trainer


@dataclasses.dataclass(frozen=True)
class QuickstartParams:
  """What the quickstart runs: one flag per field, its help in the metadata (cli.py)."""
  dataset: str = dataclasses.field(default="synthetic_audio", metadata={
      "help": "TFDS name or a folder of audio files."})
  # mobile-ssl-train's default task and tuned recipe: on this 600-step
  # synthetic budget triplet and contrastive tie, both far above TemporalGap
  # with the paper recipe (docs/evaluation.md, "Quickstart").
  task: str = dataclasses.field(default=recipes.DEFAULT_TASK, metadata={
      "help": "Pretext task.", "enum": tasks.PRETEXT})
  recipe: str = dataclasses.field(default="tuned", metadata={
      "help": "Training defaults: the measured 'tuned' recipe or the 'paper's.",
      "enum": recipes.RECIPES})
  steps: int = dataclasses.field(default=600, metadata={
      "help": "Training steps of the pretext task and of 'supervised'."})
  width: float = dataclasses.field(default=1.0, metadata={"help": "Encoder width multiplier."})
  batch_size: int = dataclasses.field(default=64, metadata={"help": "Batch size."})
  seed: int = dataclasses.field(default=0, metadata={"help": "Seed of everything."})
  output_dir: str = dataclasses.field(default="quickstart", metadata={
      "help": "Where runs, models and the report go."})
  data_dir: typing.Optional[str] = dataclasses.field(default=None, metadata={
      "help": "TFDS data dir (default: ~/tensorflow_datasets)."})
  # The fair peer of the waveform-in file the quickstart exports: YAMNet's own
  # waveform-in model, front end included, so both sides do the same work (a
  # log-mel-in peer skips the front end that is 65 % of our file's time).
  peer: str = dataclasses.field(default="yamnet_waveform", metadata={
      "help": "The peer architecture to benchmark against (a log-mel-in one, e.g. 'yamnet', "
              "compares our encoder part only).", "enum": tuple(peers.PEERS)})
  # Clip means: the probe stage and the export's probe check fit 2,700 rows instead of
  # 20,315 windows; the stage took 45 s instead of 259 s on the same encoders
  # (docs/evaluation.md, "The quickstart's probe on clip means").
  probe_on: str = dataclasses.field(default="clips", metadata={
      "help": "What the linear probes are fitted on: each clip's mean window embedding, or "
              "every window as mobile-ssl-eval does by default (the papers' protocol, slower).",
      "enum": eval_params_lib.PROBE_INPUTS})
  # 200 instead of mobile-ssl-eval's 500: on clip means every fit reached its caps, and
  # the lower ones took 0.4x the fitting time with the rows within a point
  # (docs/evaluation.md, "The quickstart's probe with lower iteration caps").
  probe_iterations: int = dataclasses.field(default=200, metadata={
      "help": "Iteration cap of each linear probe's final fit (its weight-decay grid gets 2/5 "
              "of it); mobile-ssl-eval's default is "
              f"{eval_params_lib.EvalParams.probe_iterations}."})
  # The int8 file's allowed probe-accuracy drop (export_tflite's default).
  max_probe_drop: float = dataclasses.field(
      default=export_params_lib.ExportParams().max_probe_drop, metadata={
          "help": "Largest probe-accuracy drop of the int8 file against Keras before the "
                  "export refuses it."})


STAGES = ("data", "pretrain", "baselines", "probe", "export", "benchmark", "report")
_STATE_FILE = "stages.json"


class Stages:
  """Progress lines per stage, and a record of finished ones (stages.json)."""

  def __init__(self, output_dir: str):
    self.path = os.path.join(output_dir, _STATE_FILE)
    self.state = json.loads(pathlib.Path(self.path).read_text(encoding="utf-8")) if os.path.exists(self.path) else {}
    self.started = time.time()

  def begin(self, name: str, what: str) -> float:
    print(f"[{STAGES.index(name) + 1}/{len(STAGES)}] {name}: {what}", file=sys.stderr, flush=True)
    return time.time()

  def done(self, name: str, started: float, key: str = "", **result) -> dict:
    record = dict(result, key=key, seconds=round(time.time() - started, 1))
    self.state[name] = record
    atomic.write_text(self.path, json.dumps(self.state, indent=2, default=str))
    return record

  def finished(self, name: str, key: str) -> typing.Optional[dict]:
    record = self.state.get(name)
    return record if record and record.get("key") == key else None


def _mtime(path: str) -> str:
  return f"{os.path.getmtime(path):.6f}" if os.path.exists(path) else "missing"


# The quickstart pools the last three blocks, not the tuned recipe's five: on its
# own data and budget five gave the pretext row no gain (event / pitch 98.0 / 95.7
# against 99.0 / 93.7) and every probe fit of 2,560 values takes 1.7x as long as
# one of 1,536, which its time budget cannot spare (docs/evaluation.md,
# "Pooling all five blocks").
QUICKSTART_POOL_BLOCKS = params_lib.MULTI_POOL_BLOCKS


def file_after_refusal(export_report: dict, model_path: str, encoder_path: str) -> dict:
  """What a file at the int8 path is when the export check refused this encoder's file.

  A refusal writes nothing, so a file there was written by someone else: after
  the refusal, for this encoder (newer than its encoder.keras; e.g. the
  report's command without the probe check): it is benchmarked, the report
  says so ('written_without_probe_check'); or before this encoder was
  trained, an earlier encoder's file (older): not benchmarked as this run's,
  and kept ('stale_file'). An accepted export is returned as it is.
  """
  if not export_report.get("error") or not os.path.exists(model_path):
    return export_report
  if os.path.getmtime(model_path) < os.path.getmtime(encoder_path):
    return dict(export_report, stale_file=True)
  return dict(export_report, written_without_probe_check=True)


def _run_params(qp: QuickstartParams, task: str, **task_fields) -> params_lib.Params:
  """The recipe's params with the quickstart's budget; baselines get the same recipe."""
  d = recipes.recipe(task, qp.recipe)
  return dataclasses.replace(
      d, datasets=(qp.dataset,),
      encoder=dataclasses.replace(d.encoder, width=qp.width, pool_blocks=QUICKSTART_POOL_BLOCKS),
      task=dataclasses.replace(d.task, name=task, **task_fields),
      train=dataclasses.replace(d.train, steps=qp.steps, batch_size=qp.batch_size, seed=qp.seed,
                                log_every_steps=20, checkpoint_every_steps=100,
                                keep_checkpoints=3, concat_clips=1))


def _train(params: params_lib.Params, model_dir: str, qp: QuickstartParams) -> str:
  if pretraining.is_complete(model_dir, params):
    print(f"  {model_dir}: already trained", file=sys.stderr)
  else:
    pretraining.run(params, model_dir, data_dir=qp.data_dir, cache_dir="memory")
  return model_dir


def quickstart(qp: QuickstartParams) -> dict:
  """Runs (or resumes) every stage; returns the summary that the report shows."""
  if qp.steps < 1 or qp.width <= 0 or qp.batch_size < 1:
    raise ValueError("--steps and --batch_size must be >= 1 and --width > 0")
  if qp.probe_iterations < 1:
    raise ValueError(f"--probe_iterations must be >= 1, got {qp.probe_iterations}")
  tasks.get(qp.task)  # An unknown task fails before any work.
  fields.check_choices(qp)  # --recipe, --peer, --probe_on
  os.makedirs(qp.output_dir, exist_ok=True)
  stages = Stages(qp.output_dir)
  out = lambda *parts: os.path.join(qp.output_dir, *parts)

  started = stages.begin("data", f"dataset {qp.dataset}")
  builder = datasets.builder(qp.dataset, data_dir=qp.data_dir)
  labels = [k for k in builder.info.features.keys() if len(datasets.label_names(builder, k)) > 1]
  for split in ("train", "test"):
    datasets.split_size(builder, split, qp.dataset)
  clips = {s: builder.info.splits[s].num_examples for s in builder.info.splits}
  pretext = _run_params(qp, qp.task)
  concat = pretraining.concat_count(builder, "train", pretext)
  pretext = dataclasses.replace(pretext, train=dataclasses.replace(pretext.train,
                                                                   concat_clips=concat))
  stages.done("data", started, clips=clips, labels=labels, concat_clips=concat)
  if concat > 1:
    print(f"  clips are shorter than {qp.task} needs: joining {concat} clips per recording",
          file=sys.stderr)

  started = stages.begin("pretrain", f"{qp.task}, {qp.steps} steps of {qp.batch_size}, "
                                     f"width {qp.width:g}")
  pretext_dir = _train(pretext, out(f"pretrain_{qp.task}"), qp)
  stages.done("pretrain", started, key=_mtime(os.path.join(pretext_dir, "encoder.keras")))

  started = stages.begin("baselines", "untrained" + (f" and supervised on '{labels[0]}'"
                                                     if labels else " (no labels: no supervised)"))
  runs = {qp.task: pretext_dir}
  if labels:
    names = datasets.label_names(builder, labels[0])
    runs["supervised"] = _train(_run_params(qp, "supervised", label_key=labels[0],
                                            num_classes=len(names)), out("supervised"), qp)
  runs["untrained"] = _train(_run_params(qp, "untrained"), out("untrained"), qp)
  stages.done("baselines", started)

  rows = []
  if labels:
    specs = [f"{qp.dataset}:{key}" for key in labels]
    key = json.dumps([specs, evaluation.LOGMEL_STATS, qp.probe_on, qp.probe_iterations]
                     + [_mtime(os.path.join(d, "encoder.keras")) for d in runs.values()])
    record = stages.finished("probe", key)
    started = stages.begin("probe", f"linear probe of {len(runs)} encoders and the "
                                    f"{evaluation.LOGMEL_STATS} floor on {', '.join(labels)}")
    if record:
      rows = record["rows"]
    else:
      task_list = downstream.load_tasks(specs, qp.data_dir, labels)
      method_list = evaluation.methods(list(runs.values()) + [evaluation.LOGMEL_STATS],
                                       list(runs) + [evaluation.LOGMEL_STATS])
      rows = evaluation.evaluate(method_list, task_list, cache_dir=out("eval_cache"),
                                 eval_params=eval_params_lib.EvalParams(
                                     seed=qp.seed, probe_on=qp.probe_on,
                                     probe_iterations=qp.probe_iterations))
      stages.done("probe", started, key=key, rows=rows)

  model_path = out("encoder_int8_waveform.tflite")
  encoder_path = os.path.join(pretext_dir, "encoder.keras")
  key = (_mtime(encoder_path) + f" {qp.probe_on} {qp.probe_iterations} "
         f"{export_params_lib.ExportParams().probe_window_stride}")
  export_report = (stages.finished("export", key) or {}).get("report")
  started = stages.begin("export", f"int8, waveform input -> {model_path}")
  if not export_report or not os.path.exists(model_path):
    export_params = export_params_lib.ExportParams(
        quantization="int8", input_kind="waveform", max_probe_drop=qp.max_probe_drop,
        probe_task=f"{qp.dataset}:{labels[0]}" if labels else "", data_dir=qp.data_dir,
        cache_dir=out("eval_cache"), probe_on=qp.probe_on, probe_iterations=qp.probe_iterations)
    try:
      export_report = exporter.export_encoder(pretext_dir, model_path, export_params)
    except exporter.ValidationError as e:
      export_report = dict(e.report, error=str(e))
    stages.done("export", started, key=key, report=export_report)
  export_report = file_after_refusal(export_report, model_path, encoder_path)

  bench = None
  if os.path.exists(model_path) and not export_report.get("stale_file"):
    key = _mtime(model_path)
    record = stages.finished("benchmark", key)
    started = stages.begin("benchmark", f"host latency, 1 thread, vs {qp.peer} at int8")
    bench = record["report"] if record else None
    if bench is None:
      bench_params = benchmark_lib.BenchParams(
          peers=True, peer_names=(qp.peer,), precisions=("int8",), op_profile=True,
          calibration_dataset=qp.dataset, data_dir=qp.data_dir, output_dir=out("benchmark"),
          repeats=5)
      bench = benchmark_lib.benchmark([model_path], bench_params)
      bench_report.write(bench, bench_params.output_dir)
      stages.done("benchmark", started, key=key, report=bench)

  started = stages.begin("report", out("report"))
  summary = {"params": dataclasses.asdict(qp), "concat_clips": concat, "clips": clips,
             "labels": labels, "runs": runs, "rows": rows, "export": export_report,
             "benchmark": bench,
             "stage_seconds": {k: v.get("seconds") for k, v in stages.state.items()}}
  summary["report"] = quickstart_report.write(summary, out("report"))
  stages.done("report", started)
  return summary


PROG = "mobile-ssl-quickstart"


def define_flags(fv: flags.FlagValues) -> None:
  """Defines the flags in `fv` (mobile_ssl/commands/cli.py): one per QuickstartParams field."""
  cli.define_dataclass(fv, QuickstartParams)
  cli.define_deterministic(fv)


def main(argv, fv: flags.FlagValues) -> int:
  cli.check_no_arguments(PROG, argv)
  cli.quiet_logs(fv)
  cli.apply_deterministic(PROG, fv)
  qp = QuickstartParams(**cli.dataclass_values(QuickstartParams, fv))
  started = time.time()
  try:
    summary = quickstart(qp)
  except (ValueError, trainer.TrainingError) as e:
    return cli.error(PROG, e)
  print(quickstart_report.summary_text(summary))
  print(f"\nreport: {summary['report']}  ({time.time() - started:.0f} s)")
  return 0


def run():
  cli.run(PROG, define_flags, main)


if __name__ == "__main__":
  run()
