"""Tests of downstream evaluation: mobile_ssl.{downstream, evaluation, report, evaluate}.

The data is a generated mini Free Spoken Digit Dataset: files named
{digit}_{speaker}_{take}.wav (takes 0-4 are test), where the "digit" is the
kind of sound (tone, buzz, noise) and the "speaker" its level, so even an
untrained encoder separates the digits and the checks on accuracy can fail.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import threadpoolctl

from mobile_ssl.core import atomic
from mobile_ssl.core import encoder as encoder_lib
from mobile_ssl.core import model_dir
from mobile_ssl.core import recipes
from mobile_ssl.data import downstream
from mobile_ssl.data import pipeline
from mobile_ssl.evaluation import eval_params as eval_params_lib
from mobile_ssl.evaluation import eval_report as report
from mobile_ssl.evaluation import finetune as finetune_lib
from mobile_ssl.evaluation import linear_eval
from mobile_ssl.evaluation import probe
from mobile_ssl.evaluation import suite as evaluation
from mobile_ssl.evaluation import window_embeddings
from tests import audio_fixtures

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = recipes.tiny()
FAST = eval_params_lib.EvalParams(batch_size=16, finetune_steps=8, shuffle_buffer=64, label_draws=2)


def _digit_sound(digit, seconds, rng):
  """Three sound kinds a frequency-shift-invariant encoder still tells apart."""
  freq_hz = 600.0 * rng.uniform(0.9, 1.1)
  tone = audio_fixtures.sine(seconds, freq_hz, rate=8000)
  if digit == 0:
    return tone
  if digit == 1:  # a buzz: odd harmonics
    return (0.3 * np.sign(tone)).astype(np.float32)
  return audio_fixtures.noise(seconds, seed=int(rng.integers(1 << 30)), rate=8000, amplitude=0.2)


def _write_digits(root, digits=(0, 1, 2), speakers=("alice", "bob"), takes=range(8)):
  os.makedirs(root, exist_ok=True)
  rng = np.random.default_rng(0)
  for d in digits:
    for s, speaker in enumerate(speakers):
      for take in takes:
        seconds = [0.5, 1.2, 1.7][take % 3]  # 0.5 s: shorter than one 975 ms window
        x = _digit_sound(d, seconds, rng) * [1.0, 0.1][s]  # the speakers: loud and quiet
        audio_fixtures.write(os.path.join(root, f"{d}_{speaker}_{take}.wav"), x, 8000)
  return root


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
  return _write_digits(str(tmp_path_factory.mktemp("digits") / "recordings"))


@pytest.fixture(scope="module")
def digit_task(digits_dir, data_dir):
  return downstream.load_task(f"{digits_dir}:digit", data_dir)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
  run = str(tmp_path_factory.mktemp("runs") / "tiny_run")
  model_dir.save_encoder(run, encoder_lib.build_encoder(TINY.encoder, TINY.features, seed=2), TINY)
  return run


def _assert_clip_accuracy(row, clips):
  """An accuracy over clips (not windows) is k / clips per draw, and its 95 % bootstrap
  interval is about as wide as the normal approximation's for that many clips (a mean of
  draws: no wider, its clips' correctness averaged over the draws)."""
  correct = row["accuracy"] * clips * row["draws"]
  assert abs(correct - round(correct)) < 1e-9, row
  half_width = 1.96 * np.sqrt(row["accuracy"] * (1 - row["accuracy"]) / clips)
  if row["draws"] == 1:
    assert abs((row["ci_high"] - row["ci_low"]) / 2 - half_width) < 0.05, row
  else:
    assert 0 < (row["ci_high"] - row["ci_low"]) / 2 < half_width + 0.05, row


