"""Loss curves with a legend under them that names every curve drawn, in its colour."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical

from dvae_cli.tui.widgets.loss_plot import LossPlot, Series
from dvae_cli.tui.widgets.plot_legend import PlotLegend


class LossChart(Vertical):
    """A `LossPlot` and its `PlotLegend`: every series drawn is named, however many and however small the plot.

    Args:
        plot_id: The id of the `LossPlot` inside.
    """

    def __init__(self, *, plot_id: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.plot_id = plot_id
        #: Shown after the legend (e.g. what a mark on a label means).
        self.note = ""

    def compose(self) -> ComposeResult:
        yield LossPlot(id=self.plot_id)
        yield PlotLegend(classes="plot-legend")

    @property
    def plot(self) -> LossPlot:
        return self.query_one(LossPlot)

    def show(self, series: list[Series], log_scale: bool | None = None, empty_text: str | None = None,
             note: str | None = None) -> None:
        """Draw `series` (optionally on another scale; `empty_text` titles a plot with no curve; `note`
        follows the legend, and stays until another is given)."""
        plot = self.plot
        if empty_text is not None:
            plot.empty_text = empty_text
        plot.show(series, log_scale=log_scale)
        if note is not None:
            self.note = note
        notes = [self.note] if self.note else []
        if plot.not_drawn:
            why = "no point > 0 for the log scale" if plot.log_scale else "no point"
            notes.append(f"not drawn ({why}): " + ", ".join(plot.not_drawn))
        self.query_one(PlotLegend).show(plot.drawn, "\n".join(notes))

    def toggle_scale(self) -> None:
        """Switch between linear and log scale."""
        self.show(self.plot.series, log_scale=not self.plot.log_scale)
