"""Where each cell of a study stands, read from its run folder, and the study's own record (``study.json``).

A cell's state comes from its run folder, the contract every command shares, and
from ``study.json``; `folder_state` decides it, for ``dvae study`` and ``dvae browse``
alike (`STATES`):

- ``left``: no run yet (no ``specs.json``);
- ``running``: a live process holds its training lock (or the study's record says a
  live process of this machine works on it);
- ``interrupted``: its training stopped on a signal: a rerun resumes it;
- ``extend``: finished, and the study now asks for more epochs: a rerun resumes it to them
  (and scores it again);
- ``trained``: trained, its evaluation (metrics, UDR codes) not complete;
- ``done``: trained and evaluated;
- ``failed``: diverged, crashed or could not start, and already retried (`MAX_ATTEMPTS`):
  reported, run again only with ``--retry-failed``;
- ``retry``: failed once: a rerun tries again;
- ``conflict``: the folder holds a run of other parameters than the study asks
  (the study file changed): left untouched and reported.

``extend`` and ``conflict`` need the spec the study asks for, which only a reader of the
study file knows; ``trained`` needs the study's evaluation plan (`Evaluation`), which
``study.json`` records each time the study runs, so that a reader without the study file
(``dvae browse``) tells ``trained`` from ``done``.

``<results>/<study>/study.json`` (`dvae_cli.runs.study_layout`) records each cell's
attempts, its last error and, for Slurm, its job. Standard library only.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvae_cli.errors import DvaeError
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import (
    METRICS_LOG,
    MODEL,
    SPECS,
    TRAINING_LOCK,
    TRAINING_STATE,
)
from dvae_cli.runs.outcome import read_outcome
from dvae_cli.runs.study_layout import (
    UDR_CODES,
    study_record_path,
)
from dvae_cli.study.plan import Cell, StudyPlan

__all__ = ["MAX_ATTEMPTS", "STATES", "CellState", "CellStatus", "Evaluation",
           "StudyRecord", "cell_status", "folder_state", "has_checkpoint", "missing_evaluation", "spec_conflict",
           "study_dir"]

MAX_ATTEMPTS = 2
#: Every state of a cell, in the order tables and counts list them.
STATES = ("done", "running", "trained", "extend", "interrupted", "retry", "left", "failed", "conflict")
#: What `missing_evaluation` lists for the UDR codes.
UDR_MISSING = "udr codes"


@dataclass(frozen=True)
class Evaluation:
    """What a study computes of each trained cell: the study file's evaluation keys, as ``study.json`` holds them.

    Attributes:
        metrics: The metrics scored (``dvae eval --metric``); empty: none.
        fast_metrics: With ``dvae eval --fast``'s protocol.
        max_images: ``dvae eval --max-images`` (None: the protocol's).
        plots: The ``dvae plot`` figures drawn (not needed for ``done``).
        udr: Whether each cell keeps its codes of the shared sample for UDR.
    """

    metrics: tuple[str, ...] = ()
    fast_metrics: bool = True
    max_images: int | None = None
    plots: tuple[str, ...] = ()
    udr: bool = True

    @classmethod
    def of(cls, plan: StudyPlan) -> Evaluation:
        """The evaluation plan of a study file."""
        return cls(tuple(plan.metrics), plan.fast_metrics, plan.max_images, tuple(plan.plots), plan.udr)

    def to_dict(self) -> dict[str, Any]:
        """What ``study.json`` records under ``evaluation``."""
        return {"metrics": list(self.metrics), "fast_metrics": self.fast_metrics, "max_images": self.max_images,
                "plots": list(self.plots), "udr": self.udr}

    @classmethod
    def from_dict(cls, data: Any) -> Evaluation | None:
        """The plan `to_dict` wrote, or None for anything else (a ``study.json`` of an older dvae has none)."""
        if not isinstance(data, dict):
            return None
        metrics, plots = _strings(data.get("metrics")), _strings(data.get("plots", []))
        fast, udr, images = data.get("fast_metrics", True), data.get("udr"), data.get("max_images")
        if metrics is None or plots is None or not isinstance(fast, bool) or not isinstance(udr, bool):
            return None
        if images is not None and (not isinstance(images, int) or isinstance(images, bool) or images <= 0):
            return None
        return cls(metrics, fast, images, plots, udr)


def _strings(value: Any) -> tuple[str, ...] | None:
    """`value` as a tuple if it is a list of strings, else None."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


@dataclass
class CellState:
    """A cell's state (see the module docstring), the epoch reached and why."""

    state: str
    epoch: int = 0
    detail: str = ""
    attempts: int = 0


@dataclass
class CellStatus:
    """One cell's state (see the module docstring), the epoch reached and why, for a table."""

    cell: Cell
    state: str
    epoch: int = 0
    detail: str = ""
    attempts: int = 0


class StudyRecord:
    """``study.json``: the attempts, last errors and jobs of a study's cells, and the study's evaluation plan
    (written atomically)."""

    def __init__(self, study_dir: Path) -> None:
        self.path = study_record_path(study_dir)
        self.data: dict[str, Any] = {"cells": {}}
        if self.path.is_file():
            try:
                loaded = read_json(self.path)
            except DvaeError:
                loaded = None
            if isinstance(loaded, dict) and isinstance(loaded.get("cells"), dict):
                self.data = loaded

    def cell(self, name: str) -> dict[str, Any]:
        entry = self.data["cells"].setdefault(name, {})
        if not isinstance(entry, dict):
            entry = self.data["cells"][name] = {}
        return entry

    def attempts(self, name: str) -> int:
        return entry_attempts(self.data["cells"].get(name))

    def evaluation(self) -> Evaluation | None:
        """The evaluation plan the study last ran with (None if ``study.json`` records none)."""
        return Evaluation.from_dict(self.data.get("evaluation"))

    def save(self, plan: StudyPlan | None = None) -> None:
        """Write ``study.json``; with `plan`, record the study's name, file, cell count and evaluation plan."""
        if plan is not None:
            self.data.update({"study": plan.name, "file": str(plan.source), "cells_planned": len(plan.cells),
                              "evaluation": Evaluation.of(plan).to_dict()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, self.data)


def entry_attempts(entry: Any) -> int:
    """The failed attempts a cell's entry of ``study.json`` counts (0 if none or not a count)."""
    value = entry.get("attempts", 0) if isinstance(entry, dict) else 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _entry_error(entry: Any) -> str:
    error = entry.get("error") if isinstance(entry, dict) else None
    return error if isinstance(error, str) else ""


def study_dir(plan: StudyPlan, results_dir: Path) -> Path:
    """The study's folder: its cells' run folders, ``study.json`` and the report."""
    return Path(results_dir) / plan.name


def cell_status(plan: StudyPlan, cell: Cell, results_dir: Path, record: StudyRecord | None = None,
                expected: dict[str, Any] | None = None) -> CellStatus:
    """The state of `cell` (see the module docstring), by `folder_state` with the study file's evaluation plan.

    Args:
        expected: The spec the study asks for (`RunSpec.to_dict`); a stored run whose
            parameters differ (beyond what a resumed run may change) is a ``conflict``.
    """
    entry = record.cell(cell.name) if record is not None else None
    found = folder_state(study_dir(plan, results_dir) / cell.name, Evaluation.of(plan), entry, expected)
    return CellStatus(cell, found.state, found.epoch, found.detail, found.attempts)


def folder_state(folder: Path, evaluation: Evaluation | None, entry: dict[str, Any] | None = None,
                 expected: dict[str, Any] | None = None) -> CellState:
    """The state of the study cell whose run folder is `folder` (see the module docstring).

    The one rule of both ``dvae study`` (which knows the study file) and ``dvae browse``
    (which knows ``study.json``). Never raises for a bad folder or entry.

    Args:
        folder: The cell's run folder (it need not exist).
        evaluation: The study's evaluation plan; None (a ``study.json`` of an older dvae):
            unknown, and a trained cell counts as ``done``.
        entry: The cell's entry of ``study.json`` (attempts, last error, worker), if any.
        expected: The spec the study asks for (`RunSpec.to_dict`); a stored run whose
            parameters differ (beyond what a resumed run may change) is a ``conflict``, one
            that asks for more epochs an ``extend``. None: neither is checked.
    """
    from dvae_cli.runs.training_lock import lock_alive

    folder = Path(folder)
    attempts, error = entry_attempts(entry), _entry_error(entry)
    lock = folder / TRAINING_LOCK
    if lock.is_file() and lock_alive(lock) or (isinstance(entry, dict) and _worker_alive(entry)):
        return CellState("running", attempts=attempts)
    if not (folder / SPECS).is_file():   # never started, or failed before its run began (data missing, ...)
        if attempts and error:
            return CellState("failed" if attempts >= MAX_ATTEMPTS else "retry", detail=error, attempts=attempts)
        return CellState("left", attempts=attempts)
    grow = 0
    if expected is not None:
        differs, grow = spec_conflict(folder, expected)
        if differs:
            return CellState("conflict", detail=differs, attempts=attempts)
    outcome = read_outcome(folder)
    if outcome is None:   # killed hard mid-training: resumable if a checkpoint is there
        return CellState("interrupted", detail="stopped without a record", attempts=attempts)
    epoch = outcome.epoch
    if outcome.state in ("diverged", "crashed"):
        state = "failed" if attempts >= MAX_ATTEMPTS else "retry"
        return CellState(state, epoch, f"{outcome.state} {outcome.reason()}", attempts)
    if outcome.state == "interrupted":
        return CellState("interrupted", epoch, outcome.reason(), attempts)
    if grow:
        return CellState("extend", epoch, f"the study now asks for {grow} epochs", attempts)
    missing = missing_evaluation(evaluation, folder) if evaluation is not None else []
    if missing:
        if attempts >= MAX_ATTEMPTS and error:
            return CellState("failed", epoch, error, attempts)
        return CellState("trained", epoch, "missing " + ", ".join(missing), attempts)
    return CellState("done", epoch, attempts=attempts)


def missing_evaluation(plan: StudyPlan | Evaluation, folder: Path) -> list[str]:
    """What the study's evaluation has not written in `folder` yet (metric names, ``udr codes``).

    Args:
        plan: The study, or its evaluation plan as ``study.json`` records it. A metric this
            process does not know (a plug-in not installed) is missing unless ``metrics.log``
            holds a score of its name.
    """
    from dvae_cli.catalogue.metrics import metric_info
    from dvae_cli.metrics.names import parse_metric_names

    missing: list[str] = []
    if plan.metrics:
        try:
            scores = read_json(folder / METRICS_LOG) if _newer_than_model(folder / METRICS_LOG) else {}
        except (DvaeError, OSError):   # unreadable, or removed since
            scores = {}
        try:
            names: tuple[str, ...] = parse_metric_names(",".join(plan.metrics))
        except DvaeError:
            names = tuple(plan.metrics)
        for name in names:
            try:
                keys: tuple[str, ...] = tuple(metric_info(name).scores)
            except DvaeError:
                keys = (name,)
            if not isinstance(scores, dict) or not all(key in scores for key in keys):
                missing.append(name)
    if plan.udr and not _newer_than_model(folder / UDR_CODES):
        missing.append(UDR_MISSING)
    return missing


def _newer_than_model(path: Path) -> bool:
    """Whether `path` exists and was written after the run's last model.pt (else it scores an older model)."""
    model = path.parent / MODEL
    try:
        return path.stat().st_mtime_ns >= (model.stat().st_mtime_ns if model.is_file() else 0)
    except OSError:
        return False


def spec_conflict(folder: Path, expected: dict[str, Any]) -> tuple[str, int]:
    """(the first parameter where the run in `folder` differs from `expected`, or "";
    the epochs to train it to when the study asks for more than it has, or 0)."""
    from dvae_cli.spec import RECORDED, study_free_keys  # what a study file may change: the spec's roles

    try:
        stored = read_json(folder / SPECS)
    except DvaeError as exc:
        return str(exc), 0
    if not isinstance(stored, dict):
        return f"{folder / SPECS} is not a JSON object", 0
    grow = 0
    ignored = {*study_free_keys(), *RECORDED}
    for key, value in expected.items():
        if key in ignored or key not in stored or stored[key] == value:
            continue
        if key == "epochs" and isinstance(value, int) and isinstance(stored[key], int) and value > stored[key]:
            grow = value
            continue
        return f"{key} is {stored[key]!r} in the run, {value!r} in the study", 0
    return "", grow


def has_checkpoint(folder: Path) -> bool:
    """Whether training can resume from `folder`."""
    return (Path(folder) / TRAINING_STATE).is_file()


def _worker_alive(entry: dict[str, Any]) -> bool:
    pid, host = entry.get("pid"), entry.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or host != socket.gethostname():
        return False
    from dvae_cli.runs.training_lock import process_alive

    return pid != os.getpid() and process_alive(pid)
