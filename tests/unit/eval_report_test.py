"""Tests of mobile_ssl.evaluation.eval_report: the Markdown table, the CSV round trip, the PNGs."""

from mobile_ssl.evaluation import eval_report as report


class TestReport:
  ROWS = [
      {"task": "A", "method": "m1", "mode": "linear", "label_fraction": 1.0, "shots_per_class": "",
       "accuracy": 0.9, "ci_low": 0.85, "ci_high": 0.95, "clips": 100, "classes": 4,
       "train_clips": 400, "unseen_test_clips": 0, "seconds": 1.0},
      {"task": "A", "method": "m1", "mode": "linear", "label_fraction": 0.1, "shots_per_class": "",
       "accuracy": 0.6, "ci_low": 0.5, "ci_high": 0.7, "clips": 100, "classes": 4,
       "train_clips": 40, "unseen_test_clips": 0, "seconds": 1.0},
      {"task": "B", "method": "m1", "mode": "finetune", "label_fraction": "", "shots_per_class": 10,
       "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "clips": 50, "classes": 2,
       "train_clips": 20, "unseen_test_clips": 3, "seconds": 2.0},
  ]

  def test_markdown_table_has_methods_by_tasks(self):
    text = report.markdown(self.ROWS)
    lines = text.splitlines()
    assert lines[0] == "| method | A | B |"
    assert "| m1 | 90.0 [85.0, 95.0] | — |" in lines
    assert "| m1 · 10% labels | 60.0 [50.0, 70.0] | — |" in lines
    assert "| m1 (fine-tuned) · 10 shots | — | 50.0 [40.0, 60.0] |" in lines
    assert "3 with a class unseen in training" in text
    assert "draws" not in text  # rows of one draw (or written before draws existed)

  def test_a_row_of_several_draws_shows_their_spread(self, tmp_path):
    rows = [dict(self.ROWS[0]), dict(self.ROWS[2], draws=5, draw_sd=0.043)]
    text = report.markdown(rows)
    assert "| m1 (fine-tuned) · 10 shots | — | 50.0 [40.0, 60.0] ±4.3 |" in text.splitlines()
    assert "the mean of 5 draws of the labelled clips, ± their standard deviation" in text
    back = report.read_csv(report.write(rows, str(tmp_path / "out"))["csv"])
    assert [(r["draws"], r["draw_sd"]) for r in back] == [(1, 0.0), (5, 0.043)]
    assert report.markdown(back) == text

  def test_files_round_trip_and_plots_are_pngs(self, tmp_path):
    paths = report.write(self.ROWS, str(tmp_path / "out"))
    assert set(paths) == {"csv", "markdown", "bars", "fractions"}
    for key in ("bars", "fractions"):
      assert open(paths[key], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    back = report.read_csv(paths["csv"])
    assert [(r["task"], r["accuracy"], r["shots_per_class"]) for r in back] == [
        ("A", 0.9, ""), ("A", 0.6, ""), ("B", 0.5, 10)]
    assert report.markdown(back) == report.markdown(self.ROWS)
    # One fraction only: no label-efficiency plot.
    assert "fractions" not in report.write(self.ROWS[:1], str(tmp_path / "one"))


def test_a_clip_mean_probe_is_named_under_the_table_and_kept_in_the_csv(tmp_path):
  rows = [dict(TestReport.ROWS[0], probe_on="clips"), dict(TestReport.ROWS[2], probe_on="")]
  text = report.markdown(rows)
  assert "Linear probes fitted on each clip's mean window embedding (`--probe_on=clips`)." in text
  back = report.read_csv(report.write(rows, str(tmp_path / "out"))["csv"])
  assert [r["probe_on"] for r in back] == ["clips", ""]
  assert report.markdown(back) == text
  # Rows probed on every window (or written before the column) say nothing of it.
  assert "probe_on" not in report.markdown(TestReport.ROWS)
  old = tmp_path / "old.csv"
  old.write_text("task,method,mode,label_fraction,shots_per_class,accuracy,ci_low,ci_high,clips,"
                 "classes,train_clips,unseen_test_clips,seconds\n"
                 "A,m1,linear,1.0,,0.9,0.85,0.95,100,4,400,0,1.0\n")
  assert report.read_csv(str(old))[0]["probe_on"] == "windows"


def test_a_lower_probe_iteration_cap_is_named_under_the_table_and_kept_in_the_csv(tmp_path):
  rows = [dict(TestReport.ROWS[0], probe_iterations=200),
          dict(TestReport.ROWS[2], probe_iterations="")]
  text = report.markdown(rows)
  assert "at most 200 L-BFGS iterations (`--probe_iterations`; default 500)" in text
  back = report.read_csv(report.write(rows, str(tmp_path / "out"))["csv"])
  assert [r["probe_iterations"] for r in back] == [200, ""]
  assert report.markdown(back) == text
  # The default cap (or a CSV written before the column) says nothing of it.
  assert "probe_iterations" not in report.markdown(
      [dict(TestReport.ROWS[0], probe_iterations=500)])
  old = tmp_path / "old.csv"
  old.write_text("task,method,mode,label_fraction,shots_per_class,accuracy,ci_low,ci_high,clips,"
                 "classes,train_clips,unseen_test_clips,seconds\n"
                 "A,m1,linear,1.0,,0.9,0.85,0.95,100,4,400,0,1.0\n")
  assert report.read_csv(str(old))[0]["probe_iterations"] == 500


def test_a_budget_of_one_shot_is_singular():
  row = {"method": "m", "mode": "linear", "label_fraction": "", "shots_per_class": 1}
  assert report.method_label(row) == "m · 1 shot"
  assert report.method_label(dict(row, shots_per_class=5)) == "m · 5 shots"
  assert report.shots_label("1") == "1 shot" and report.shots_label(10) == "10 shots"
