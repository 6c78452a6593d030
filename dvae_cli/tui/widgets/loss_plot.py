"""Loss curves drawn in the terminal with plotext (one line per series)."""

from __future__ import annotations

from dataclasses import dataclass

from textual_plotext import PlotextPlot

#: Line colours, in turn (plotext names, readable on dark and light themes).
COLOURS = ("cyan", "orange", "green", "magenta", "red", "blue", "yellow", "gray")


@dataclass(frozen=True)
class Series:
    """One curve: a label and its (epoch, value) points."""

    label: str
    points: list[tuple[int, float]]


class LossPlot(PlotextPlot):
    """Curves of loss terms against the epoch, on a linear or log scale.

    In log scale the points <= 0 cannot be drawn; the title says how many were left out.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.series: list[Series] = []
        self.log_scale = False
        #: Points left out of the last drawing (<= 0 in log scale).
        self.hidden = 0
        self.empty_text = "no curve to show"

    def show(self, series: list[Series], log_scale: bool | None = None) -> None:
        """Replace the curves (and optionally the scale) and redraw."""
        self.series = series
        if log_scale is not None:
            self.log_scale = log_scale
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        hidden = 0
        drawn = 0
        for index, series in enumerate(self.series):
            points = series.points
            if self.log_scale:
                kept = [(x, y) for x, y in points if y > 0]
                hidden += len(points) - len(kept)
                points = kept
            if not points:
                continue
            xs = [x + 1 for x, _ in points]  # epochs counted from 1, as the training view does
            ys = [y for _, y in points]
            marker = "braille" if len(points) > 1 else "dot"
            plt.plot(xs, ys, label=series.label, color=COLOURS[index % len(COLOURS)], marker=marker)
            drawn += 1
        if self.log_scale and drawn:
            plt.yscale("log")
        title = "log scale" if self.log_scale else "linear scale"
        if hidden:
            title += f" ({hidden} points <= 0 not drawn)"
        if not drawn:
            title = self.empty_text
        plt.title(title)
        plt.xlabel("epoch")
        self.hidden = hidden
        self.refresh()
