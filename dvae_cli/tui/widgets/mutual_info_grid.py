"""A factors x latents mutual-information matrix as a grid of coloured cells with their values."""

from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.app import RenderResult
from textual.color import Color
from textual.widget import Widget

from dvae_cli.runs.metrics_detail import MutualInfo

#: Widths of the factor column and of each latent column (shared with the KL row of the Metrics tab).
LABEL_WIDTH = 12
CELL_WIDTH = 6
LOW = Color(24, 28, 44)
HIGH = Color(250, 200, 40)


class MutualInfoGrid(Widget):
    """One row per factor, one column per latent; brighter is more information.

    The largest value of each row is underlined, so the grid reads without colour too;
    negative estimates (Monte-Carlo noise around 0) are shown as 0.00.
    """

    DEFAULT_CSS = """
    MutualInfoGrid {
        height: auto;
        width: auto;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.matrix: MutualInfo | None = None

    def show(self, matrix: MutualInfo | None) -> None:
        self.matrix = matrix
        self.refresh(layout=True)

    def render(self) -> RenderResult:
        matrix = self.matrix
        if matrix is None:
            return Text("no mutual-information matrix: run `dvae eval NAME --metrics` on a dataset with factors",
                        style="dim")
        top = max((v for row in matrix.values for v in row), default=0.0) or 1.0
        table = Table(box=None, padding=(0, 0), show_edge=False, pad_edge=False, collapse_padding=True)
        table.add_column("factor", style="bold", no_wrap=True, min_width=LABEL_WIDTH)
        for latent in matrix.latents:
            table.add_column(latent, justify="center", width=CELL_WIDTH, no_wrap=True)
        table.add_column(" MIG", justify="right", no_wrap=True)
        for factor, row, gap in zip(matrix.factors, matrix.values, matrix.gap, strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            cells: list[Text] = [Text(factor + " ")]
            for j, value in enumerate(row):
                shade = LOW.blend(HIGH, max(0.0, min(1.0, value / top)))
                ink = Color(0, 0, 0) if shade.brightness > 0.55 else Color(235, 235, 235)
                style = Style(bgcolor=shade.rich_color, color=ink.rich_color, underline=j == best, bold=j == best)
                shown = max(value, 0.0)  # MI >= 0: a negative estimate is Monte-Carlo noise around 0
                cells.append(Text(f"{shown:.2f}".center(CELL_WIDTH), style=style))
            cells.append(Text(" -" if gap is None else f" {gap:.3f}"))
            table.add_row(*cells)
        return table
