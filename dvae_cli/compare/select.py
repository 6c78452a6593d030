"""Which runs, which rows, in which order, with which columns.

- `find_runs`: run names (or glob patterns, or run folder paths) -> summaries;
- `parse_filters` / `apply_filters`: ``dataset=sprites,loss=btcvae|factor,MIG>0.1``;
- `sort_rows`: ``--sort dataset,test.loss``;
- `choose_columns`: ``--columns name,loss,test.*``.

Every bad name raises `UnknownNameError` listing the valid choices. Standard library only.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvae_cli.compare.table import Row, Stat
from dvae_cli.config import RunSpec
from dvae_cli.errors import ConfigError, RunNotFoundError, UnknownNameError
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.summary import RunSummary, scan_runs, summarize_run

_GLOB = re.compile(r"[*?\[]")
_CONDITION = re.compile(r"^\s*([^=!<>\s]+)\s*(=|!=|>=|<=|>|<)\s*(.*?)\s*$")
#: Keys a filter accepts besides the table's columns: every field of ``specs.json``.
SPEC_KEYS: tuple[str, ...] = tuple(k for k in RunSpec().to_dict() if k != "name")


# --------------------------------------------------------------------------- runs


def find_runs(names: Sequence[str], results_dir: Path) -> list[RunSummary]:
    """Summaries of the named runs, or of every run under `results_dir` if none is named.

    Args:
        names: Run names under `results_dir`, glob patterns over them (``'btcvae_*'``)
            or paths of run folders. Duplicates are dropped.
        results_dir: Where named runs are looked up.

    Raises:
        RunNotFoundError, UnknownNameError: a name or pattern matching no run, or no run at all.
    """
    if not names:
        summaries = scan_runs(results_dir)
        if not summaries:
            reason = "holds no runs" if Path(results_dir).is_dir() else "does not exist"
            raise RunNotFoundError(f"nothing to compare: results dir {results_dir} {reason} "
                                   "(--results-dir, $DVAE_RESULTS_DIR)")
        return summaries
    found: dict[Path, RunSummary] = {}
    scanned: list[RunSummary] | None = None
    for name in names:
        if _GLOB.search(name) and not Path(name).is_dir():
            scanned = scan_runs(results_dir) if scanned is None else scanned
            matches = [s for s in scanned if fnmatch.fnmatchcase(s.name, name)]
            if not matches:
                raise UnknownNameError(f"run pattern in {results_dir}", name, [s.name for s in scanned])
            for summary in matches:
                found.setdefault(summary.path.resolve(), summary)
            continue
        folder = RunFolder.find(name, results_dir)
        key = folder.path.resolve()
        if key not in found:
            found[key] = summarize_run(folder.path)
    return list(found.values())


# --------------------------------------------------------------------------- filters


@dataclass(frozen=True)
class Condition:
    """One filter condition: ``key op value``; ``=`` and ``!=`` accept ``a|b`` and globs."""

    key: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"

    def matches(self, cell: Any) -> bool:
        """Whether a cell satisfies the condition (a missing cell satisfies only ``!=``)."""
        if cell is None:
            return self.op == "!="
        if isinstance(cell, Stat):
            cell = cell.mean
        if isinstance(cell, list):
            hit = any(Condition(self.key, "=", self.value).matches(item) for item in cell)
            return hit if self.op == "=" else (not hit if self.op == "!=" else
                                               any(self.matches(item) for item in cell))
        if isinstance(cell, bool):
            equal = self.value.lower() in (("true", "yes", "1") if cell else ("false", "no", "0"))
            return self._equality(equal)
        if isinstance(cell, (int, float)):
            return self._numeric(float(cell))
        if self.op not in ("=", "!="):
            raise ConfigError(f"--filter {self}: {self.key} is text; use = or !=")
        alternatives = [a.strip().lower() for a in self.value.split("|")]
        return self._equality(any(fnmatch.fnmatchcase(str(cell).lower(), a) for a in alternatives))

    def _equality(self, equal: bool) -> bool:
        if self.op not in ("=", "!="):
            raise ConfigError(f"--filter {self}: {self.key} is not a number; use = or !=")
        return equal if self.op == "=" else not equal

    def _numeric(self, number: float) -> bool:
        try:
            targets = [float(part) for part in self.value.split("|")]
        except ValueError:
            raise ConfigError(f"--filter {self}: {self.key} is a number, got {self.value!r}") from None
        if self.op in ("=", "!="):
            equal = any(math.isclose(number, t, rel_tol=1e-9, abs_tol=1e-12) for t in targets)
            return equal if self.op == "=" else not equal
        if len(targets) != 1:
            raise ConfigError(f"--filter {self}: '|' works only with = and !=")
        target = targets[0]
        return {">": number > target, "<": number < target, ">=": number >= target, "<=": number <= target}[self.op]


def parse_filters(texts: Sequence[str]) -> list[Condition]:
    """``["dataset=sprites,loss=btcvae", "MIG>0.1"]`` -> conditions (all must hold).

    Raises:
        ConfigError: for a condition that is not ``key<op>value``.
    """
    conditions = []
    for text in texts:
        for part in text.split(","):
            if not part.strip():
                continue
            match = _CONDITION.match(part)
            if not match or not match.group(3):
                raise ConfigError(f"--filter {part.strip()!r}: expected KEY=VALUE (or !=, <, <=, >, >=), "
                                  "e.g. dataset=sprites,loss=btcvae|factor")
            conditions.append(Condition(*match.groups()))
    return conditions


def apply_filters(rows: list[Row], conditions: Sequence[Condition], columns: Sequence[str]) -> list[Row]:
    """The rows meeting every condition.

    A key is a column of the table or a field of ``specs.json`` (``rec_dist``,
    ``latent_dim``, ...).

    Raises:
        UnknownNameError: for an unknown key, or an ``=`` value that no run has (a typo).
        ConfigError: for a comparison that does not fit the column (``loss>3``).
    """
    valid = list(dict.fromkeys([*columns, *SPEC_KEYS]))
    for condition in conditions:
        if condition.key not in valid:
            raise UnknownNameError("filter key", condition.key, valid)
        _check_value_exists(rows, condition)
    return [row for row in rows if all(condition.matches(_cell(row, condition.key)) for condition in conditions)]


def _cell(row: Row, key: str) -> Any:
    if key in row.values:
        return row.values[key]
    spec = row.runs[0].spec
    return spec.to_dict().get(key) if spec is not None else None


def _check_value_exists(rows: list[Row], condition: Condition) -> None:
    """A plain text value (no glob) that no run has is most likely a typo: say which exist."""
    if condition.op != "=":
        return
    cells = [_cell(row, condition.key) for row in rows]
    texts = sorted({str(c) for c in cells if isinstance(c, str)})
    if not texts or any(isinstance(c, (int, float)) for c in cells if c is not None):
        return
    for value in condition.value.split("|"):
        value = value.strip()
        if not _GLOB.search(value) and value.lower() not in {t.lower() for t in texts}:
            raise UnknownNameError(f"{condition.key} in --filter", value, texts)


# --------------------------------------------------------------------------- sorting and columns


def parse_keys(text: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b,c"]`` -> ``["a", "b", "c"]``."""
    if text is None:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    return [key.strip() for part in parts for key in part.split(",") if key.strip()]


