"""How dvae prints: consoles that never cut a table in a pipe, tables that fold, output in any encoding.

- In a terminal, tables fit its width and fold long cells onto more lines (never an
  ellipsis). In a pipe or a file, the console is as wide as the content (or
  ``$COLUMNS`` when exported), so ``dvae experiments list | grep best_celeba`` finds
  the whole name.
- `safe_streams` makes stdout and stderr replace what their encoding cannot write
  (``PYTHONIOENCODING=ascii``, a C locale) instead of raising.
- List commands take ``--format table|json|csv`` (`render_rows`): JSON is strict (no
  NaN), CSV has a header row.

Standard library and rich only.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from dvae_cli.errors import UnknownNameError

#: Width of a console that does not write to a terminal: wide enough that no table is cut.
PIPE_WIDTH = 10_000
LIST_FORMATS: tuple[str, ...] = ("table", "json", "csv")


def safe_streams() -> None:
    """Make stdout and stderr write '?' for characters their encoding lacks, instead of raising."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="replace")
            except (ValueError, OSError):  # a closed or detached stream: nothing to protect
                pass


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


def check_list_format(name: str) -> str:
    """`name` if it is one of `LIST_FORMATS`.

    Raises:
        UnknownNameError: otherwise.
    """
    if name not in LIST_FORMATS:
        raise UnknownNameError("format", name, LIST_FORMATS)
    return name


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def render_rows(rows: Sequence[dict[str, Any]], fmt: str) -> str:
    """Rows of a list command as JSON (an array of objects, strict: NaN and inf become null) or CSV."""
    check_list_format(fmt)
    if fmt == "json":
        return json.dumps([{k: _strict(v) for k, v in row.items()} for row in rows], indent=2,
                          allow_nan=False) + "\n"
    buffer = io.StringIO()
    keys = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if _strict(v) is None else v for k, v in row.items()})
    return buffer.getvalue()


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
