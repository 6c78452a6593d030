"""The list of runs: name, dataset, loss, epochs and status, sortable, filterable, markable.

A study folder (``dvae study``) is one row, its cells indented below it in the same order
as the other runs; the filter and the sort apply to the cells within their study. A study's
row counts its cells by state as ``dvae study status`` does (``1 done, 1 trained``): the
screen counts them in a worker after each poll and hands the counts to `show_study_states`.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable

from dvae_cli.runs.summary import RunSummary
from dvae_cli.runs.watch import RunChanges
from dvae_cli.tui.data.results_watcher import ResultsChanges
from dvae_cli.tui.data.studies import StudyInfo, states_text

#: Sort orders, cycled with `s`; the columns of the same names sort when clicked.
SORTS = ("name", "dataset", "loss", "epochs", "status", "updated")
#: Status and epochs come first so that they stay in view when the terminal is narrow.
COLUMNS = (("mark", " "), ("name", "run"), ("status", "status"), ("epochs", "epochs"), ("dataset", "dataset"),
           ("loss", "loss"))
STATUS_STYLES = {"finished": "green", "training": "bold yellow", "interrupted": "dark_orange", "diverged": "bold red",
                 "crashed": "bold red", "broken": "bold red", "scored": "cyan"}
#: The style of each state of a study's cells (`dvae_cli.study.state.STATES`), in the runs' colours.
STATE_STYLES = {"done": "bold green", "running": STATUS_STYLES["training"], "trained": STATUS_STYLES["finished"],
                "extend": "cyan", "interrupted": STATUS_STYLES["interrupted"], "retry": "yellow", "left": "dim",
                "failed": "bold red", "conflict": "bold red"}
#: Status order when sorting by status: what needs attention first.
STATUS_ORDER = {"training": 0, "interrupted": 1, "diverged": 2, "crashed": 3, "broken": 4, "finished": 5, "scored": 6}
NAME_WIDTH = 28
MARK = "●"


class RunTable(DataTable[Text]):
    """Every run of the results directory, one row each (the row key is the run key), and a
    row per study (its key ends in ``/``) followed by its cells."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self.runs: dict[str, RunSummary] = {}
        self.studies: dict[str, StudyInfo] = {}
        #: The study row key of each cell.
        self.study_of: dict[str, str] = {}
        #: Each study's cells per state (`dvae_cli.tui.data.studies.study_states`), by its row key,
        #: from the screen's last count (none yet: the row says so).
        self.study_states: dict[str, dict[str, int]] = {}
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_key = "name"
        self.sort_reverse = False
        self._shown: list[str] = []
        self._index: dict[str, int] = {}

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def shown(self) -> list[str]:
        """The keys of the rows on screen (runs and studies), in order."""
        return list(self._shown)

    @property
    def shown_runs(self) -> list[str]:
        """The names of the runs on screen (not the study rows), in order."""
        return [key for key in self._shown if key in self.runs]

    @property
    def selected_key(self) -> str | None:
        """The key of the row under the cursor (a run's or a study's)."""
        if not self._shown or not 0 <= self.cursor_row < len(self._shown):
            return None
        return self._shown[self.cursor_row]

    @property
    def selected(self) -> RunSummary | None:
        """The run under the cursor (None on a study's row)."""
        key = self.selected_key
        return None if key is None else self.runs.get(key)

    @property
    def selected_study(self) -> StudyInfo | None:
        """The study under the cursor."""
        key = self.selected_key
        return None if key is None else self.studies.get(key)

    def cells(self, study: str) -> list[RunSummary]:
        """The runs of the study `study` (its row key), by name."""
        return sorted((run for name, run in self.runs.items() if self.study_of.get(name) == study),
                      key=lambda run: run.name)

    def apply_changes(self, changes: RunChanges) -> None:
        """Take in the runs (and studies) a poll found new, changed or gone."""
        changed = {summary.name for summary in changes.changed}
        for name in changes.removed:
            self.runs.pop(name, None)
            self.marked.discard(name)
            changed.add(self.study_of.pop(name, ""))
        if isinstance(changes, ResultsChanges):
            for key in changes.studies_removed:
                self.studies.pop(key, None)
                self.study_states.pop(key, None)
            for info in changes.studies:
                self.studies[info.key] = info
                changed.add(info.key)
            self.study_of.update(changes.study_of)
        for summary in changes.changed:
            self.runs[summary.name] = summary
            changed.add(self.study_of.get(summary.name, ""))
        self._rebuild(changed - {""})

    def show_study_states(self, states: dict[str, dict[str, int]]) -> None:
        """Take in the cells per state of the studies counted (by row key), and redraw the rows that changed."""
        for key, counts in states.items():
            if key not in self.studies or self.study_states.get(key) == counts:
                continue
            self.study_states[key] = counts
            if key in self._index:
                self.update_cell(key, "status", self._study_cells(self.studies[key])[2], update_width=True)

    def set_filter(self, text: str) -> None:
        """Show only the runs whose name, dataset or loss contain every word of `text` (and their studies)."""
        self.filter_text = text
        self._rebuild(set())

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort by one of `SORTS` (a second request for the same key reverses the order)."""
        if reverse is None:
            reverse = not self.sort_reverse if key == self.sort_key else False
        self.sort_key, self.sort_reverse = key, reverse
        self._rebuild(set())

    def cycle_sort(self) -> None:
        """The next order of `SORTS`."""
        self.sort_by(SORTS[(SORTS.index(self.sort_key) + 1) % len(SORTS)], reverse=False)

    def toggle_mark(self) -> str | None:
        """Mark or unmark the run under the cursor, or every cell shown of the study under it; returns its key."""
        key = self.selected_key
        if key is None:
            return None
        if key in self.studies:
            cells = [name for name in self._shown if self.study_of.get(name) == key]
            if not cells:
                return key
            if all(name in self.marked for name in cells):
                self.marked.difference_update(cells)
            else:
                self.marked.update(cells)
            touched = [*cells, key]
        else:
            self.marked.symmetric_difference_update({key})
            touched = [key] + ([self.study_of[key]] if self.study_of.get(key) in self._index else [])
        for name in touched:
            self.update_cell(name, "mark", self._cells(name)[0])
        return key

    def select(self, name: str) -> None:
        """Move the cursor to the run or study `name` (if shown)."""
        if name in self._index:
            self.move_cursor(row=self._index[name])

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key in SORTS:
            self.sort_by(key)

    def _visible(self) -> list[str]:
        words = self.filter_text.lower().split()

        def matches(*fields: str) -> bool:
            return all(any(word in field.lower() for field in fields) for word in words)

        runs = [run for run in self.runs.values() if matches(run.name, run.dataset, run.loss)]
        members: dict[str, list[RunSummary]] = {}
        plain = []
        for run in runs:
            study = self.study_of.get(run.name)
            if study in self.studies:
                members.setdefault(study, []).append(run)
            else:
                plain.append(run)
        studies = sorted((s for s in self.studies.values() if s.key in members or matches(s.name, s.study)),
                         key=lambda s: s.name)
        if self.sort_key == "name":
            named = [(run.name, run.name) for run in plain] + [(s.name, s.key) for s in studies]
            top = [key for _, key in sorted(named, reverse=self.sort_reverse)]
        else:
            top = self._ordered(plain) + [s.key for s in studies]
        shown = []
        for key in top:
            shown.append(key)
            if key in self.studies:
                shown += self._ordered(members.get(key, []))
        return shown

    def _ordered(self, runs: list[RunSummary]) -> list[str]:
        """The names of `runs` in the order chosen."""
        runs = sorted(runs, key=lambda run: run.name)
        if self.sort_key != "name":
            runs.sort(key=_SORT_KEYS[self.sort_key])
        if self.sort_reverse:
            runs.reverse()
        return [run.name for run in runs]

    def _rebuild(self, changed: set[str]) -> None:
        shown = self._visible()
        current = self.selected_key
        if shown == self._shown:
            for name in changed & set(shown):
                for (key, _), cell in zip(COLUMNS, self._cells(name), strict=True):
                    self.update_cell(name, key, cell)
            return
        old, self._shown = self._shown, shown
        self._index = {name: i for i, name in enumerate(shown)}
        with self.app.batch_update():
            if shown[:len(old)] == old and not changed & set(old):
                start = len(old)   # only new rows at the end (a first scan, in name order)
                if old and old[-1] in self.study_of:   # the cell that was last of its study may be no more
                    self.update_cell(old[-1], "name", self._cells(old[-1])[1])
            else:
                start = 0
                self.clear()
            for name in shown[start:]:
                self.add_row(*self._cells(name), key=name)
            if current in self._index:
                self.move_cursor(row=self._index[current], scroll=True)

    def _cells(self, key: str) -> tuple[Text, ...]:
        if key in self.studies:
            return self._study_cells(self.studies[key])
        run = self.runs[key]
        study = self.studies.get(self.study_of.get(key, ""))
        if study is None:
            name = run.name
        else:
            index = self._index.get(key, -1)
            following = self._shown[index + 1] if 0 <= index < len(self._shown) - 1 else None
            last = following is None or self.study_of.get(following) != study.key
            name = ("└ " if last else "├ ") + run.name.removeprefix(study.prefix)
        name = name if len(name) <= NAME_WIDTH else name[:NAME_WIDTH - 1] + "…"
        planned = "?" if run.epochs_planned is None else str(run.epochs_planned)
        epochs = "-" if run.status == "broken" or run.kind == "scored" else f"{run.epochs_done}/{planned}"
        return (Text(MARK if run.name in self.marked else " ", style="bold magenta"), Text(name),
                Text(run.status, style=STATUS_STYLES.get(run.status, "")), Text(epochs, justify="right"),
                Text(run.dataset), Text(run.loss))

    def _study_cells(self, study: StudyInfo) -> tuple[Text, ...]:
        """A study's row: its name (red if its ``study.json`` is unreadable), its cells by state, their datasets
        and losses."""
        cells = self.cells(study.key)
        shown = [run.name for run in cells if run.name in self._index]
        name = study.name + "/"
        name = name if len(name) <= NAME_WIDTH else name[:NAME_WIDTH - 1] + "…"
        marked = bool(shown) and all(key in self.marked for key in shown)
        return (Text(MARK if marked else " ", style="bold magenta"),
                Text(name, style="bold red" if study.error else "bold"),
                _states_cell(self.study_states.get(study.key)), Text(""),
                Text(_joined(run.dataset for run in cells)), Text(_joined(run.loss for run in cells)))


def _states_cell(states: dict[str, int] | None) -> Text:
    """A study's cells per state (`states_text`), each count in its state's colour; ``…`` until counted."""
    if states is None:
        return Text("…", style="dim")
    counted = [(state, count) for state, count in states.items() if count]
    if not counted:
        return Text(states_text(states), style="dim")
    text = Text()
    for index, (state, count) in enumerate(counted):
        if index:
            text.append(", ")
        text.append(f"{count} {state}", style=STATE_STYLES.get(state, ""))
    return text


def _joined(values: Iterable[str]) -> str:
    """The distinct values (not ``-``), joined by commas, shortened to `NAME_WIDTH`."""
    distinct = sorted({v for v in values if v != "-"})
    text = ",".join(distinct) or "-"
    return text if len(text) <= NAME_WIDTH else text[:NAME_WIDTH - 1] + "…"


def _epochs_key(run: RunSummary) -> tuple[float, int]:
    planned = run.epochs_planned or 0
    return (-(run.epochs_done / planned) if planned else 0.0, -run.epochs_done)


_SORT_KEYS = {
    "dataset": lambda run: (run.spec is None, run.dataset),   # broken runs (no spec) last
    "loss": lambda run: (run.spec is None, run.loss),
    "epochs": _epochs_key,
    "status": lambda run: STATUS_ORDER.get(run.status, 9),
    "updated": lambda run: -run.modified,
}
