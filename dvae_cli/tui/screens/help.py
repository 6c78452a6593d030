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


#: The keys of study folders, shown when the results dir holds one.
STUDY_KEYS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("studies (dvae study)", (
        ("up / down", ("a study's row (name/) shows its cells by state, its report's summary table and figures "
                       "in place of the tabs; its cells are listed below it")),
        ("tab", "from a study's row: into its summary table, then its figure list (up / down: a figure)"),
        ("m", "on a study's row: mark or unmark all its cells shown"),
        ("o", "on a study's row: the study folder's path"),
    )),
)


class HelpScreen(ModalScreen[None]):
    """The key bindings, grouped by where they apply.

    Args:
        studies: Also list the keys of study folders (the results dir holds one).
    """

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, studies: bool = False) -> None:
        super().__init__()
        self.studies = studies

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("action")
        for index, (group, keys) in enumerate(KEYS + STUDY_KEYS if self.studies else KEYS):
            if index:
                table.add_row("", "")
            table.add_row(f"[bold]{group}[/]", "")
            for key, action in keys:
                table.add_row(key, action)
        with VerticalScroll(id="help-box"):
            yield Static("[b]dvae browse[/b]: the runs of a results directory", id="help-title")
            yield Static(table)
            yield Static("[dim]escape: close[/]")