class TestTasks:

  def test_fsdd_naming_gives_the_official_split_and_labels(self, digit_task):
    assert digit_task.num_classes == 3 and digit_task.class_names == ["0", "1", "2"]
    # Takes 0-4 are test: 3 digits x 2 speakers x 5 takes; takes 5-7 train.
    assert len(digit_task.test_labels) == 30 and len(digit_task.train_labels) == 18
    assert digit_task.unseen_test_clips == 0

  def test_clip_labels_follow_the_pipeline_order(self, digit_task):
    ds = pipeline.clips(digit_task.builder, "train", label_key="digit")
    labels = [int(x["label"]) for x in ds.as_numpy_iterator()]
    np.testing.assert_array_equal(labels, digit_task.train_labels)

  def test_single_class_and_missing_split_are_clear_errors(self, tmp_path, data_dir):
    one = _write_digits(str(tmp_path / "one"), digits=(1,), takes=range(6))
    with pytest.raises(ValueError, match=r"1 class \(1\); a classifier needs at least 2"):
      downstream.load_task(f"{one}:digit", data_dir)
    # Only takes 0-4: every file is a test file, the train split is empty.
    test_only = _write_digits(str(tmp_path / "test_only"), takes=range(5))
    with pytest.raises(ValueError, match="no train split 'train'; it has test"):
      downstream.load_task(f"{test_only}:digit", data_dir)

  def test_tasks_of_one_dataset_share_one_label_pass_per_split(self, digits_dir, data_dir,
                                                                monkeypatch):
    specs = [f"{digits_dir}:digit", f"{digits_dir}:speaker"]
    alone = [downstream.load_task(s, data_dir, name=n) for s, n in zip(specs, ["d", "s"])]
    passes = []
    real = downstream.clip_labels_many
    monkeypatch.setattr(downstream, "clip_labels_many",
                        lambda b, split, keys, audio: passes.append((split, list(keys)))
                        or real(b, split, keys, audio))
    together = downstream.load_tasks(specs, data_dir, ["d", "s"])
    assert sorted(passes) == [("test", ["digit", "speaker"]), ("train", ["digit", "speaker"])]
    for a, t in zip(alone, together):
      assert (t.name, t.num_classes, t.class_names) == (a.name, a.num_classes, a.class_names)
      np.testing.assert_array_equal(t.train_labels, a.train_labels)
      np.testing.assert_array_equal(t.test_labels, a.test_labels)
    assert not np.array_equal(together[0].train_labels, together[1].train_labels)

  def test_unknown_label_or_task_is_a_clear_error(self, digits_dir, data_dir):
    with pytest.raises(ValueError, match="no label 'colour'.*digit"):
      downstream.load_task(f"{digits_dir}:colour", data_dir)
    with pytest.raises(ValueError, match="unknown task"):
      downstream.load_task("NOPE", data_dir)


