"""Watch a results directory cheaply: list every run at once, re-read only what changed.

`quick_summary` is `summarize_run` without the full loss history: it reads the spec,
the small JSON files and only the tail of ``train_losses.log`` (its last epoch), so
listing 200 runs takes a fraction of a second. `RunWatcher.poll` stats each run
folder (the folder itself, its train log and its training lock) and re-summarises
only the folders whose stamp changed, plus those marked as training (their status
also depends on whether the training process is still alive).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dvae_cli.errors import CorruptFileError
from dvae_cli.runs.layout import METRICS_LOG, MODEL, SCORED, SPECS, TEST_LOG, TRAIN_LOG, TRAINING_LOCK
from dvae_cli.runs.logs import TRAIN_LOG_HEADER, LossHistory
from dvae_cli.runs.summary import RunSummary, summarize_run

#: Bytes read from the end of a train log to find its last epoch (doubled until enough).
TAIL_BYTES = 16_384
#: (mtime_ns, size) of a file, or None when it is missing.
FileStamp = tuple[int, int] | None


def read_last_epoch(path: Path) -> LossHistory:
    """The rows of the last complete epoch of a ``train_losses.log``, as a history.

    Only the header line and the end of the file are read. A last row cut short by a
    writer that is still running is ignored, as `read_train_log` does.

    Raises:
        CorruptFileError: if the header or a row of the tail is not in the log format.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            header = handle.readline().decode("utf-8", errors="replace")
            size = handle.seek(0, os.SEEK_END)
            if tuple(part.strip() for part in header.split(",")) != TRAIN_LOG_HEADER:
                raise CorruptFileError(f"{path}: expected the header 'Epoch,Loss,Value'")
            start_of_rows = len(header.encode("utf-8"))
            chunk = TAIL_BYTES
            while True:
                start = max(start_of_rows, size - chunk)
                handle.seek(start)
                rows = _last_epoch_rows(path, handle.read(size - start).decode("utf-8", errors="replace"),
                                        whole=start == start_of_rows)
                if rows is not None:
                    return rows
                chunk *= 4
    except OSError as exc:
        raise CorruptFileError(f"cannot read {path}: {exc.strerror or exc}") from None


def _last_epoch_rows(path: Path, text: str, whole: bool) -> LossHistory | None:
    """The last epoch's rows of `text` (None if `text` may not hold all of them)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        lines.pop()  # a row being written right now
    if not whole and lines:
        lines.pop(0)  # may start in the middle of a row
    rows: list[tuple[int, str, float]] = []
    last_epoch: int | None = None
    for line in reversed(lines):
        if not line.strip():
            continue
        parts = line.rstrip("\r").split(",")
        try:
            if len(parts) != 3 or not parts[1]:
                raise ValueError
            epoch, term, value = int(parts[0]), parts[1], float(parts[2])
        except ValueError:
            raise CorruptFileError(f"{path}: a row is not 'epoch,term,value': {line!r}") from None
        if last_epoch is None:
            last_epoch = epoch
        if epoch != last_epoch:
            break
        rows.append((epoch, term, value))
    else:
        if not whole:
            return None  # the epoch may begin before this chunk
    history: LossHistory = {}
    for epoch, term, value in reversed(rows):
        history.setdefault(term, []).append((epoch, value))
    return history


def quick_summary(path: Path) -> RunSummary:
    """`summarize_run` without the full history; never raises for a bad folder.

    ``history`` holds only the last logged epoch; ``last_train``, ``epochs_done``,
    ``kl_per_latent`` and ``status`` are the same as `summarize_run`'s.
    """
    return summarize_run(path, read_history=read_last_epoch)


@dataclass
class RunChanges:
    """What one poll found.

    Attributes:
        changed: New summaries of the runs that appeared or changed.
        removed: Names of the runs that disappeared.
        complete: Whether every run folder has been looked at (False for all but the
            last batch of a poll).
    """

    changed: list[RunSummary] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    complete: bool = True


@dataclass
class RunWatcher:
    """Remembers a stamp per run folder of `results_dir` and reports the changes.

    Not thread-safe: poll from one thread at a time.
    """

    results_dir: Path
    summarize: Callable[[Path], RunSummary] = quick_summary
    _stamps: dict[str, tuple[object, ...]] = field(default_factory=dict)
    _training: set[str] = field(default_factory=set)

    def poll(self, force: bool = False, first: int = 0,
             cancelled: Callable[[], bool] = lambda: False) -> Iterator[RunChanges]:
        """Yield the changes since the last poll: all at once, or the `first` ones early.

        Args:
            force: Re-read every folder, changed or not.
            first: Yield after this many new summaries, then once more with the rest, so
                that a first scan shows early (0: yield everything at the end).
            cancelled: Polled between folders; the scan stops when it returns True.
        """
        try:
            children = sorted(e.name for e in os.scandir(self.results_dir)
                              if not e.name.startswith(".") and e.is_dir())
        except OSError:
            children = []
        changes = RunChanges(complete=False)
        seen = set()
        for name in children:
            if cancelled():
                return
            stamp = _stamp(Path(self.results_dir) / name)
            if stamp is None:
                continue
            seen.add(name)
            if not force and self._stamps.get(name) == stamp and name not in self._training:
                continue
            summary = self._summarize(Path(self.results_dir) / name)
            self._stamps[name] = stamp
            if summary.status == "training":
                self._training.add(name)
            else:
                self._training.discard(name)
            changes.changed.append(summary)
            if first and len(changes.changed) == first:
                yield changes
                changes = RunChanges(complete=False)
                first = 0
        for name in sorted(set(self._stamps) - seen):
            del self._stamps[name]
            self._training.discard(name)
            changes.removed.append(name)
        changes.complete = True
        yield changes

    def _summarize(self, path: Path) -> RunSummary:
        """`summarize`, with any unexpected error turned into a broken run (a watcher never stops)."""
        try:
            return self.summarize(path)
        except Exception as exc:  # noqa: BLE001 - a reader bug must not end the poll
            return RunSummary(name=path.name, path=path, reason=f"cannot read the folder: {exc!r}")

    def poll_all(self, force: bool = False) -> RunChanges:
        """`poll` as one result."""
        total = RunChanges()
        for changes in self.poll(force):
            total.changed += changes.changed
            total.removed += changes.removed
        return total


def _stamp(path: Path) -> tuple[object, ...] | None:
    """What changes when a run folder changes (None if `path` does not look like a run)."""
    try:
        own = path.stat().st_mtime_ns
    except OSError:
        return None
    names = (SPECS, MODEL, TRAIN_LOG, TRAINING_LOCK, SCORED, TEST_LOG, METRICS_LOG)
    files = tuple(_file_stamp(path / name) for name in names)
    if all(stamp is None for stamp in files[:5]):   # neither a run (`RUN_MARKERS`) nor a scored folder
        return None
    return (own, *files)


def _file_stamp(path: Path) -> FileStamp:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


