"""How dvae prints: consoles that never cut a table in a pipe, tables that fold, output in any encoding.

- `make_console`, `make_table` and `PhaseProgress` are `dvae_cli.console`'s (shared with
  the console views of the workflows, which a study cell's log uses too).
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
import sys
from collections.abc import Sequence
from typing import Any

from dvae_cli.console import PIPE_WIDTH, PhaseProgress, make_console, make_table
from dvae_cli.errors import UnknownNameError

__all__ = ["LIST_FORMATS", "PIPE_WIDTH", "PhaseProgress", "check_list_format", "make_console", "make_table",
           "render_rows", "safe_streams"]

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
