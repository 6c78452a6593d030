"""Study folders as `dvae browse` shows them (no Textual): what ``study.json`` says, the report.

A study folder (``dvae study``) is ``<results>/<study>/``: ``study.json``, one run folder
per cell, ``report/`` once ``dvae study report`` ran (``report.md``, ``summary.csv``,
``cells.csv``, PNG figures) and ``.study/`` (logs, never shown). `read_study_info` is
what the scan reads of it (``study.json`` only); `load_study` what the study view shows,
read in a thread worker. Neither raises for a bad or missing file: the reason is kept.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dvae_cli.errors import DvaeError
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import FIGURE_SUFFIXES, MODEL, RUN_MARKERS
from dvae_cli.runs.summary import RunSummary
from dvae_cli.study.plan import STUDIES_FILENAME
from dvae_cli.study.report import REPORT_DIR
from dvae_cli.study.state import STATE_FILE

#: The report's table of every score by setting (`dvae_cli.study.report.StudyReport.summary_table`).
SUMMARY_CSV = "summary.csv"
REPORT_MD = "report.md"
#: Rows of summary.csv shown at most.
MAX_SUMMARY_ROWS = 500
#: The order of the states counted in the study view (`StudyDetails.states`).
STATE_ORDER = ("done", "training", "finished", "interrupted", "diverged", "crashed", "broken", "failed",
               "not started")


@dataclass
class StudyInfo:
    """A study folder at a glance: its row of the run list.

    Attributes:
        key: Its row key in the run list (the folder's path under the results dir, then ``/``).
        name: The folder name.
        path: The folder.
        prefix: What precedes a cell's folder name in the cell's run key ('' when the
            results dir browsed is the study itself).
        study: The study's name in ``study.json`` (the folder name if none).
        file: The study file it was run from ('' if unknown).
        cells_planned: The cells of its grid (None if unknown).
        attempts: Attempts made per cell, from ``study.json``.
        errors: The last error of each cell that has one, from ``study.json``.
        error: Why ``study.json`` could not be read ('' if it could).
        report: Whether ``report/`` exists.
    """

    key: str
    name: str
    path: Path
    prefix: str = ""
    study: str = ""
    file: str = ""
    cells_planned: int | None = None
    attempts: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    error: str = ""
    report: bool = False

    @property
    def report_dir(self) -> Path:
        return self.path / REPORT_DIR


@dataclass
class SummaryTable:
    """``report/summary.csv``: its header and rows as text (missing cells are empty)."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    #: Rows left out beyond `MAX_SUMMARY_ROWS`.
    left_out: int = 0


@dataclass
class StudyDetails:
    """What the study view shows: the cells counted by state, the report's table and figures.

    Attributes:
        info: The study as the scan read it.
        states: Cells per state (`STATE_ORDER`; ``done``: model.pt and a finished training;
            ``failed``: no run folder, and an error in ``study.json``).
        cells: The cells' run keys, by name.
        summary: ``report/summary.csv`` (None if the report or the file is missing).
        summary_error: Why ``summary.csv`` could not be read ('' if it could or is missing).
        report_files: The report's files (not the figures), by name.
        figures: The report's PNG and GIF files, by name.
    """

    info: StudyInfo
    states: dict[str, int] = field(default_factory=dict)
    cells: list[str] = field(default_factory=list)
    summary: SummaryTable | None = None
    summary_error: str = ""
    report_files: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.info.key

    def report_summary(self) -> RunSummary:
        """The report folder as the figure viewer takes a folder: name, path and figures."""
        return RunSummary(name=f"{self.info.name}/{REPORT_DIR}", path=self.info.report_dir, figures=self.figures)


def report_command(info: StudyInfo) -> str:
    """The ``dvae study report`` command line that writes the report of `info`.

    ``dvae study report`` takes the study file, or the name of a study of the shipped
    ``studies.toml`` (whose path ``study.json`` records as the file).
    """
    import shlex

    file = info.file
    target = file if file and Path(file).name != STUDIES_FILENAME else info.study
    return f"dvae study report {shlex.quote(target)}"


def is_study(path: Path) -> bool:
    """Whether `path` is a study folder: it holds ``study.json`` and is not a run itself."""
    try:
        return (path / STATE_FILE).is_file() and not any((path / marker).exists() for marker in RUN_MARKERS)
    except OSError:
        return False


def read_study_info(path: Path, key: str, prefix: str) -> StudyInfo:
    """What ``study.json`` of the study folder `path` says; never raises (see `StudyInfo.error`)."""
    path = Path(path)
    info = StudyInfo(key=key, name=path.name, path=path, prefix=prefix, study=path.name)
    try:
        info.report = info.report_dir.is_dir()
        data = read_json(path / STATE_FILE)
    except FileNotFoundError:
        info.error = f"no {STATE_FILE}"
        return info
    except (OSError, DvaeError) as exc:
        info.error = str(exc)
        return info
    if not isinstance(data, dict):
        info.error = f"{path / STATE_FILE} is not a JSON object"
        return info
    if isinstance(data.get("study"), str) and data["study"]:
        info.study = data["study"]
    if isinstance(data.get("file"), str):
        info.file = data["file"]
    planned = data.get("cells_planned")
    if isinstance(planned, int) and not isinstance(planned, bool) and planned >= 0:
        info.cells_planned = planned
    cells = data.get("cells")
    for name, entry in (cells.items() if isinstance(cells, dict) else ()):
        if not isinstance(entry, dict):
            continue
        attempts, error = entry.get("attempts"), entry.get("error")
        if isinstance(attempts, int) and not isinstance(attempts, bool):
            info.attempts[str(name)] = attempts
        if isinstance(error, str) and error:
            info.errors[str(name)] = error
    return info


def cell_state(cell: RunSummary) -> str:
    """``done`` for a cell with model.pt whose training finished, else its run status."""
    if cell.status == "finished":
        try:
            return "done" if (cell.path / MODEL).is_file() else "finished"
        except OSError:
            return "finished"
    return cell.status


def count_states(states: Iterable[str], planned: int | None) -> dict[str, int]:
    """Cells per state in `STATE_ORDER` (then any other), with the planned cells not started yet."""
    counts = Counter(states)
    total = sum(counts.values())
    if planned is not None and planned > total:
        counts["not started"] = planned - total
    order = {state: i for i, state in enumerate(STATE_ORDER)}
    return dict(sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def read_summary_csv(path: Path, max_rows: int = MAX_SUMMARY_ROWS) -> SummaryTable:
    """The header and rows of a ``summary.csv`` (short rows padded, long ones cut to the header).

    Raises:
        FileNotFoundError: if there is no such file.
        DvaeError: (a `CorruptFileError`) if it cannot be read or has no header.
    """
    from dvae_cli.errors import CorruptFileError

    try:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            lines = list(csv.reader(handle))
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorruptFileError(f"cannot read {path}: {exc}") from None
    lines = [line for line in lines if any(cell.strip() for cell in line)]
    if not lines:
        raise CorruptFileError(f"{path} is empty")
    header, rows = lines[0], lines[1:]
    width = len(header)
    table = SummaryTable(header, [(row + [""] * width)[:width] for row in rows[:max_rows]])
    table.left_out = max(0, len(rows) - max_rows)
    return table


def format_cell(text: str) -> tuple[str, bool]:
    """A summary.csv cell for display and whether it is a number (4 significant digits; empty: ``-``)."""
    if not text.strip():
        return "-", False
    try:
        value = float(text)
    except ValueError:
        return text, False
    if value.is_integer() and "." not in text and "e" not in text.lower():
        return text, True
    return (f"{value:.4g}" if math.isfinite(value) else text), True


def load_study(info: StudyInfo, cells: list[RunSummary]) -> StudyDetails:
    """Everything the study view shows about the study `info`, whose cells the run list holds as `cells`."""
    details = StudyDetails(info, cells=sorted(cell.name for cell in cells))
    present = {cell.name.removeprefix(info.prefix) for cell in cells}
    failed = ["failed" for name in info.errors if name not in present]   # before its run folder was made
    details.states = count_states([*(cell_state(cell) for cell in cells), *failed], info.cells_planned)
    report = info.report_dir
    try:
        entries = sorted(e for e in report.iterdir() if e.is_file() and not e.name.startswith("."))
    except OSError:
        return details
    details.figures = [e.name for e in entries if e.suffix.lower() in FIGURE_SUFFIXES]
    details.report_files = [e.name for e in entries if e.name not in details.figures]
    try:
        details.summary = read_summary_csv(report / SUMMARY_CSV)
    except FileNotFoundError:
        pass
    except DvaeError as exc:
        details.summary_error = str(exc)
    return details
