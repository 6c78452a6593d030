"""The local executor: N cells at once, each in a process of its own, with one view of the whole study.

Each cell runs as ``dvae study cell`` (`dvae_cli.study.cell.run_cell`) with its output
in ``<study>/.study/logs/<cell>.log``. The CPU threads are split between the N processes
(``OMP_NUM_THREADS``), and the GPUs, when there are any, dealt out one per process. A
cell that fails is retried once, then reported. SIGINT or SIGTERM to this process is
passed on to every cell, which saves its training state and stops; the executor then
waits for them and exits, and the same command continues the study later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType

from dvae_cli.runs.study_layout import cell_log_path
from dvae_cli.study.plan import Cell, StudyPlan
from dvae_cli.study.state import (
    MAX_ATTEMPTS,
    StudyRecord,
    cell_status,
    study_dir,
)

if TYPE_CHECKING:
    from rich.live import Live

#: The exit codes of a cell that stopped on a signal (not an attempt that failed).
SIGNAL_EXITS = (130, 143, -int(signal.SIGTERM), -int(signal.SIGINT))
POLL_SECONDS = 0.25


@dataclass
class Worker:
    cell: Cell
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    slot: int


@dataclass
class Progress:
    """Counts of the cells this run of the executor sees, and the durations of those it finished."""

    total: int
    done: int = 0
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    durations: list[float] = field(default_factory=list)


def log_path(plan: StudyPlan, results_dir: Path, cell: Cell) -> Path:
    """Where the output of `cell`'s processes goes (appended, one header per attempt)."""
    return cell_log_path(study_dir(plan, results_dir), cell.name)


