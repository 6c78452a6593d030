"""The study view: a study's cells counted by state, its report's summary table and figures.

It takes the place of the run tabs while a study's row is selected in the run list. The
status line comes from what the run list knows (`show_info`); the rest from
`dvae_cli.tui.data.studies.load_study`, read in the screen's worker (`show`).
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import DataTable, Static

from dvae_cli.runs.study_layout import REPORT_DIR, STUDY_RECORD, SUMMARY_CSV
from dvae_cli.runs.summary import RunSummary
from dvae_cli.tui.data.studies import (
    StudyDetails,
    StudyInfo,
    format_cell,
    report_command,
)
from dvae_cli.tui.widgets.figure_viewer import FigureViewer
from dvae_cli.tui.widgets.run_table import STATE_STYLES
from dvae_cli.wording import plural

#: Cells' last errors listed at most.
MAX_ERRORS = 8


def study_status_line(info: StudyInfo, cells: list[RunSummary]) -> Text:
    """``name  study <name> of <file>: N cells planned, M in the folder``."""
    text = Text()
    text.append(info.name + "/", style="bold")
    text.append("  study", style="cyan")
    if info.study != info.name:
        text.append(f" {info.study}", style="cyan")
    if info.file:
        text.append(f" ({info.file})", style="dim")
    planned = "?" if info.cells_planned is None else str(info.cells_planned)
    text.append(f"  {plural(len(cells), 'cell')} of {planned} planned", style="dim")
    if info.error:
        text.append(f"\n{STUDY_RECORD}: {info.error}", style="bold red")
    return text


def study_body(details: StudyDetails) -> RenderableType:
    """The counts by state, the cells' last errors and what the report holds (or how to make it)."""
    info = details.info
    parts: list[RenderableType] = [Text()]
    counts = Text("cells: ", style="bold")
    for index, (state, count) in enumerate(details.states.items()):
        if index:
            counts.append(" · ", style="dim")
        counts.append(f"{count} {state}", style=STATE_STYLES.get(state, ""))
    if not details.states:
        counts.append("none yet", style="dim")
    parts.append(counts)
    if info.errors:
        errors = Text(f"last errors ({STUDY_RECORD}):", style="bold red")
        for cell, error in sorted(info.errors.items())[:MAX_ERRORS]:
            line = error.strip().splitlines()[-1] if error.strip() else error
            errors.append(f"\n  {cell}: ", style="bold")
            errors.append(line[:200])
        if len(info.errors) > MAX_ERRORS:
            errors.append(f"\n  ... and {len(info.errors) - MAX_ERRORS} more", style="dim")
        parts.append(errors)
    parts.append(Text())
    if details.summary is not None:
        files = [*details.report_files, plural(len(details.figures), "figure")]
        parts.append(Text.assemble((f"{REPORT_DIR}/", "bold"), ": " + ", ".join(files), style=""))
        if details.summary.left_out:
            parts.append(Text(f"the first {len(details.summary.rows)} rows of {SUMMARY_CSV} "
                              f"({details.summary.left_out} more in the file)", style="dim"))
    elif details.summary_error:
        parts.append(Text(f"{REPORT_DIR}/{SUMMARY_CSV}: {details.summary_error}", style="bold red"))
    else:
        where = "No report yet" if not info.report else f"No {SUMMARY_CSV} in {REPORT_DIR}/"
        parts.append(Text.assemble((f"{where}: ", "bold"), (report_command(info), "bold cyan"), " makes it."))
    return Group(*parts)


class StudyView(Vertical):
    """A study's summary: status line, counts, the report's table and its figures."""

    def __init__(self, image_class: type[Widget], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image_class = image_class
        self.details: StudyDetails | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="study-status")
        yield Static(id="study-body")
        yield Static(id="study-table-title", classes="section-title")
        yield DataTable(id="study-summary", cursor_type="row", zebra_stripes=True)
        yield FigureViewer(self.image_class, catalogue=False, id="study-figures")

    def on_mount(self) -> None:
        self._show_report(None)

    def show_info(self, info: StudyInfo, cells: list[RunSummary], reading: bool) -> None:
        """The status line from what the run list knows; with `reading`, the rest is being read."""
        self.query_one("#study-status", Static).update(study_status_line(info, cells))
        if reading:
            self.details = None
            self.query_one("#study-body", Static).update(Text("reading...", style="dim"))
            self._show_report(None)

    def show(self, details: StudyDetails) -> None:
        """The counts, the summary table and the figures of a study read in full."""
        previous, self.details = self.details, details
        self.query_one("#study-body", Static).update(study_body(details))
        same = previous is not None and previous.key == details.key and previous.summary == details.summary
        self._show_report(details, rebuild=not same)

    def _show_report(self, details: StudyDetails | None, rebuild: bool = True) -> None:
        """The summary table (rebuilt unless `rebuild` is False: the same table) and the figures."""
        title = self.query_one("#study-table-title", Static)
        table = self.query_one("#study-summary", DataTable)
        viewer = self.query_one(FigureViewer)
        summary = details.summary if details is not None else None
        title.display = table.display = summary is not None
        viewer.display = details is not None and bool(details.figures)
        if details is not None and details.figures:
            viewer.show(details.report_summary())
        if summary is None or not rebuild:
            return
        title.update(f"Every score by setting, over seeds ({REPORT_DIR}/{SUMMARY_CSV})")
        cursor = table.cursor_row
        table.clear(columns=True)
        for index, column in enumerate(summary.header):
            table.add_column(column, key=f"{index}:{column}")
        for index, row in enumerate(summary.rows):
            cells = [format_cell(value) for value in row]
            table.add_row(*[Text(text, justify="right" if number else "left") for text, number in cells],
                          key=str(index))
        if summary.rows:
            table.move_cursor(row=min(cursor, len(summary.rows) - 1))
