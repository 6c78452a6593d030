"""Watch a results directory and the study folders in it (no Textual).

`ResultsWatcher` polls the run folders of the results directory with a
`dvae_cli.runs.watch.RunWatcher`, as `dvae browse` always did, and each study folder
(`dvae_cli.tui.data.studies.is_study`) with a watcher of its own, whose runs are its
cells. A cell's run key is its path under the results directory (``mystudy/betaH-s1``);
a study's row key is its folder's path followed by ``/``. When the directory browsed is
itself a study folder, its runs are that study's cells and keep their own names.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dvae_cli.runs.study_layout import REPORT_DIR, STUDY_RECORD, SUMMARY_CSV
from dvae_cli.runs.summary import RunSummary
from dvae_cli.runs.watch import RunChanges, RunWatcher, quick_summary
from dvae_cli.tui.data.studies import StudyInfo, is_study, read_study_info

#: The group of the plain runs of the results directory.
PLAIN = ""


@dataclass
class ResultsChanges(RunChanges):
    """What one poll found: `RunChanges` of the runs (cells included), and of the studies.

    Attributes:
        studies: The studies that appeared or whose ``study.json`` or report changed.
        studies_removed: Row keys of the studies that disappeared.
        study_of: The study row key of each cell in ``changed``.
    """

    studies: list[StudyInfo] = field(default_factory=list)
    studies_removed: list[str] = field(default_factory=list)
    study_of: dict[str, str] = field(default_factory=dict)

    def found(self) -> bool:
        """Whether anything changed (a run or a study)."""
        return bool(self.changed or self.removed or self.studies or self.studies_removed)

    def merge(self, other: RunChanges) -> None:
        self.changed += other.changed
        self.removed += other.removed
        if isinstance(other, ResultsChanges):
            self.studies += other.studies
            self.studies_removed += other.studies_removed
            self.study_of.update(other.study_of)


@dataclass
class _Group:
    """The plain runs (`PLAIN`), or one study and its cells."""

    watcher: RunWatcher
    prefix: str
    #: The run keys it reported and did not report removed since.
    keys: set[str] = field(default_factory=set)
    stamp: tuple[object, ...] | None = None


class ResultsWatcher:
    """Remembers what it reported of `results_dir` and its studies, and reports the changes.

    Not thread-safe: poll from one thread at a time.
    """

    def __init__(self, results_dir: Path, summarize: Callable[[Path], RunSummary] = quick_summary) -> None:
        self.results_dir = Path(results_dir)
        self.summarize = summarize
        self._groups: dict[str, _Group] = {}

    def poll(self, force: bool = False, first: int = 0,
             cancelled: Callable[[], bool] = lambda: False) -> Iterator[ResultsChanges]:
        """Yield the changes since the last poll: all at once, or the `first` ones early.

        Args:
            force: Re-read every folder, changed or not.
            first: Yield after this many new run summaries, then once more with the rest
                (0: yield everything at the end).
            cancelled: Polled between folders; the scan stops when it returns True.
        """
        wanted = self._wanted()
        pending = ResultsChanges(complete=False)
        for key in [k for k in self._groups if k not in wanted]:
            group = self._groups.pop(key)
            pending.removed += sorted(group.keys)
            if key != PLAIN:
                pending.studies_removed.append(key)
        for key, (path, prefix) in wanted.items():
            if cancelled():
                return
            if key not in self._groups:
                self._groups[key] = _Group(RunWatcher(path, self.summarize), prefix)
            group = self._groups[key]
            if key != PLAIN:
                stamp = _study_stamp(path)
                if force or stamp != group.stamp:
                    group.stamp = stamp
                    pending.studies.append(read_study_info(path, key, prefix))
            for changes in group.watcher.poll(force=force, first=max(0, first - len(pending.changed)) if first else 0,
                                              cancelled=cancelled):
                pending.merge(self._named(key, group, changes))
                if first and len(pending.changed) >= first:
                    yield pending
                    pending, first = ResultsChanges(complete=False), 0
            if cancelled():
                return
        pending.complete = True
        yield pending

    def poll_all(self, force: bool = False) -> ResultsChanges:
        """`poll` as one result."""
        total = ResultsChanges()
        for changes in self.poll(force):
            total.merge(changes)
        return total

    def _wanted(self) -> dict[str, tuple[Path, str]]:
        """The groups to watch: row key -> (folder, prefix of its run keys)."""
        root = self.results_dir
        if is_study(root):
            return {f"{_folder_name(root)}/": (root, "")}
        wanted: dict[str, tuple[Path, str]] = {PLAIN: (root, "")}
        try:
            children = sorted(e.name for e in os.scandir(root) if not e.name.startswith(".") and e.is_dir())
        except OSError:
            children = []
        for name in children:
            if is_study(root / name):
                wanted[f"{name}/"] = (root / name, f"{name}/")
        return wanted

    def _named(self, key: str, group: _Group, changes: RunChanges) -> ResultsChanges:
        """`changes` of `group`, with run keys in place of folder names."""
        named = ResultsChanges(complete=changes.complete)
        for summary in changes.changed:
            if group.prefix:
                summary = dataclasses.replace(summary, name=group.prefix + summary.name)
            named.changed.append(summary)
            group.keys.add(summary.name)
            if key != PLAIN:
                named.study_of[summary.name] = key
        for name in changes.removed:
            named.removed.append(group.prefix + name)
            group.keys.discard(group.prefix + name)
        return named


def _study_stamp(path: Path) -> tuple[object, ...]:
    """What changes when ``study.json`` or the report changes."""
    return tuple(_file_stamp(p) for p in (path / STUDY_RECORD, path / REPORT_DIR, path / REPORT_DIR / SUMMARY_CSV))


def _file_stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _folder_name(path: Path) -> str:
    """The name of `path`, also for ``.`` or a path ending in ``..``."""
    return path.name or path.resolve().name or str(path)