def last_line(path: Path, prefix: str = "") -> str:
    """The last non-empty line of a log (starting with `prefix` if given), read from its end."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            lines = handle.read().decode("utf-8", "replace").replace("\r", "\n").splitlines()
    except OSError:
        return ""
    found = [line.strip() for line in lines if line.strip() and line.strip().startswith(prefix)]
    return found[-1] if found else ""


class LocalExecutor:
    """Runs the cells of `plan` that are not done, `jobs` at a time (see the module docstring).

    Args:
        plan: The study.
        origin: How the cells' processes name the study (its file or shipped name).
        results_dir, data_dir: As for ``dvae train``.
        jobs: Cells at once.
        device: ``auto``, ``cpu`` or ``cuda``.
        console: Where the view goes.
        log_every: Seconds between summary lines when the output is not a terminal.
    """

    def __init__(self, plan: StudyPlan, origin: str, results_dir: Path, data_dir: Path, jobs: int = 1,
                 device: str = "auto", console: Console | None = None, log_every: float = 60.0) -> None:
        self.plan, self.origin, self.jobs, self.device = plan, origin, max(1, jobs), device
        self.results_dir, self.data_dir = Path(results_dir), Path(data_dir)
        self.console = console or Console()
        self.log_every = log_every
        self.record = StudyRecord(study_dir(plan, results_dir))
        self.stop_signal: int | None = None
        self.workers: list[Worker] = []

    def run(self, queue: list[Cell]) -> int:
        """Run `queue` to its end (or to a stop signal); return the exit code (0: every cell done)."""
        from dvae_cli.engine.device import available_cpus

        self.record.save(self.plan)
        threads = max(1, available_cpus() // self.jobs)
        gpus = self._gpus()
        progress = Progress(total=len(queue))
        pending = list(queue)
        stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)   # Ctrl-C, kill, a closed terminal or ssh
        previous = {sig: signal.signal(sig, self._on_signal) for sig in stops}
        last_summary, last_text = time.monotonic(), ""
        try:
            with self._view(progress) as refresh:
                while pending or self.workers:
                    while pending and len(self.workers) < self.jobs and self.stop_signal is None:
                        self._start(pending.pop(0), threads, gpus)
                    for worker in list(self.workers):
                        code = worker.process.poll()
                        if code is not None:
                            self.workers.remove(worker)
                            self._finished(worker, code, pending, progress)
                    if self.stop_signal is not None:
                        pending.clear()
                    refresh()
                    since = time.monotonic() - last_summary
                    text = self._summary(progress, len(pending))
                    if not self.console.is_terminal and since >= self.log_every and (
                            text != last_text or since >= 10 * self.log_every):   # news, or a sign of life
                        self.console.print(text, markup=False)
                        last_summary, last_text = time.monotonic(), text
                    if self.workers:
                        self._wait_any()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.console.print(self._summary(progress, 0), markup=False)
        if self.stop_signal is not None:
            return 128 + self.stop_signal
        return 0 if progress.failed == 0 else 1

    # ------------------------------------------------------------------ processes

    def _start(self, cell: Cell, threads: int, gpus: list[str]) -> None:
        slot = min(set(range(self.jobs)) - {w.slot for w in self.workers})
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "PYTHONUNBUFFERED": "1", "COLUMNS": "160"}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        path = log_path(self.plan, self.results_dir, cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "dvae_cli", "study", "cell", self.origin, cell.name,
                   "--results-dir", str(self.results_dir), "--data-dir", str(self.data_dir), "--device", self.device]
        with open(path, "ab") as handle:
            failures = self.record.attempts(cell.name)
            handle.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} started, {threads} threads"
                         f"{f', after {failures} failed attempt' if failures else ''}\n".encode())
            handle.flush()
            process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                                       start_new_session=True)   # our signals reach it only through us
        entry = self.record.cell(cell.name)
        entry.update({"pid": process.pid, "host": _host(), "log": str(path)})
        self.record.save(self.plan)
        self.workers.append(Worker(cell, process, path, time.monotonic(), slot))
        if not self.console.is_terminal:
            self.console.print(f"started {cell.name} ({threads} threads)", markup=False)

    def _finished(self, worker: Worker, code: int, pending: list[Cell], progress: Progress) -> None:
        cell = worker.cell
        entry = self.record.cell(cell.name)
        entry.pop("pid", None)
        seconds = time.monotonic() - worker.started
        state = cell_status(self.plan, cell, self.results_dir).state
        if code == 0 and state == "done":
            entry.pop("error", None)
            progress.done += 1
            progress.durations.append(seconds)
            message = f"done {cell.name} in {_duration(seconds)}"
        elif self.stop_signal is not None and (code in SIGNAL_EXITS or state == "interrupted"):
            message = f"stopped {cell.name} ({state}): the same command continues it"
        else:
            error = last_line(worker.log, "error:") or last_line(worker.log) or f"exit code {code}"
            entry["attempts"] = int(entry.get("attempts", 0)) + 1
            entry["error"] = error
            if entry["attempts"] < MAX_ATTEMPTS and self.stop_signal is None:
                pending.append(cell)
                message = f"failed {cell.name} ({error}); retrying once"
            else:
                progress.failed += 1
                message = f"failed {cell.name} ({error}); see {worker.log}"
        self.record.save(self.plan)
        self.console.print(message, markup=False, style="red" if message.startswith("failed") else None)

    def _on_signal(self, signum: int, frame: object) -> None:
        first = self.stop_signal is None
        self.stop_signal = self.stop_signal or signum
        passed = signum if first and signum != signal.SIGHUP else signal.SIGTERM if first else signal.SIGINT
        for worker in self.workers:   # each cell saves its state and stops (a second signal aborts it)
            try:
                worker.process.send_signal(passed)
            except ProcessLookupError:
                pass

    def _wait_any(self) -> None:
        try:
            self.workers[0].process.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass

    def _gpus(self) -> list[str]:
        if self.device == "cpu":
            return []
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            return [gpu for gpu in visible.split(",") if gpu.strip()]
        import torch

        return [str(k) for k in range(torch.cuda.device_count())] if torch.cuda.is_available() else []

    # ------------------------------------------------------------------ view

    def _summary(self, progress: Progress, left: int) -> str:
        running = len(self.workers)
        eta = ""
        if progress.durations and (left or running):
            mean = sum(progress.durations) / len(progress.durations)
            eta = f", about {_duration(mean * (left + running / 2) / self.jobs)} left"
        return (f"study {self.plan.name}: {progress.done} done, {running} running, {progress.failed} failed, "
                f"{left} left of {progress.total}{eta}")

    def _view(self, progress: Progress) -> _View:
        return _View(self, progress)


class _View:
    """A live table (on a terminal): the study's counts and ETA, and each running cell's last line."""

    def __init__(self, executor: LocalExecutor, progress: Progress) -> None:
        self.executor, self.progress = executor, progress
        self.live: Live | None = None

    def __enter__(self) -> Callable[[], None]:
        if self.executor.console.is_terminal:
            from rich.live import Live

            self.live = Live(self._render(), console=self.executor.console, refresh_per_second=2, transient=True)
            self.live.__enter__()
        return self.refresh

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def refresh(self) -> None:
        if self.live is not None:
            self.live.update(self._render())

    def _render(self) -> RenderableType:
        from rich.table import Table

        executor = self.executor
        left = self.progress.total - self.progress.done - self.progress.failed - len(executor.workers)
        table = Table(title=executor._summary(self.progress, max(0, left)), show_header=True, expand=True)
        longest = max((len(worker.cell.name) for worker in executor.workers), default=4)
        table.add_column("cell", no_wrap=True, min_width=min(longest, 40))
        table.add_column("time", justify="right", no_wrap=True, min_width=7)
        table.add_column("last line", overflow="ellipsis", no_wrap=True, ratio=1)
        for worker in executor.workers:
            table.add_row(worker.cell.name, _duration(time.monotonic() - worker.started), last_line(worker.log))
        return table


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _host() -> str:
    import socket

    return socket.gethostname()
