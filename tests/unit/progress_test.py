"""Tests of mobile_ssl.core.progress: bars drawn on a terminal only, on stderr."""

import io
import sys

from mobile_ssl.core import progress


class _Terminal(io.StringIO):
  def isatty(self):
    return True


def _run(stream, monkeypatch, **kwargs):
  monkeypatch.setattr(sys, "stderr", stream)
  with progress.bar(range(7), desc="fill things", unit=" things", **kwargs) as bar:
    items = list(bar)
  monkeypatch.undo()
  return items, stream.getvalue()


def test_a_bar_is_drawn_on_a_terminal_and_erased_unless_kept(monkeypatch):
  items, shown = _run(_Terminal(), monkeypatch)
  assert items == list(range(7))
  assert shown.startswith("\rfill things:   0%") and "0/7 [" in shown and " things/s" in shown
  assert shown.endswith(" " * 40 + "\r")  # erased: the line is blank for what comes next
  _, kept = _run(_Terminal(), monkeypatch, leave=True)
  assert "fill things: 100%" in kept and "7/7 [" in kept and kept.endswith("\n")


def test_a_bar_is_silent_in_files_and_pipes_and_when_not_shown(monkeypatch):
  items, shown = _run(io.StringIO(), monkeypatch)
  assert items == list(range(7)) and shown == ""
  _, hidden = _run(_Terminal(), monkeypatch, show=False)
  assert hidden == ""


def test_a_bar_without_an_iterable_counts_updates_from_its_initial_value(monkeypatch):
  terminal = _Terminal()
  monkeypatch.setattr(sys, "stderr", terminal)
  with progress.bar(desc="train", total=10, initial=4, unit="step", leave=True) as bar:
    bar.update(3)
    assert bar.n == 7
  monkeypatch.undo()
  assert "7/10 [" in terminal.getvalue()
