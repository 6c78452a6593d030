"""The Overview tab: status, the spec by group (a scored folder's ``scored.json``), and the files of the folder."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from dvae_cli.runs.summary import RunSummary
from dvae_cli.tui.data.details import RunDetails, format_size, format_time, format_value, spec_groups
from dvae_cli.tui.widgets.run_table import STATUS_STYLES


def status_line(summary: RunSummary) -> Text:
    """``name  status (reason)  origin  epochs``, then a line per tracker with its link."""
    text = Text()
    text.append(summary.name, style="bold")
    text.append("  ")
    text.append(summary.status, style=STATUS_STYLES.get(summary.status, ""))
    if summary.reason:
        text.append(f" ({summary.reason})", style=STATUS_STYLES.get(summary.status, ""))
    if summary.spec is not None:
        planned = "?" if summary.epochs_planned is None else summary.epochs_planned
        text.append(f"  {summary.origin} run, {summary.epochs_done}/{planned} epochs", style="dim")
    elif summary.scored:
        text.append(f"  {scored_text(summary.scored)}", style="dim")
    for name, link in summary.trackers.items():
        text.append(f"\ntracker {name}: ", style="dim")
        text.append(link, style=f"link {link}" if link.startswith(("http://", "https://")) else "")
    return text


def scored_text(scored: dict[str, object]) -> str:
    """What a folder of ``dvae score`` holds the scores of: ``scored by dvae score: onnx encoder PATH, ...``."""
    images = scored.get("images")
    count = f", {images:,} images" if isinstance(images, int) and not isinstance(images, bool) else ""
    return (f"scored by dvae score: {scored.get('format')} encoder {scored.get('encoder')}{count}, "
            f"created {scored.get('created')}")


class RunOverview(VerticalScroll):
    """Everything about a run that is not a curve, a metric or an image.

    The status line shows the run list's summary of the run (`show_status`, called on
    the same scan message that updates the list, so the two never disagree); the body
    shows the details read in full (`show`).
    """

    def compose(self) -> ComposeResult:
        yield Static(id="overview-status")
        yield Static(id="overview-body")

    def show_status(self, summary: RunSummary) -> None:
        """The status line: name, status (reason), origin and epochs, as the run list knows them."""
        status = self.query_one("#overview-status", Static)
        status.update(status_line(summary))
        status.display = True

    def show_summary(self, summary: RunSummary) -> None:
        """What is known before the details are read."""
        self.show_status(summary)
        self.query_one("#overview-body", Static).update(Text("reading...", style="dim"))

    def show_message(self, text: str) -> None:
        """No run to show: `text` says why."""
        self.query_one("#overview-status", Static).display = False
        self.query_one("#overview-body", Static).update(text)

    def show(self, details: RunDetails) -> None:
        """The spec and the files of a run read in full (the status line is left to `show_status`)."""
        parts: list[RenderableType] = [Text()]
        scored = details.summary.scored
        groups = [("scored (scored.json)", list(scored.items()))] if scored else spec_groups(details.raw_spec)
        if groups:
            grid = Table.grid(padding=(0, 3))
            columns = 2
            for _ in range(columns):
                grid.add_column(vertical="top")
            tables = [_group_table(title, items) for title, items in groups]
            for start in range(0, len(tables), columns):
                row = tables[start:start + columns]
                grid.add_row(*row, *[""] * (columns - len(row)))
            parts.append(grid)
        else:
            parts.append(Text("no readable specs.json", style="bold red"))
        parts.append(Text())
        files = Table(title="files", title_justify="left", title_style="bold", box=None, padding=(0, 2, 0, 0),
                      show_header=True, header_style="dim")
        files.add_column("name")
        files.add_column("size", justify="right")
        files.add_column("modified")
        for info in details.files:
            files.add_row(info.name, format_size(info.size), format_time(info.modified))
        if not details.files:
            files.add_row(Text("(empty)", style="dim"), "", "")
        parts.append(files)
        self.query_one("#overview-body", Static).update(Group(*parts))


def _group_table(title: str, items: list[tuple[str, object]]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold cyan", box=None, show_header=False,
                  padding=(0, 1, 0, 0))
    table.add_column("key", style="dim", no_wrap=True)
    table.add_column("value", no_wrap=True)
    for key, value in items:
        table.add_row(key, format_value(value))
    return table
