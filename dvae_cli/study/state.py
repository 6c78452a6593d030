"""Where each cell of a study stands, read from its run folder, and the study's own record (``study.json``).

A cell's state comes from its run folder, the contract every command shares:

- ``left``: no run yet (no ``specs.json``);
- ``running``: a live process holds its training lock (or the study's record says a
  live process of this machine works on it);
- ``interrupted``: its training stopped on a signal: a rerun resumes it;
- ``extend``: finished, and the study now asks for more epochs: a rerun resumes it to them
  (and scores it again);
- ``trained``: trained, its evaluation (metrics, plots, UDR codes) not complete;
- ``done``: trained and evaluated;
- ``failed``: diverged, crashed or could not start, and already retried (`MAX_ATTEMPTS`):
  reported, run again only with ``--retry-failed``;
- ``retry``: failed once: a rerun tries again;
- ``conflict``: the folder holds a run of other parameters than the study asks
  (the study file changed): left untouched and reported.

``<results>/<study>/study.json`` records each cell's attempts, its last error and, for
Slurm, its job. Standard library only.
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
from dvae_cli.study.plan import Cell, StudyPlan

STATE_FILE = "study.json"
#: Where the study keeps its logs and scheduler files, inside its folder.
WORK_DIR = ".study"
UDR_CODES = "udr_codes.npz"
MAX_ATTEMPTS = 2
STATES = ("done", "running", "trained", "extend", "interrupted", "retry", "left", "failed", "conflict")
#: specs.json keys that do not change the model trained (a study file may change them freely).
FREE_KEYS = ("no_progress_bar", "log_level", "device", "no_cuda", "eval_batchsize", "compile", "tracker",
             "checkpoint_every", "no_test", "is_metrics", "is_eval_only", "experiment")


@dataclass
class CellStatus:
    """One cell's state (see the module docstring), the epoch reached and why, for a table."""

    cell: Cell
    state: str
    epoch: int = 0
    detail: str = ""
    attempts: int = 0


class StudyRecord:
    """``study.json``: the attempts, last errors and jobs of a study's cells (written atomically)."""

    def __init__(self, study_dir: Path) -> None:
        self.path = Path(study_dir) / STATE_FILE
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
        return entry if isinstance(entry, dict) else self.data["cells"].setdefault(name, {})

    def attempts(self, name: str) -> int:
        value = self.data["cells"].get(name, {}).get("attempts", 0)
        return value if isinstance(value, int) else 0

    def save(self, plan: StudyPlan | None = None) -> None:
        if plan is not None:
            self.data.update({"study": plan.name, "file": str(plan.source), "cells_planned": len(plan.cells)})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_json(self.path, self.data)


def study_dir(plan: StudyPlan, results_dir: Path) -> Path:
    """The study's folder: its cells' run folders, ``study.json`` and the report."""
    return Path(results_dir) / plan.name


def cell_status(plan: StudyPlan, cell: Cell, results_dir: Path, record: StudyRecord | None = None,
                expected: dict[str, Any] | None = None) -> CellStatus:
    """The state of `cell` (see the module docstring).

    Args:
        expected: The spec the study asks for (`RunSpec.to_dict`); a stored run whose
            parameters differ (beyond what a resumed run may change) is a ``conflict``.
    """
    from dvae_cli.runs.summary import lock_alive

    folder = study_dir(plan, results_dir) / cell.name
    attempts = record.attempts(cell.name) if record is not None else 0
    lock = folder / TRAINING_LOCK
    if lock.is_file() and lock_alive(lock) or (record is not None and _worker_alive(record.cell(cell.name))):
        return CellStatus(cell, "running", attempts=attempts)
    if not (folder / SPECS).is_file():   # never started, or failed before its run began (data missing, ...)
        error = (record.cell(cell.name).get("error") if record is not None else "") or ""
        if attempts and error:
            return CellStatus(cell, "failed" if attempts >= MAX_ATTEMPTS else "retry", detail=error,
                              attempts=attempts)
        return CellStatus(cell, "left", attempts=attempts)
    grow = 0
    if expected is not None:
        differs, grow = spec_conflict(folder, expected)
        if differs:
            return CellStatus(cell, "conflict", detail=differs, attempts=attempts)
    outcome = read_outcome(folder)
    epoch = outcome.epoch if outcome else 0
    if outcome is None:   # killed hard mid-training: resumable if a checkpoint is there
        return CellStatus(cell, "interrupted", detail="stopped without a record", attempts=attempts)
    if outcome.state in ("diverged", "crashed"):
        state = "failed" if attempts >= MAX_ATTEMPTS else "retry"
        return CellStatus(cell, state, epoch, f"{outcome.state} {outcome.reason()}", attempts)
    if outcome.state == "interrupted":
        return CellStatus(cell, "interrupted", epoch, outcome.reason(), attempts)
    if grow:
        return CellStatus(cell, "extend", epoch, f"the study now asks for {grow} epochs", attempts)
    missing = missing_evaluation(plan, folder)
    if missing:
        last = (record.cell(cell.name).get("error") if record is not None else "") or ""
        if attempts >= MAX_ATTEMPTS and last:
            return CellStatus(cell, "failed", epoch, last, attempts)
        return CellStatus(cell, "trained", epoch, "missing " + ", ".join(missing), attempts)
    return CellStatus(cell, "done", epoch, attempts=attempts)


def missing_evaluation(plan: StudyPlan, folder: Path) -> list[str]:
    """What the study's evaluation has not written in `folder` yet (metric names, ``udr codes``)."""
    from dvae_cli.metrics.names import parse_metric_names

    missing: list[str] = []
    if plan.metrics:
        try:
            scores = read_json(folder / METRICS_LOG) if _newer_than_model(folder / METRICS_LOG) else {}
        except DvaeError:
            scores = {}
        from dvae_cli.catalogue.metrics import metric_info

        for name in parse_metric_names(",".join(plan.metrics)):
            keys = metric_info(name).scores
            if not isinstance(scores, dict) or not all(key in scores for key in keys):
                missing.append(name)
    if plan.udr and not _newer_than_model(folder / UDR_CODES):
        missing.append("udr codes")
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
    from dvae_cli.spec import RECORDED

    try:
        stored = read_json(folder / SPECS)
    except DvaeError as exc:
        return str(exc), 0
    if not isinstance(stored, dict):
        return f"{folder / SPECS} is not a JSON object", 0
    grow = 0
    for key, value in expected.items():
        if key in FREE_KEYS or key in RECORDED or key not in stored or stored[key] == value:
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
    from dvae_cli.runs.summary import process_alive

    return pid != os.getpid() and process_alive(pid)