class TestEvaluation:

  def test_methods_check_run_directories_up_front(self, tiny_run, tmp_path):
    methods = evaluation.methods(["untrained", tiny_run, "supervised"])
    assert [m.name for m in methods] == ["untrained", "tiny_run", "supervised"]
    # Baselines take the architecture of the run directory.
    assert methods[0].params.encoder == TINY.encoder
    bad = str(tmp_path / "old_run")
    model_dir.save_encoder(bad, encoder_lib.build_encoder(TINY.encoder, TINY.features), TINY)
    values = json.load(open(model_dir.params_path(bad)))
    values["version"] = 99
    json.dump(values, open(model_dir.params_path(bad), "w"))
    with pytest.raises(ValueError, match="old_run.*format version 99"):
      evaluation.methods([bad])
    with pytest.raises(ValueError, match="not found"):
      evaluation.methods([str(tmp_path / "missing")])
    with pytest.raises(ValueError, match="--names"):
      evaluation.methods(["untrained", tiny_run], ["only_one"])

  def test_methods_load_each_run_once(self, tiny_run, monkeypatch):
    loads = []
    real = model_dir.load_encoder
    monkeypatch.setattr(model_dir, "load_encoder", lambda d: loads.append(d) or real(d))
    first, second = evaluation.methods([tiny_run, tiny_run], ["a", "b"])
    assert loads == [tiny_run, tiny_run]  # the up-front checks
    a = first.encoder(0)
    assert len(loads) == 2  # the checked copy, not a second load
    b = second.encoder(0)
    assert b is not a  # the same run under two names: two models, never one shared
    again = first.encoder(0)  # later calls load a fresh copy
    assert len(loads) == 4 and again is not a
    for w_a, w_again in zip(a.get_weights(), again.get_weights()):
      np.testing.assert_array_equal(w_a, w_again)

  def test_embeddings_are_cached_by_encoder_and_hop(self, digit_task, tiny_run, tmp_path):
    encoder, params = model_dir.load_encoder(tiny_run)
    cache = str(tmp_path / "cache")
    embed = lambda enc, hop=FAST.hop_seconds: window_embeddings.embed_split(
        enc, params.features, digit_task, "test", hop, cache)
    first, again = embed(encoder), embed(encoder)
    assert not first["cached"] and again["cached"]
    np.testing.assert_array_equal(first["embeddings"], again["embeddings"])
    # One window per clip (<= 1.7 s at a 0.5 s hop: 1-2 windows), clip ids 0..29.
    assert sorted(set(first["clips"])) == list(range(30))
    assert first["embeddings"].shape[1] == TINY.encoder.embedding_dim
    other = encoder_lib.build_encoder(TINY.encoder, TINY.features, seed=9)
    assert not embed(other)["cached"]
    assert not embed(encoder, hop=0.25)["cached"]
    assert len(os.listdir(cache)) == 3

  def test_embeddings_are_the_keras_encoder_on_every_window(self, digit_task, tiny_run):
    encoder, params = model_dir.load_encoder(tiny_run)
    out = window_embeddings.embed_split(encoder, params.features, digit_task, "train",
                                        FAST.hop_seconds)
    windows = list(pipeline.slice_dataset(digit_task.builder, "train", batch_size=16,
                                      feature_params=params.features).as_numpy_iterator())
    log_mel = np.concatenate([w["log_mel"] for w in windows])
    np.testing.assert_array_equal(out["clips"], np.concatenate([w["clip"] for w in windows]))
    expected = encoder(log_mel[..., None], training=False).numpy()
    np.testing.assert_allclose(out["embeddings"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out["labels"], digit_task.train_labels[out["clips"]])

  def test_embeddings_do_not_depend_on_the_batch_size(self, digit_task, tiny_run, monkeypatch):
    encoder, params = model_dir.load_encoder(tiny_run)
    embed = lambda: window_embeddings.keras_windows_many(
        [encoder, encoder_lib.build_encoder(TINY.encoder, TINY.features, seed=5)],
        params.features, digit_task, "train", FAST.hop_seconds)
    default = embed()
    monkeypatch.setattr(window_embeddings, "BATCH_WINDOWS", 3)  # read when a pass starts
    sizes = [len(b["clip"]) for b in window_embeddings.log_mel_windows(
        digit_task, "train", params.features, FAST.hop_seconds).as_numpy_iterator()]
    assert sizes[:-1] == [3] * (len(sizes) - 1) and 1 <= sizes[-1] <= 3
    assert sum(sizes) == len(default[0]["clips"])
    # A choice of speed only: the same windows, and the same values to float32
    # rounding. To the bit on the AVX-512 hosts of sessions 40-58; an AVX2-only
    # EPYC (2026-12-08) blocks its matrix products by batch, and batch 3 moved
    # 275 of 384 values by at most 5.6e-9.
    for small, usual in zip(embed(), default):
      np.testing.assert_allclose(small["embeddings"], usual["embeddings"], rtol=1e-5, atol=1e-7)
      np.testing.assert_array_equal(small["clips"], usual["clips"])

  def test_cache_files_are_written_in_the_background(self, digit_task, tiny_run, tmp_path):
    encoder, params = model_dir.load_encoder(tiny_run)
    cache = str(tmp_path / "cache")
    embed = lambda folder: window_embeddings.keras_windows_many(
        [encoder], params.features, digit_task, "test", FAST.hop_seconds, folder)[0]
    first = embed(cache)
    again = embed(cache)  # waits for the pending file, then reads it
    assert not first["cached"] and again["cached"]
    np.testing.assert_array_equal(first["embeddings"], again["embeddings"])
    window_embeddings.wait_for_cache_writes()
    assert len(os.listdir(cache)) == 1  # one file, no temporary left behind
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    assert not embed(str(blocked / "cache"))["cached"]  # the embeddings come back anyway
    assert not embed(str(blocked / "cache"))["cached"]  # the failed write is a miss here
    with pytest.raises(OSError):
      window_embeddings.wait_for_cache_writes()
    window_embeddings.wait_for_cache_writes()  # the failed write is no longer pending

  def test_evaluate_keeps_its_rows_when_the_cache_cannot_be_written(self, digit_task, tmp_path,
                                                                    monkeypatch):
    real = atomic.write_arrays

    def disk_full_for_windows(path, arrays):
      if os.path.basename(path).startswith("windows_"):
        raise OSError(28, "No space left on device", path)
      real(path, arrays)

    monkeypatch.setattr(atomic, "write_arrays", disk_full_for_windows)
    lines = []
    rows = evaluation.evaluate(evaluation.methods([evaluation.LOGMEL_STATS]), [digit_task],
                               eval_params=FAST, cache_dir=str(tmp_path / "cache"),
                               log=lines.append)
    assert len(rows) == 1 and 0 <= rows[0]["accuracy"] <= 1
    assert any("embedding cache could not be written" in line for line in lines), lines

  def test_cache_misses_after_the_same_encoder_changes(self, digit_task, tmp_path):
    encoder = encoder_lib.build_encoder(TINY.encoder, TINY.features, seed=1)
    cache = str(tmp_path / "cache")
    embed = lambda: window_embeddings.embed_split(encoder, TINY.features, digit_task, "test",
                                                  FAST.hop_seconds, cache)
    first = embed()
    bn = next(l for l in encoder.layers if "bn" in l.name)
    bn.moving_mean.assign(bn.moving_mean + 0.5)  # as training would
    changed = embed()
    assert not changed["cached"]
    assert np.abs(changed["embeddings"] - first["embeddings"]).max() > 1e-3
    assert len(os.listdir(cache)) == 2

  def test_same_weights_pooled_differently_are_not_served_each_others_windows(self, digit_task,
                                                                              tmp_path):
    """Pooling has no weights: the cache key must name the architecture, not only the weights."""
    params = dataclasses.replace(TINY.encoder, pooling="multi_mean_std", embedding_dim=0)
    one, both = (encoder_lib.build_encoder(dataclasses.replace(params, pool_blocks=k),
                                           TINY.features, seed=1) for k in (1, 2))
    assert [w.shape for w in one.weights] == [w.shape for w in both.weights]
    cache = str(tmp_path / "cache")
    out = [window_embeddings.embed_split(e, TINY.features, digit_task, "test", FAST.hop_seconds,
                                         cache) for e in (one, both)]
    assert not out[1]["cached"]
    assert out[1]["embeddings"].shape[1] > out[0]["embeddings"].shape[1]
    assert len(os.listdir(cache)) == 2

  def test_label_tasks_share_one_pass_over_the_audio(self, digits_dir, data_dir, tiny_run):
    tasks = [downstream.load_task(f"{digits_dir}:{key}", data_dir) for key in ("digit", "speaker")]
    lines = []
    rows = evaluation.evaluate(evaluation.methods(["untrained", tiny_run]), tasks,
                               eval_params=FAST, log=lines.append)
    assert len(rows) == 4
    speaker_lines = [line for line in lines if "recordings:speaker / " in line and "windows" in line]
    assert len(speaker_lines) == 4 and all("from memory" in line for line in speaker_lines)
    assert sum("2 encoders in one pass" in line for line in lines) == 4  # 2 methods x 2 splits
    alone = evaluation.evaluate(evaluation.methods([tiny_run]), tasks[1:], eval_params=FAST,
                                log=lambda line: None)
    assert alone[0]["accuracy"] == rows[3]["accuracy"]

  def test_fits_in_parallel_give_the_rows_of_one_at_a_time(self, digits_dir, data_dir,
                                                          tiny_run):
    tasks = [downstream.load_task(f"{digits_dir}:{key}", data_dir) for key in ("digit", "speaker")]
    methods = evaluation.methods(["untrained", tiny_run, "logmel_stats"])
    budgets = downstream.budgets([1.0], [2])
    blas_before = [pool["num_threads"] for pool in threadpoolctl.threadpool_info()]
    runs = {}
    for workers in (1, 3):
      lines = []
      runs[workers] = evaluation.evaluate(methods, tasks, budget_list=budgets, eval_params=FAST,
                                          log=lines.append, workers=workers)
      scored = [line for line in lines if "accuracy" in line]
      assert sum(", draw " not in line for line in scored) == 12  # a line per row
      assert sum(", draw " in line for line in scored) == 6 * 2  # and per draw of a budget
    drop_seconds = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    assert drop_seconds(runs[3]) == drop_seconds(runs[1])
    assert [(r["task"], r["method"], r["shots_per_class"]) for r in runs[3][:3]] == [
        (tasks[0].name, "untrained", ""), (tasks[0].name, "untrained", 2),
        (tasks[0].name, "tiny_run", "")]
    # The fits ran with one BLAS thread each; the process's setting is restored.
    assert [pool["num_threads"] for pool in threadpoolctl.threadpool_info()] == blas_before

  def test_fits_run_one_at_a_time_when_memory_would_not_hold_two(self, digit_task, tiny_run,
                                                                   monkeypatch):
    def no_threads(*args, **kwargs):
      raise AssertionError("a thread pool was started")

    monkeypatch.setattr(linear_eval, "_available_memory", lambda: 0)
    monkeypatch.setattr(linear_eval.futures, "ThreadPoolExecutor", no_threads)
    rows = evaluation.evaluate(evaluation.methods(["untrained", tiny_run]), [digit_task],
                               eval_params=FAST, log=lambda line: None)
    assert [r["method"] for r in rows] == ["untrained", "tiny_run"]
    with pytest.raises(AssertionError, match="thread pool"):  # an explicit count is obeyed
      evaluation.evaluate(evaluation.methods(["untrained", tiny_run]), [digit_task],
                          eval_params=FAST, log=lambda line: None, workers=2)

  def test_linear_probe_and_finetuning_rows(self, digit_task, tiny_run, tmp_path):
    methods = evaluation.methods(["untrained", tiny_run])
    budgets = downstream.budgets([1.0], [2])
    lines = []
    rows = evaluation.evaluate(methods, [digit_task], "linear", budgets, FAST,
                               str(tmp_path / "cache"), log=lines.append)
    assert [(r["method"], r["shots_per_class"]) for r in rows] == [
        ("untrained", ""), ("untrained", 2), ("tiny_run", ""), ("tiny_run", 2)]
    for r in rows:
      assert r["clips"] == 30 and r["classes"] == 3 and r["mode"] == "linear"
      _assert_clip_accuracy(r, 30)
    assert rows[0]["train_clips"] == 18 and rows[1]["train_clips"] == 6
    assert any("embedded" in line for line in lines)
    assert [r["draws"] for r in rows] == [1, 2, 1, 2]
    tuned = evaluation.evaluate(methods[1:], [digit_task], "finetune", budgets[1:], FAST)
    assert tuned[0]["mode"] == "finetune" and tuned[0]["train_clips"] == 6
    assert tuned[0]["draws"] == 2
    assert tuned[0]["clips"] == 30
    _assert_clip_accuracy(tuned[0], 30)
    # Fine-tuning trains a copy: the run directory's encoder is unchanged.
    fresh = evaluation.methods([tiny_run])[0].encoder(0)
    saved = model_dir.load_encoder(tiny_run)[0]
    for a, b in zip(fresh.get_weights(), saved.get_weights()):
      np.testing.assert_array_equal(a, b)

  def test_a_budgeted_row_is_the_mean_of_its_draws(self, digit_task, tiny_run):
    methods = evaluation.methods([tiny_run])
    budgets = downstream.budgets([1.0, 0.2])
    quiet = lambda line: None
    rows = evaluation.evaluate(methods, [digit_task], "linear", budgets,
                               dataclasses.replace(FAST, label_draws=3), log=quiet)
    singles = [evaluation.evaluate(methods, [digit_task], "linear", budgets[1:],
                                   dataclasses.replace(FAST, label_draws=1, seed=k), log=quiet)[0]
               for k in range(3)]
    accuracies = [r["accuracy"] for r in singles]
    assert len(set(accuracies)) > 1  # the draws differ, so the mean is a real average
    assert [r["draws"] for r in rows] == [1, 3]
    assert rows[1]["accuracy"] == pytest.approx(np.mean(accuracies))
    assert rows[1]["draw_sd"] == pytest.approx(np.std(accuracies, ddof=1))
    assert rows[1]["ci_low"] <= rows[1]["accuracy"] <= rows[1]["ci_high"]
    assert rows[1]["train_clips"] == singles[0]["train_clips"]
    # All labels: one draw, the row of a one-draw evaluation.
    one = evaluation.evaluate(methods, [digit_task], "linear", budgets[:1],
                              dataclasses.replace(FAST, label_draws=1), log=quiet)[0]
    assert {k: v for k, v in rows[0].items() if k != "seconds"} == {
        k: v for k, v in one.items() if k != "seconds"}

  def test_a_clip_mean_probe_is_fitted_and_scored_on_clip_means(self, digit_task, tiny_run):
    method = evaluation.methods([tiny_run])[0]
    encoder = method.encoder(0)
    params = dataclasses.replace(FAST, probe_on="clips", label_draws=1)
    budget = downstream.budgets([0.5])[0]
    row = evaluation.evaluate([method], [digit_task], "linear", [budget], params,
                              log=lambda line: None)[0]
    assert row["probe_on"] == "clips"
    # By hand: the probe on the train clips' mean embeddings, each test clip's mean scored.
    train, test = [window_embeddings.clip_means(window_embeddings.embed_split(
        encoder, method.params.features, digit_task, split, FAST.hop_seconds))
        for split in ("train", "test")]
    assert len(train["clips"]) == len(digit_task.train_labels)
    allowed = downstream.select_clips(digit_task.train_labels, budget, 0)
    model = probe.train(train["embeddings"][allowed], digit_task.index(train["labels"][allowed]),
                        train["clips"][allowed], digit_task.num_classes, seed=0)
    correct = probe.clip_correct(model.probabilities(test["embeddings"].astype(np.float64)),
                                 digit_task.index(test["labels"]), test["clips"])
    assert row["accuracy"] == pytest.approx(correct.mean())
    assert row["clips"] == len(test["clips"]) and row["train_clips"] == allowed.sum()
    # The windows probe of the same budget is another fit, on more rows.
    windows = evaluation.evaluate([method], [digit_task], "linear", [budget],
                                  dataclasses.replace(params, probe_on="windows"),
                                  log=lambda line: None)[0]
    assert windows["probe_on"] == "windows" and windows["clips"] == row["clips"]
    assert row["probe_iterations"] == windows["probe_iterations"] == probe.MAX_ITERATIONS
    # A lower iteration cap reaches the fit: the row is that of the capped probe by hand.
    capped = evaluation.evaluate([method], [digit_task], "linear", [budget],
                                 dataclasses.replace(params, probe_iterations=2),
                                 log=lambda line: None)[0]
    model = probe.train(train["embeddings"][allowed], digit_task.index(train["labels"][allowed]),
                        train["clips"][allowed], digit_task.num_classes, seed=0,
                        max_iterations=2)
    correct = probe.clip_correct(model.probabilities(test["embeddings"].astype(np.float64)),
                                 digit_task.index(test["labels"]), test["clips"])
    assert capped["probe_iterations"] == 2
    assert capped["accuracy"] == pytest.approx(correct.mean())
    with pytest.raises(ValueError, match="--probe_on must be one of"):
      dataclasses.replace(params, probe_on="frames").validate()

  def test_random_width_one_embeddings_separate_the_sounds(self, digit_task):
    # A broken window/label/clip alignment would give chance (1/3).
    method = evaluation.methods(["untrained"])[0]
    assert method.params.encoder.width == 1.0
    row = evaluation.evaluate([method], [digit_task], "linear", [downstream.Budget()], FAST,
                              log=lambda line: None)[0]
    assert row["accuracy"] >= 0.8

  def test_training_stream_keeps_the_budget_and_maps_labels(self, digit_task):
    allowed = np.isin(digit_task.train_labels, [1, 2])
    ds = finetune_lib._train_stream(  # pylint: disable=protected-access
        digit_task, TINY, allowed, FAST)
    labels = np.concatenate([y.numpy() for _, y in ds.take(6)])
    inputs = next(iter(ds))[0]["log_mel"]
    assert inputs.shape == (FAST.batch_size, 96, 64, 1)
    assert set(labels) == {1, 2}  # digits 1 and 2 are classes 1 and 2; class 0 filtered out

  @pytest.mark.slow
  @pytest.mark.timeout(900)  # 300 fine-tuning steps
  def test_supervised_baseline_learns_the_task(self, digit_task):
    # Long enough for BatchNorm's moving statistics (momentum 0.99) to settle.
    params = dataclasses.replace(FAST, finetune_steps=300, learning_rate=1e-2)
    method = evaluation.Method("supervised", evaluation.SUPERVISED, TINY)
    row = evaluation.evaluate([method], [digit_task], "linear", [downstream.Budget()], params)[0]
    assert row["mode"] == "finetune"
    assert row["accuracy"] > 0.5  # chance is 1/3


def _cli(*args):
  env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, "-m", "mobile_ssl.commands.evaluate", *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=300)


