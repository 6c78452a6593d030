"""The `o` dialog: a run folder's path, selectable and copied to the clipboard."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class PathScreen(ModalScreen[None]):
    """Shows the absolute path of a run folder; the app copies it (OSC 52) when this opens."""

    BINDINGS = [Binding("escape,enter,o", "dismiss", "Close")]

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path).resolve()

    def compose(self) -> ComposeResult:
        with Vertical(id="path-box"):
            yield Static("[b]Run folder[/b] (copied to the clipboard where the terminal allows it)")
            yield Input(str(self.path), id="path-input")
            yield Static(f"[dim]cd {self.path}\nescape: close[/]", id="path-hint")

    def on_mount(self) -> None:
        self.app.copy_to_clipboard(str(self.path))
        path_input = self.query_one(Input)
        path_input.focus()
        path_input.select_all()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(None)
