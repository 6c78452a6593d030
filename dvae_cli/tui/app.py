"""The ``dvae browse`` app: one factory for the CLI, the tests and the benchmark.

Importing this module imports textual-image, which asks the terminal whether it
shows Kitty or Sixel graphics (else half-cell blocks are used); do it before
`BrowseApp.run`, as Textual owns the terminal afterwards.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.widget import Widget
from textual_image.widget import Image as AutoImage

from dvae_cli.tui.screens.browse import BrowseScreen
from dvae_cli.tui.screens.help import HelpScreen
from dvae_cli.tui.widgets.run_table import RunTable


class BrowseApp(App[None]):
    """Browse the runs of a results directory: status, spec, losses, metrics and figures.

    Args:
        results_dir: The folder holding one sub-folder per run.
        image_class: The textual-image widget class that draws figures (default: the
            best the terminal supports; tests pass ``HalfcellImage``).
        poll_interval: Seconds between two looks at the disk (0: never, only `r`).
        data_dir: Passed to ``dvae plot`` for the figures that need the dataset.
    """

    CSS_PATH = "app.tcss"
    TITLE = "dvae browse"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
    ]

    def __init__(self, results_dir: Path, *, image_class: type[Widget] | None = None, poll_interval: float = 2.0,
                 data_dir: Path | None = None) -> None:
        super().__init__()
        self.results_dir = Path(results_dir)
        self.image_class: type[Widget] = image_class or AutoImage
        self.poll_interval = poll_interval
        self.data_dir = data_dir

    def on_mount(self) -> None:
        self.push_screen(BrowseScreen(self.results_dir, self.image_class, self.poll_interval, self.data_dir))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            studies = any(isinstance(screen, BrowseScreen) and screen.query_one(RunTable).studies
                          for screen in self.screen_stack)
            self.push_screen(HelpScreen(studies=studies))
