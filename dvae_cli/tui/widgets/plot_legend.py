"""The legend of a plot: each series' colour and name, packed into as many lines as it needs."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

#: The line drawn before each name, in the series' colour.
SWATCH = "━━"
#: Blank cells between two entries on a line.
GAP = 3


def pack(entries: list[Text], width: int, gap: int = GAP) -> list[Text]:
    """Lay `entries` out in lines of at most `width` cells, never breaking one (a longer one is cut with …)."""
    lines: list[Text] = []
    line = Text()
    for entry in entries:
        if entry.cell_len > width:
            entry = entry.copy()
            entry.truncate(max(width, 1), overflow="ellipsis")
        if line and line.cell_len + gap + entry.cell_len > width:
            lines.append(line)
            line = Text()
        if line:
            line.append(" " * gap)
        line.append_text(entry)
    if line:
        lines.append(line)
    return lines


class PlotLegend(Widget):
    """Names every series of a plot next to its colour; its height is the lines it needs.

    Entries are laid out at the widget's width (`pack`), so an entry is never split
    between its colour and its name, and a note (dim) can follow on its own line.
    """

    DEFAULT_CSS = """
    PlotLegend {
        height: auto;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.entries: list[Text] = []
        self.note = ""

    def show(self, series: list[tuple[str, tuple[int, int, int]]], note: str = "") -> None:
        """Name each (label, RGB colour) of `series`; `note` is shown after them."""
        self.entries = [Text.assemble((SWATCH, Style(color=f"rgb({r},{g},{b})", bold=True)), " ", label)
                        for label, (r, g, b) in series]
        self.note = note
        self.display = bool(self.entries or note)
        self.refresh(layout=True)

    def lines(self, width: int) -> list[Text]:
        """The legend as drawn at `width` cells."""
        lines = pack(self.entries, width)
        if self.note:
            lines += Text(self.note, style="dim").wrap(self.app.console, max(width, 1))
        return lines

    def render(self) -> Text:
        return Text("\n").join(self.lines(self.content_size.width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))
