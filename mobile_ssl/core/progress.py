"""Progress bars: one look for every long loop, live on a terminal and silent elsewhere.

A bar is drawn on stderr only when stderr is a terminal: in CI logs, files
and pipes a redrawn bar is thousands of lines of noise, so there the loops
print their own plain lines (the trainer's every log step) or nothing. The
bar's width follows the terminal's, and a finished bar is erased unless the
caller keeps it (`leave`): the training bar stays, the many short bars of
filling caches, embedding splits and converting models do not.
"""

import sys
import typing

import tqdm


def bar(iterable: typing.Optional[typing.Iterable] = None, *, desc: str,
        total: typing.Optional[float] = None, unit: str = "it", initial: int = 0,
        leave: bool = False, show: bool = True) -> tqdm.tqdm:
  """A tqdm bar on stderr named `desc`; drawn when `show` and stderr is a terminal.

  `iterable` is wrapped as tqdm does (its length is the total unless
  `total` is given); without it, call `update`. Use it as a context manager
  or close it, so that an erased bar leaves a clean line.
  """
  stream = sys.stderr  # looked up per call: tests and callers may swap it
  return tqdm.tqdm(iterable, desc=desc, total=total, unit=unit, initial=initial, leave=leave,
                   file=stream, disable=not (show and stream.isatty()), dynamic_ncols=True)
