"""The `?` screen: every key of the browser."""

from __future__ import annotations

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("everywhere", (
        ("q", "quit"),
        ("?", "this help"),
        ("r", "re-read every run folder now (they are also polled every 2 s)"),
        ("o", "the selected run's folder path, copied to the clipboard"),
        ("tab / shift+tab", "move between the run list, the tabs and their contents"),
        ("1 2 3 4", "Overview, Losses, Metrics, Images (from inside a tab too: the focus goes to the run list)"),
        ("escape", "from a tab's list or table: back to the run list"),
    )),
    ("run list", (
        ("up / down", "select a run"),
        ("/", "filter by name, dataset or loss (enter: keep the filter, escape: clear it)"),
        ("s", "sort by the next column (click a column header to sort by it, twice to reverse)"),
        ("m", "mark or unmark the run for compare mode"),
        ("c", "compare the marked runs: curves overlaid, metrics side by side"),
    )),
    ("Losses", (
        ("space", "in the term list: show or hide a term"),
        ("l", "log or linear scale"),
    )),
    ("Images", (
        ("up / down", "in the figure list: choose a figure"),
        ("g", "generate the missing figure with dvae plot (in the background)"),
        ("space", "play or pause a GIF"),
        (", .", "previous or next frame"),
    )),
    ("compare mode", (
        ("l", "log or linear scale"),
        ("escape", "back to the run list"),
    )),
)


class HelpScreen(ModalScreen[None]):
    """The key bindings, grouped by where they apply."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("action")
        for index, (group, keys) in enumerate(KEYS):
            if index:
                table.add_row("", "")
            table.add_row(f"[bold]{group}[/]", "")
            for key, action in keys:
                table.add_row(key, action)
        with VerticalScroll(id="help-box"):
            yield Static("[b]dvae browse[/b]: the runs of a results directory", id="help-title")
            yield Static(table)
            yield Static("[dim]escape: close[/]")
