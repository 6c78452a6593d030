"""How dvae prints to a console (rich and the standard library only).

- In a terminal, tables fit its width and fold long cells onto more lines (never an
  ellipsis). In a pipe or a file, the console is as wide as the content (or
  ``$COLUMNS`` when exported), so ``dvae experiments list | grep best_celeba`` finds
  the whole name, and a study cell's log keeps its lines whole.
- Long phases show a transient progress bar in a terminal and progress lines in a log
  (`PhaseProgress`).

The CLI (its `output` module re-exports these) and the console views of the workflows
(`dvae_cli.views.train`, `dvae_cli.views.evaluate`) print through these.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

#: Width of a console that does not write to a terminal: wide enough that no table is cut.
PIPE_WIDTH = 10_000


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, AttributeError):
        return False


def make_console(stderr: bool = False, **kwargs: Any) -> Console:
    """A rich console on stdout (or stderr).

    Its width is the terminal's; when the stream is not a terminal, ``$COLUMNS`` if the
    user exported it, else `PIPE_WIDTH` (as wide as the content).
    """
    stream = sys.stderr if stderr else sys.stdout
    if "width" not in kwargs and not _is_terminal(stream):
        columns = os.environ.get("COLUMNS", "")
        kwargs["width"] = int(columns) if columns.isdigit() and int(columns) > 0 else PIPE_WIDTH
    kwargs.setdefault("highlight", False)
    return Console(stderr=stderr, **kwargs)


def make_table(columns: Sequence[str], title: str | None = None, right: Sequence[str] = (), **kwargs: Any) -> Table:
    """A table whose cells fold onto more lines rather than being cut with an ellipsis.

    Args:
        columns: Column headers.
        title: Shown above, left-aligned.
        right: Headers of the columns to right-align (numbers).
    """
    table = Table(title=title, title_justify="left", **kwargs)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    return table


class PhaseProgress:
    """Progress of long phases (``encoding``, ``mutual information``) as a bar, or as lines in a log.

    Call it with (phase, done, total). In a terminal it draws a transient rich
    progress bar per phase; otherwise it prints a line when a phase starts, at most
    every `every` seconds, and when it ends. Use it as a context manager.
    """

    def __init__(self, console: Console, every: float = 10.0) -> None:
        self.console, self.every = console, every
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._last: dict[str, float] = {}

    def __enter__(self) -> PhaseProgress:
        if self.console.is_terminal:
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                                 TimeRemainingColumn(), console=self.console, transient=True)
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)

    def __call__(self, phase: str, done: int, total: int) -> None:
        import time

        if self._bar is not None:
            if phase not in self._tasks:
                self._tasks[phase] = self._bar.add_task(phase, total=total)
            self._bar.update(self._tasks[phase], completed=done, total=total)
            return
        now = time.monotonic()
        if phase not in self._last or done >= total or now - self._last[phase] >= self.every:
            self._last[phase] = now
            self.console.print(f"{phase}: {done:,}/{total:,} ({100 * done / max(total, 1):.0f}%)", markup=False,
                               style="dim")
