"""The list of runs: name, dataset, loss, epochs and status, sortable, filterable, markable."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from dvae_cli.runs.summary import RunSummary
from dvae_cli.runs.watch import RunChanges

#: Sort orders, cycled with `s`; the columns of the same names sort when clicked.
SORTS = ("name", "dataset", "loss", "epochs", "status", "updated")
#: Status and epochs come first so that they stay in view when the terminal is narrow.
COLUMNS = (("mark", " "), ("name", "run"), ("status", "status"), ("epochs", "epochs"), ("dataset", "dataset"),
           ("loss", "loss"))
STATUS_STYLES = {"finished": "green", "training": "bold yellow", "interrupted": "dark_orange", "diverged": "bold red",
                 "crashed": "bold red", "broken": "bold red"}
#: Status order when sorting by status: what needs attention first.
STATUS_ORDER = {"training": 0, "interrupted": 1, "diverged": 2, "crashed": 3, "broken": 4, "finished": 5}
NAME_WIDTH = 28
MARK = "●"


class RunTable(DataTable[Text]):
    """Every run of the results directory, one row each (the row key is the run name)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self.runs: dict[str, RunSummary] = {}
        self.marked: set[str] = set()
        self.filter_text = ""
        self.sort_key = "name"
        self.sort_reverse = False
        self._shown: list[str] = []

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)

    @property
    def shown(self) -> list[str]:
        """The names of the rows on screen, in order."""
        return list(self._shown)

    @property
    def selected(self) -> RunSummary | None:
        """The run under the cursor."""
        if not self._shown or not 0 <= self.cursor_row < len(self._shown):
            return None
        return self.runs.get(self._shown[self.cursor_row])

    def apply_changes(self, changes: RunChanges) -> None:
        """Take in the runs a poll found new, changed or gone."""
        for name in changes.removed:
            self.runs.pop(name, None)
            self.marked.discard(name)
        for summary in changes.changed:
            self.runs[summary.name] = summary
        self._rebuild({summary.name for summary in changes.changed})

    def set_filter(self, text: str) -> None:
        """Show only the runs whose name, dataset or loss contain every word of `text`."""
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
        """Mark or unmark the run under the cursor; returns its name."""
        run = self.selected
        if run is None:
            return None
        self.marked.symmetric_difference_update({run.name})
        self.update_cell(run.name, "mark", self._cells(run)[0])
        return run.name

    def select(self, name: str) -> None:
        """Move the cursor to the run `name` (if shown)."""
        if name in self._shown:
            self.move_cursor(row=self._shown.index(name))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key in SORTS:
            self.sort_by(key)

    def _visible(self) -> list[str]:
        words = self.filter_text.lower().split()
        runs = [run for run in self.runs.values()
                if all(any(word in field.lower() for field in (run.name, run.dataset, run.loss)) for word in words)]
        runs.sort(key=lambda run: run.name)
        if self.sort_key != "name":
            runs.sort(key=_SORT_KEYS[self.sort_key])
        if self.sort_reverse:
            runs.reverse()
        return [run.name for run in runs]

    def _rebuild(self, changed: set[str]) -> None:
        shown = self._visible()
        current = self.selected.name if self.selected else None
        if shown == self._shown:
            for name in changed & set(shown):
                for (key, _), cell in zip(COLUMNS, self._cells(self.runs[name]), strict=True):
                    self.update_cell(name, key, cell)
            return
        old, self._shown = self._shown, shown
        with self.app.batch_update():
            if shown[:len(old)] == old and not changed & set(old):
                start = len(old)   # only new rows at the end (a first scan, in name order)
            else:
                start = 0
                self.clear()
            for name in shown[start:]:
                self.add_row(*self._cells(self.runs[name]), key=name)
            if current in shown:
                self.move_cursor(row=shown.index(current), scroll=True)

    def _cells(self, run: RunSummary) -> tuple[Text, ...]:
        name = run.name if len(run.name) <= NAME_WIDTH else run.name[:NAME_WIDTH - 1] + "…"
        planned = "?" if run.epochs_planned is None else str(run.epochs_planned)
        epochs = "-" if run.status == "broken" else f"{run.epochs_done}/{planned}"
        return (Text(MARK if run.name in self.marked else " ", style="bold magenta"), Text(name),
                Text(run.status, style=STATUS_STYLES.get(run.status, "")), Text(epochs, justify="right"),
                Text(run.dataset), Text(run.loss))


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