def test_cli_writes_the_table_plots_and_csv(digits_dir, tiny_run, data_dir, tmp_path):
  out = str(tmp_path / "eval")
  result = _cli("--encoders=untrained," + tiny_run, "--names=random,tiny",
                f"--tasks={digits_dir}:digit,{digits_dir}:speaker", f"--output_dir={out}",
                f"--data_dir={data_dir}", "--label_fraction=0.5,1.0", "--shots_per_class=2",
                "--label_draws=2", "--width=0.25", "--embedding_dim=16")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "| method | recordings:digit | recordings:speaker |" in result.stdout
  assert "| tiny · 2 shots |" in result.stdout
  assert "the mean of 2 draws of the labelled clips" in result.stdout
  rows = report.read_csv(os.path.join(out, "results.csv"))
  assert len(rows) == 2 * 2 * 3
  assert {r["classes"] for r in rows} == {3, 2}
  for name in ("results.md", "accuracy_by_task.png", "accuracy_vs_label_fraction.png"):
    assert os.path.getsize(os.path.join(out, name)) > 0
    assert os.path.join(out, name) in result.stdout
  # methods x splits: the digit and speaker tasks share one embedding per split;
  # one probe fit per draw: one per all-labels row, two per budgeted one.
  kept = os.listdir(os.path.join(out, "cache"))
  assert len([f for f in kept if f.startswith("windows_")]) == 2 * 2
  assert [r["draws"] for r in rows].count(2) == 2 * 2 * 2
  assert len([f for f in kept if f.startswith("probe_")]) == 2 * 2 * (1 + 2 + 2)
  again = _cli("--encoders=untrained," + tiny_run, "--names=random,tiny",
               f"--tasks={digits_dir}:digit", f"--output_dir={out}", f"--data_dir={data_dir}",
               "--width=0.25", "--embedding_dim=16")
  assert again.returncode == 0, again.stderr[-3000:]
  assert again.stderr.count("from the cache") == 2 * 2 and " embedded " not in again.stderr
  assert sorted(os.listdir(os.path.join(out, "cache"))) == sorted(kept)  # fits loaded too


def test_cli_bad_input_is_one_line(tiny_run, tmp_path, digits_dir):
  result = _cli(f"--encoders={tmp_path / 'nothing_here'}", f"--tasks={digits_dir}:digit",
                f"--output_dir={tmp_path / 'x'}")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("mobile-ssl-eval: error: ")
  assert "nothing_here: encoder directory not found" in result.stderr
  assert "Traceback" not in result.stderr
  result = _cli("--encoders=untrained", f"--tasks={digits_dir}:digit", "--label_fraction=half",
                f"--output_dir={tmp_path / 'x'}")
  assert result.returncode == 2 and "--label_fraction" in result.stderr
  result = _cli("--encoders=untrained", f"--tasks={digits_dir}:digit", "--label_draws=0",
                f"--output_dir={tmp_path / 'x'}")
  assert result.returncode == 2 and "--label_draws must be >= 1" in result.stderr
  assert not os.path.exists(tmp_path / "x")
