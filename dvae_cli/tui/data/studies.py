"""Study folders as `dvae browse` shows them (no Textual): what ``study.json`` says, the report.

A study folder (``dvae study``, named in `dvae_cli.runs.study_layout`) is
``<results>/<study>/``: ``study.json``, one run folder per cell, ``report/`` once
``dvae study report`` ran (``report.md``, ``summary.csv``, ``cells.csv``, PNG figures) and
``.study/`` (logs, never shown). `read_study_info` is what the scan reads of it
(``study.json`` only); `study_states` the cells counted by state, as ``dvae study status``
names and counts them (`dvae_cli.study.state.folder_state`, from the run folder and the
evaluation plan ``study.json`` records), for the study's row of the run list and the study
view; `load_study` what the study view shows. The last two read the cells' folders: call
them in a thread worker. None raises for a bad or missing file: the reason is kept.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from dvae_cli.errors import DvaeError
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import FIGURE_SUFFIXES
from dvae_cli.runs.study_layout import REPORT_DIR, STUDY_RECORD, SUMMARY_CSV
from dvae_cli.runs.summary import LISTED_MARKERS, RunSummary
from dvae_cli.study.plan import STUDIES_FILENAME
from dvae_cli.study.state import STATES, Evaluation, folder_state

__all__ = ["MAX_SUMMARY_ROWS", "StudyDetails", "StudyInfo",
           "SummaryTable", "cell_state", "count_states", "count_studies", "format_cell", "is_study", "load_study",
           "read_study_info", "read_summary_csv", "report_command", "states_text", "study_states"]

#: Rows of summary.csv shown at most.
MAX_SUMMARY_ROWS = 500


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
        entries: Each cell's entry of ``study.json`` (attempts, last error, worker, job).
        evaluation: The study's evaluation plan, from ``study.json`` (None: not recorded,
            a study of an older dvae; a trained cell then counts as done).
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
    entries: dict[str, dict[str, object]] = field(default_factory=dict)
    evaluation: Evaluation | None = None
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
        states: Cells per state (`dvae_cli.study.state.STATES`, `dvae_cli.study.state.folder_state`; the planned
            cells with no run folder and no error in ``study.json`` are ``left``).
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
        return (path / STUDY_RECORD).is_file() and not any((path / marker).exists() for marker in LISTED_MARKERS)
    except OSError:
        return False


def read_study_info(path: Path, key: str, prefix: str) -> StudyInfo:
    """What ``study.json`` of the study folder `path` says; never raises (see `StudyInfo.error`)."""
    path = Path(path)
    info = StudyInfo(key=key, name=path.name, path=path, prefix=prefix, study=path.name)
    try:
        info.report = info.report_dir.is_dir()
        data = read_json(path / STUDY_RECORD)
    except FileNotFoundError:
        info.error = f"no {STUDY_RECORD}"
        return info
    except (OSError, DvaeError) as exc:
        info.error = str(exc)
        return info
    if not isinstance(data, dict):
        info.error = f"{path / STUDY_RECORD} is not a JSON object"
        return info
    if isinstance(data.get("study"), str) and data["study"]:
        info.study = data["study"]
    if isinstance(data.get("file"), str):
        info.file = data["file"]
    planned = data.get("cells_planned")
    if isinstance(planned, int) and not isinstance(planned, bool) and planned >= 0:
        info.cells_planned = planned
    info.evaluation = Evaluation.from_dict(data.get("evaluation"))
    cells = data.get("cells")
    for name, entry in (cells.items() if isinstance(cells, dict) else ()):
        if not isinstance(entry, dict):
            continue
        info.entries[str(name)] = entry
        attempts, error = entry.get("attempts"), entry.get("error")
        if isinstance(attempts, int) and not isinstance(attempts, bool):
            info.attempts[str(name)] = attempts
        if isinstance(error, str) and error:
            info.errors[str(name)] = error
    return info


def cell_state(info: StudyInfo, cell: RunSummary) -> str:
    """The state of the study `info`'s cell `cell` (`dvae_cli.study.state.folder_state`), as
    ``dvae study status`` names it; never raises."""
    try:
        return folder_state(cell.path, info.evaluation, info.entries.get(cell.name.removeprefix(info.prefix))).state
    except (OSError, DvaeError):   # a file gone or rewritten while read: the next poll reads it again
        return "left" if cell.spec is None else "interrupted"


def count_states(states: Iterable[str], planned: int | None) -> dict[str, int]:
    """Cells per state in `dvae_cli.study.state.STATES` (then any other), with the planned cells not started yet (``left``)."""
    counts = Counter(states)
    total = sum(counts.values())
    if planned is not None and planned > total:
        counts["left"] += planned - total
    order = {state: i for i, state in enumerate(STATES)}
    return dict(sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def study_states(info: StudyInfo, cells: Iterable[RunSummary]) -> dict[str, int]:
    """The cells of the study `info` counted by state (`count_states`), as ``dvae study status`` counts them.

    Args:
        info: The study, as the scan read its ``study.json``.
        cells: Its cells the run list holds (their run keys and folders).

    Returns:
        Cells per state: each run folder's (`cell_state`), each cell of ``study.json`` with
        no run folder yet (failed before it was made, or starting), and the planned cells
        not started (``left``).
    """
    cells = list(cells)
    present = {cell.name.removeprefix(info.prefix) for cell in cells}
    states = [cell_state(info, cell) for cell in cells]
    for name, entry in info.entries.items():
        if name not in present:
            try:
                state = folder_state(info.path / name, info.evaluation, entry).state
            except (OSError, DvaeError):
                continue
            states += [state] if state != "left" else []   # the left ones: counted from cells_planned
    return count_states(states, info.cells_planned)


def count_studies(studies: Iterable[tuple[StudyInfo, list[RunSummary]]],
                  cancelled: Callable[[], bool] = lambda: False) -> dict[str, dict[str, int]] | None:
    """`study_states` of each study and its cells, by the study's row key; never raises.

    Args:
        studies: Each study and its cells the run list holds.
        cancelled: Polled between studies: when it returns True, the count stops (None).

    Returns:
        The cells per state of each study (a study whose folder could not be read is left out).
    """
    states: dict[str, dict[str, int]] = {}
    for info, cells in studies:
        if cancelled():
            return None
        try:
            states[info.key] = study_states(info, cells)
        except Exception:  # noqa: BLE001 - a folder changing while read: the next poll counts it again
            continue
    return states


def states_text(states: dict[str, int]) -> str:
    """``1 done, 1 trained``: cells per state, in the words and order of ``dvae study status``'s title."""
    return ", ".join(f"{count} {state}" for state, count in states.items() if count) or "no cells"


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
    details = StudyDetails(info, cells=sorted(cell.name for cell in cells), states=study_states(info, cells))
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
