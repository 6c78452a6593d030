"""The main screen: the runs on the left, the selected run's tabs on the right.

Every read of the disk happens in thread workers: `_scan` polls the results
directory (a cheap stat of each folder; only changed folders are re-read) and posts
`RunsScanned`; `_load` reads the selected run in full and posts `RunLoaded`.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Header, Input, Static, TabbedContent, TabPane
from textual.worker import Worker, get_current_worker

from dvae_cli.runs.summary import RunSummary
from dvae_cli.runs.watch import RunWatcher
from dvae_cli.tui.data.details import RunDetails, load_details
from dvae_cli.tui.messages import FigureGenerated, RunLoaded, RunsScanned
from dvae_cli.tui.screens.compare import CompareScreen
from dvae_cli.tui.screens.path import PathScreen
from dvae_cli.tui.widgets.figure_viewer import FigureViewer
from dvae_cli.tui.widgets.loss_curves import LossCurves
from dvae_cli.tui.widgets.metrics_view import MetricsView
from dvae_cli.tui.widgets.run_overview import RunOverview
from dvae_cli.tui.widgets.run_table import RunTable

TABS = ("overview", "losses", "metrics", "images")
#: Runs listed at once when a full scan starts; the others follow in one message, as
#: every update of the list costs a repaint that slows the scan down.
FIRST_SCAN_BATCH = 16
#: Actions that only make sense on one tab.
TAB_ACTIONS = {"toggle_log": "losses", "generate": "images", "play_pause": "images", "step_frame": "images"}


class BrowseScreen(Screen[None]):
    """The run browser."""

    BINDINGS = [
        Binding("slash", "focus_filter", "Filter"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("m", "toggle_mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("r", "refresh", "Refresh"),
        Binding("o", "open_path", "Path"),
        Binding("l", "toggle_log", "Log/linear"),
        Binding("g", "generate", "Generate"),
        Binding("space", "play_pause", "Play/pause"),
        Binding("comma", "step_frame(-1)", "Frame -", show=False),
        Binding("full_stop", "step_frame(1)", "Frame +", show=False),
        *[Binding(str(i + 1), f"show_tab('{tab}')", tab.title(), show=False) for i, tab in enumerate(TABS)],
    ]

    def __init__(self, results_dir: Path, image_class: type[Widget], poll_interval: float = 2.0,
                 data_dir: Path | None = None) -> None:
        super().__init__()
        self.results_dir = Path(results_dir)
        self.image_class = image_class
        self.poll_interval = poll_interval
        self.data_dir = data_dir
        self.watcher = RunWatcher(self.results_dir)
        self.loaded: str | None = None
        self.scanned = False
        self._scan_worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            with Vertical(id="runs-pane"):
                yield Input(placeholder="/ filter: name, dataset or loss", id="filter")
                yield RunTable(id="runs")
                yield Static("scanning...", id="runs-status")
            with TabbedContent(id="tabs", initial="overview"):
                with TabPane("Overview", id="overview"):
                    yield RunOverview(id="overview-view")
                with TabPane("Losses", id="losses"):
                    yield LossCurves(id="loss-view")
                with TabPane("Metrics", id="metrics"):
                    yield MetricsView(id="metrics-view")
                with TabPane("Images", id="images"):
                    yield FigureViewer(self.image_class, data_dir=self.data_dir, id="figure-view")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = str(self.results_dir)
        self.query_one(RunTable).focus()
        self._start_scan(force=True)
        if self.poll_interval > 0:
            self.set_interval(self.poll_interval, self._poll)

    # ------------------------------------------------------------------ scanning

    def _poll(self) -> None:
        if self._scan_worker is None or self._scan_worker.is_finished:
            self._start_scan(force=False)

    def _start_scan(self, force: bool) -> None:
        if self._scan_worker is not None and not self._scan_worker.is_finished:
            self._scan_worker.cancel()
        self._scan_worker = self._scan(force)

    @work(thread=True, exclusive=True, group="scan")
    def _scan(self, force: bool) -> None:
        worker = get_current_worker()
        first = FIRST_SCAN_BATCH if force else 0
        for changes in self.watcher.poll(force=force, first=first, cancelled=lambda: worker.is_cancelled):
            if worker.is_cancelled:
                return
            if changes.changed or changes.removed or changes.complete and force:
                self.post_message(RunsScanned(changes, full=force))

    def on_runs_scanned(self, message: RunsScanned) -> None:
        table = self.query_one(RunTable)
        table.apply_changes(message.changes)
        first_complete = message.changes.complete and not self.scanned
        if message.changes.complete:
            self.scanned = True
        self._update_status()
        selected = table.selected
        changed = {s.name for s in message.changes.changed}
        if selected is None:
            if self.scanned:
                self._show_nothing()
        elif selected.name != self.loaded or selected.name in changed or first_complete:
            self._select(selected)

    # ------------------------------------------------------------------ the selected run

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "runs":
            return
        selected = self.query_one(RunTable).selected
        if selected is not None and selected.name != self.loaded:
            self._select(selected)
        self._update_status()

    def _select(self, summary: RunSummary) -> None:
        """Show what the list knows of `summary` now, and read the rest in a worker.

        The Overview's status line is updated here, from the summary the list shows, so
        that the list and the Overview change together (not when the details arrive).
        During the first scan the details wait for the list to be complete, so that
        the two workers do not compete for the interpreter while the list fills in.
        """
        overview = self.query_one(RunOverview)
        if summary.name != self.loaded:
            overview.show_summary(summary)
        else:
            overview.show_status(summary)
        self.loaded = summary.name
        if self.scanned:
            self._load(summary.path)

    @work(thread=True, exclusive=True, group="detail")
    def _load(self, path: Path) -> None:
        try:
            details = load_details(path)
        except Exception as exc:  # noqa: BLE001 - a folder we cannot read is shown as broken, never fatal
            details = RunDetails(RunSummary(name=path.name, path=path, reason=f"cannot read the folder: {exc!r}"))
        if not get_current_worker().is_cancelled:
            self.post_message(RunLoaded(details))

    def on_run_loaded(self, message: RunLoaded) -> None:
        details = message.details
        if details.name != self.loaded:
            return  # the cursor moved on
        self.query_one(RunOverview).show(details)
        self.query_one(LossCurves).show(details.summary)
        self.query_one(MetricsView).show(details)
        self.query_one(FigureViewer).show(details.summary)

    def on_figure_generated(self, message: FigureGenerated) -> None:
        if message.returncode == 0:
            self.notify(f"{message.run}: wrote {message.file}")
        else:
            self.notify(f"{message.run}: dvae plot {message.plot} failed (exit code {message.returncode})",
                        severity="error")
        self._start_scan(force=False)
        if message.run == self.loaded:
            selected = self.query_one(RunTable).selected
            if selected is not None:
                self._load(selected.path)

    def _show_nothing(self) -> None:
        self.loaded = None
        text = f"no run folders in {self.results_dir}" if not self.query_one(RunTable).runs else "no run matches"
        self.query_one(RunOverview).show_message(text)

    def _update_status(self) -> None:
        table = self.query_one(RunTable)
        parts = [f"{len(table.shown)} of {len(table.runs)} runs" if table.filter_text else f"{len(table.runs)} runs"]
        if not self.scanned:
            parts.append("scanning...")
        parts.append(f"sorted by {table.sort_key}" + (" (reversed)" if table.sort_reverse else ""))
        if table.marked:
            parts.append(f"{len(table.marked)} marked (c: compare)")
        training = sum(1 for run in table.runs.values() if run.status == "training")
        if training:
            parts.append(f"{training} training")
        selected = table.selected
        status = " · ".join(parts)
        if selected is not None and selected.reason:
            status += f"\n[b]{selected.name}[/b]: {selected.reason}"
        self.query_one("#runs-status", Static).update(status)

    # ------------------------------------------------------------------ tabs

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.query_one(FigureViewer).set_active(event.pane.id == "images")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tab = TAB_ACTIONS.get(action)
        if tab is None:
            return True
        return self.query_one(TabbedContent).active == tab

    def action_show_tab(self, tab: str) -> None:
        """Show `tab`; focus inside the tab being hidden goes back to the run list first.

        Textual would hand the focus of a hidden widget to a sibling in the same tab, and
        the TabbedContent would then show that tab again: 1-4 did nothing from the term list.
        """
        if self._focus_in_tab():
            self.set_focus(self.query_one(RunTable))
        self.query_one(TabbedContent).active = tab

    def _focus_in_tab(self) -> bool:
        """Whether the focused widget is inside a tab's content (the term list, the figure list...)."""
        return self.focused is not None and any(isinstance(node, TabPane) for node in self.focused.ancestors)

    # ------------------------------------------------------------------ actions

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.query_one(RunTable).set_filter(event.value)
            self._update_status()
            if self.query_one(RunTable).selected is None and self.scanned:
                self._show_nothing()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one(RunTable).focus()

    def key_escape(self) -> None:
        """Back to the run list: from the filter box (clearing it; enter keeps it) or from a tab's content."""
        if self.focused is not None and self.focused.id == "filter":
            self.query_one("#filter", Input).value = ""
            self.query_one(RunTable).focus()
        elif self._focus_in_tab():
            self.query_one(RunTable).focus()

    def action_cycle_sort(self) -> None:
        self.query_one(RunTable).cycle_sort()
        self._update_status()

    def action_toggle_mark(self) -> None:
        self.query_one(RunTable).toggle_mark()
        self._update_status()

    def action_compare(self) -> None:
        table = self.query_one(RunTable)
        names = [name for name in table.shown if name in table.marked] or sorted(table.marked)
        if len(names) < 1:
            self.notify("mark runs with m first (at least one)", severity="warning")
            return
        self.app.push_screen(CompareScreen([table.runs[name].path for name in names]))

    def action_refresh(self) -> None:
        self._start_scan(force=True)
        selected = self.query_one(RunTable).selected
        if selected is not None:
            self._load(selected.path)
        self.notify("re-reading the results directory", timeout=2)

    def action_open_path(self) -> None:
        selected = self.query_one(RunTable).selected
        path = selected.path if selected is not None else self.results_dir
        self.app.push_screen(PathScreen(path))

    def action_toggle_log(self) -> None:
        self.query_one(LossCurves).toggle_scale()

    def action_generate(self) -> None:
        self.notify(self.query_one(FigureViewer).generate(), timeout=3)

    def action_play_pause(self) -> None:
        self.query_one(FigureViewer).toggle_play()

    def action_step_frame(self, delta: int) -> None:
        self.query_one(FigureViewer).step(delta)