def sort_rows(rows: list[Row], keys: Sequence[str], columns: Sequence[str], reverse: bool = False) -> list[Row]:
    """Rows sorted by `keys` (``-key`` sorts that key in descending order); missing cells last.

    Raises:
        UnknownNameError: for a key that is not a column.
    """
    ordered = list(rows)
    for raw in reversed(list(keys)):
        descending = raw.startswith("-") != reverse
        key = raw.lstrip("-")
        if key not in columns:
            raise UnknownNameError("sort column", key, columns)
        present = [row for row in ordered if _sort_value(row.values.get(key)) is not None]
        missing = [row for row in ordered if _sort_value(row.values.get(key)) is None]
        present.sort(key=lambda row: _sort_value(row.values.get(key)), reverse=descending)
        ordered = present + missing
    return ordered


def _sort_value(cell: Any) -> Any:
    """Numbers before texts so that a mixed column still sorts."""
    if cell is None:
        return None
    if isinstance(cell, Stat):
        return (0, cell.mean, "")
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return None if math.isnan(cell) else (0, float(cell), "")
    if isinstance(cell, dict):
        return (1, 0.0, " ".join(f"{k}={v}" for k, v in cell.items()).lower())
    if isinstance(cell, list):
        return _sort_value(cell[0]) if cell else None
    return (1, 0.0, str(cell).lower())


def choose_columns(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    """The columns named (exact keys or glob patterns such as ``test.*``), in the order named.

    Raises:
        UnknownNameError: for a key or pattern matching no column.
    """
    chosen: dict[str, None] = {}
    for key in requested:
        if _GLOB.search(key):
            matches = [k for k in available if fnmatch.fnmatchcase(k, key)]
            if not matches:
                raise UnknownNameError("column pattern", key, available)
            chosen.update(dict.fromkeys(matches))
        elif key in available:
            chosen[key] = None
        else:
            raise UnknownNameError("column", key, available)
    return list(chosen)
