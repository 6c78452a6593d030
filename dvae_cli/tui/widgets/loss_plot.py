"""Loss curves drawn in the terminal with plotext (one line per series).

plotext's own legend is not used: it is drawn over the curves and left out whole when
the plot is narrower than the longest label or shorter than the number of series. The
curves drawn and their colours are kept in `LossPlot.drawn`, for `LossChart`'s legend.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual_plotext import PlotextPlot

#: Line colours, in turn: cyan, orange, green, magenta, red, blue, yellow, grey. Each is a
#: colour of the xterm 256-colour palette, so tmux with 256 colours shows it unchanged.
COLOURS: tuple[tuple[int, int, int], ...] = ((0, 215, 255), (255, 135, 0), (95, 215, 0), (215, 95, 215),
                                             (255, 95, 95), (95, 135, 255), (255, 215, 0), (168, 168, 168))


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
        #: The series of the last drawing with their colours, and those with no point to draw.
        self.drawn: list[tuple[str, tuple[int, int, int]]] = []
        self.not_drawn: list[str] = []
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
        self.drawn, self.not_drawn = [], []
        for index, series in enumerate(self.series):
            points = series.points
            if self.log_scale:
                kept = [(x, y) for x, y in points if y > 0]
                hidden += len(points) - len(kept)
                points = kept
            if not points:
                self.not_drawn.append(series.label)
                continue
            xs = [x + 1 for x, _ in points]  # epochs counted from 1, as the training view does
            ys = [y for _, y in points]
            marker = "braille" if len(points) > 1 else "dot"
            colour = COLOURS[index % len(COLOURS)]
            plt.plot(xs, ys, color=colour, marker=marker)   # no label: no plotext legend
            self.drawn.append((series.label, colour))
        drawn = len(self.drawn)
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
