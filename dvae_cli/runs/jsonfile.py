"""Reading the JSON files of a run folder: any damage becomes one `CorruptFileError` line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dvae_cli.errors import CorruptFileError


def read_json(path: Path) -> Any:
    """The parsed content of the JSON file `path`.

    Raises:
        FileNotFoundError: if there is no such file (callers decide what missing means).
        CorruptFileError: naming the file, if it cannot be read, is not UTF-8, is not
            JSON, nests too deeply or holds a number Python refuses to parse.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CorruptFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise CorruptFileError(f"{path} is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer past Python's limit of digits
        raise CorruptFileError(f"{path} is not valid JSON: {str(exc).split(';')[0]}") from None


def as_float(value: Any) -> float | None:
    """`value` as a float if it is a JSON number that fits one (None otherwise; bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None
