"""The main screen: the runs on the left, the selected run's tabs on the right.

Every read of the disk happens in thread workers: `_scan` polls the results
directory and its study folders (a cheap stat of each folder; only changed folders are
re-read) and posts `RunsScanned`; after each poll, `_count_states` counts the cells of
each study by state, as ``dvae study status`` does, for the studies' rows, and posts
`StudyStatesCounted`; `_load` reads the selected run in full and posts
`RunLoaded`; `_load_study` reads a selected study's cells and report and posts
`StudyLoaded`. While a study's row is selected, the study view takes the place of the
run tabs (it is mounted the first time, so a results dir without studies never has one).
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Header, Input, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from dvae_cli.runs.summary import RunSummary
from dvae_cli.runs.watch import RunChanges
from dvae_cli.tui.data.details import RunDetails, load_details
from dvae_cli.tui.data.results_watcher import ResultsChanges, ResultsWatcher
from dvae_cli.tui.data.studies import StudyDetails, StudyInfo, count_studies, load_study
from dvae_cli.tui.messages import FigureGenerated, RunLoaded, RunsScanned, StudyLoaded, StudyStatesCounted
from dvae_cli.tui.screens.compare import CompareScreen
from dvae_cli.tui.screens.path import PathScreen
from dvae_cli.tui.widgets.figure_viewer import FigureViewer
from dvae_cli.tui.widgets.loss_curves import LossCurves
from dvae_cli.tui.widgets.metrics_view import MetricsView
from dvae_cli.tui.widgets.run_overview import RunOverview
from dvae_cli.tui.widgets.run_table import RunTable
from dvae_cli.tui.widgets.study_view import StudyView
from dvae_cli.wording import plural

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
        self.watcher = ResultsWatcher(self.results_dir)
        self.loaded: str | None = None
        self.scanned = False
        self._scan_worker: Worker[None] | None = None
        #: Mounted the first time a study is selected.
        self.study_view: StudyView | None = None

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
            if changes.found() or changes.complete and force:
                self.post_message(RunsScanned(changes, full=force))

    async def on_runs_scanned(self, message: RunsScanned) -> None:
        table = self.query_one(RunTable)
        table.apply_changes(message.changes)
        first_complete = message.changes.complete and not self.scanned
        if message.changes.complete:
            self.scanned = True
        self._update_status()
        key = table.selected_key
        changed = {s.name for s in message.changes.changed}
        study = table.selected_study
        if key is None:
            if self.scanned:
                self._show_nothing()
        elif study is not None:
            if key != self.loaded or first_complete or self._touches(message.changes, key):
                await self._select_study(study)
        elif key != self.loaded or key in changed or first_complete:
            self._select(table.runs[key])

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        table = self.query_one(RunTable)   # up to date: a scan's RunsScanned come before its end
        if event.worker.group == "scan" and event.state == WorkerState.SUCCESS and table.studies:
            self._count_states([(study, table.cells(study.key)) for study in table.studies.values()])

    @work(thread=True, exclusive=True, group="states")
    def _count_states(self, studies: list[tuple[StudyInfo, list[RunSummary]]]) -> None:
        """Count the cells of each of `studies` (a study and its cells in the list) by state."""
        worker = get_current_worker()
        states = count_studies(studies, cancelled=lambda: worker.is_cancelled)
        if states is not None and not worker.is_cancelled:
            self.post_message(StudyStatesCounted(states))

    def on_study_states_counted(self, message: StudyStatesCounted) -> None:
        self.query_one(RunTable).show_study_states(message.states)

    def _touches(self, changes: RunChanges, study: str) -> bool:
        """Whether `changes` change what the study view of `study` shows (its record, report or cells)."""
        table = self.query_one(RunTable)
        if isinstance(changes, ResultsChanges) and any(info.key == study for info in changes.studies):
            return True
        return bool(changes.removed) or any(table.study_of.get(s.name) == study for s in changes.changed)

    # ------------------------------------------------------------------ the selected run

    async def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id != "runs":
            return
        table = self.query_one(RunTable)
        key, study = table.selected_key, table.selected_study
        if key is not None and key != self.loaded:
            if study is not None:
                await self._select_study(study)
            elif table.selected is not None:
                self._select(table.selected)
        self._update_status()

    def _select(self, summary: RunSummary) -> None:
        """Show what the list knows of `summary` now, and read the rest in a worker.

        The Overview's status line is updated here, from the summary the list shows, so
        that the list and the Overview change together (not when the details arrive).
        During the first scan the details wait for the list to be complete, so that
        the two workers do not compete for the interpreter while the list fills in.
        """
        self._show_study_view(False)
        overview = self.query_one(RunOverview)
        if summary.name != self.loaded:
            overview.show_summary(summary)
        else:
            overview.show_status(summary)
        self.loaded = summary.name
        if self.scanned:
            self._load(summary.name, summary.path)

    @work(thread=True, exclusive=True, group="detail")
    def _load(self, name: str, path: Path) -> None:
        """Read the run `name` (its key in the list: a cell's is ``study/cell``) at `path`."""
        try:
            details = load_details(path)
        except Exception as exc:  # noqa: BLE001 - a folder we cannot read is shown as broken, never fatal
            details = RunDetails(RunSummary(name=name, path=path, reason=f"cannot read the folder: {exc!r}"))
        details.summary.name = name
        if not get_current_worker().is_cancelled:
            self.post_message(RunLoaded(details))

    def on_run_loaded(self, message: RunLoaded) -> None:
        details = message.details
        if details.name != self.loaded:
            return  # the cursor moved on
        self.query_one(RunOverview).show(details)
        self.query_one(LossCurves).show(details.summary)
        self.query_one(MetricsView).show(details)
        self.query_one("#figure-view", FigureViewer).show(details.summary)

    # ------------------------------------------------------------------ the selected study

    async def _select_study(self, study: StudyInfo) -> None:
        """Show the study view of `study`: its status line now, its cells' states and report from a worker."""
        view = await self._study_view()
        self._show_study_view(True)
        cells = self.query_one(RunTable).cells(study.key)
        view.show_info(study, cells, reading=study.key != self.loaded)
        self.loaded = study.key
        if self.scanned:
            self._load_study(study, cells)

    @work(thread=True, exclusive=True, group="detail")
    def _load_study(self, study: StudyInfo, cells: list[RunSummary]) -> None:
        try:
            details = load_study(study, cells)
        except Exception as exc:  # noqa: BLE001 - a study we cannot read is shown with the reason, never fatal
            details = StudyDetails(study, summary_error=f"cannot read the study: {exc!r}")
        if not get_current_worker().is_cancelled:
            self.post_message(StudyLoaded(details))

    def on_study_loaded(self, message: StudyLoaded) -> None:
        if message.details.key != self.loaded:
            return  # the cursor moved on
        if self.study_view is not None:
            self.study_view.show(message.details)

    async def _study_view(self) -> StudyView:
        """The study view, mounted beside the run tabs the first time it is needed."""
        if self.study_view is None:
            view = StudyView(self.image_class, id="study-view")
            view.display = False
            await self.query_one("#body").mount(view)
            self.study_view = view
        return self.study_view

    def _show_study_view(self, shown: bool) -> None:
        """The study view (True) or the run tabs in the right pane; focus in the pane hidden goes to the list."""
        view = self.study_view
        if view is None or view.display == shown:
            return
        if self._focus_in_tab():
            self.set_focus(self.query_one(RunTable))
        view.display = shown
        self.query_one(TabbedContent).display = not shown
        view.query_one(FigureViewer).set_active(shown)
        self.query_one("#figure-view", FigureViewer).set_active(
            not shown and self.query_one(TabbedContent).active == "images")
        self.refresh_bindings()

    @property
    def study_shown(self) -> bool:
        """Whether the study view is in the right pane."""
        return self.study_view is not None and self.study_view.display

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
                self._load(selected.name, selected.path)

    def _show_nothing(self) -> None:
        self.loaded = None
        self._show_study_view(False)
        text = f"no run folders in {self.results_dir}" if not self.query_one(RunTable).runs else "no run matches"
        self.query_one(RunOverview).show_message(text)

    def _update_status(self) -> None:
        table = self.query_one(RunTable)
        shown = table.shown_runs
        parts = [f"{len(shown)} of {len(table.runs)} runs" if table.filter_text else f"{len(table.runs)} runs"]
        if table.studies:
            parts[0] += f" ({plural(len(table.studies), 'study', 'studies')})"
        if not self.scanned:
            parts.append("scanning...")
        parts.append(f"sorted by {table.sort_key}" + (" (reversed)" if table.sort_reverse else ""))
        if table.marked:
            parts.append(f"{len(table.marked)} marked (c: compare)")
        training = sum(1 for run in table.runs.values() if run.status == "training")
        if training:
            parts.append(f"{training} training")
        selected, study = table.selected, table.selected_study
        status = " · ".join(parts)
        if selected is not None and selected.reason:
            status += f"\n[b]{escape(selected.name)}[/b]: {escape(selected.reason)}"
        elif study is not None and study.error:
            status += f"\n[b]{escape(study.name)}/[/b]: {escape(study.error)}"
        self.query_one("#runs-status", Static).update(status)

    # ------------------------------------------------------------------ tabs

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.query_one("#figure-view", FigureViewer).set_active(event.pane.id == "images" and not self.study_shown)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        tab = TAB_ACTIONS.get(action)
        if tab is None and action != "show_tab":
            return True
        if self.study_shown:
            return False   # the run tabs are hidden
        return tab is None or self.query_one(TabbedContent).active == tab

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
        return self.focused is not None and any(isinstance(node, (TabPane, StudyView))
                                                for node in self.focused.ancestors)

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
        self.app.push_screen(CompareScreen([table.runs[name].path for name in names], names=names))

    def action_refresh(self) -> None:
        self._start_scan(force=True)
        table = self.query_one(RunTable)
        selected, study = table.selected, table.selected_study
        if selected is not None:
            self._load(selected.name, selected.path)
        elif study is not None and self.scanned:
            self._load_study(study, table.cells(study.key))
        self.notify("re-reading the results directory", timeout=2)

    def action_open_path(self) -> None:
        table = self.query_one(RunTable)
        selected, study = table.selected, table.selected_study
        path = selected.path if selected is not None else study.path if study is not None else self.results_dir
        self.app.push_screen(PathScreen(path))

    def action_toggle_log(self) -> None:
        self.query_one(LossCurves).toggle_scale()

    def action_generate(self) -> None:
        self.notify(self.query_one("#figure-view", FigureViewer).generate(), timeout=3)

    def action_play_pause(self) -> None:
        self.query_one("#figure-view", FigureViewer).toggle_play()

    def action_step_frame(self, delta: int) -> None:
        self.query_one("#figure-view", FigureViewer).step(delta)
