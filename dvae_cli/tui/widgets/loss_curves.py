"""The Losses tab: choose terms of ``train_losses.log``, see their curves and the test losses.

Terms that are minibatch estimates (`dvae_cli.compare.estimated`) are marked ``~`` in the
list, the values and the legend, and a note says what the mark means.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, SelectionList, Static
from textual.widgets.selection_list import Selection

from dvae_cli.compare.estimated import LEGEND, estimated_terms, marked
from dvae_cli.runs.logs import parse_kl_key
from dvae_cli.runs.summary import RunSummary
from dvae_cli.tui.widgets.loss_chart import LossChart
from dvae_cli.tui.widgets.loss_plot import Series
from dvae_cli.tui.widgets.term_list import TermList

#: Terms drawn when a run is first shown (those it has).
DEFAULT_TERMS = ("loss", "recon_loss", "kl_loss")


def term_order(terms: list[str]) -> list[str]:
    """Terms in a stable reading order: the total, the main terms, then ``kl_loss_<j>`` by j."""
    def key(term: str) -> tuple[int, int, str]:
        if term in DEFAULT_TERMS:
            return (0, DEFAULT_TERMS.index(term), term)
        latent = parse_kl_key(term)
        return (1, 0, term) if latent is None else (2, latent, term)
    return sorted(terms, key=key)


def default_terms(terms: list[str]) -> list[str]:
    """The `DEFAULT_TERMS` among `terms` (else the first term)."""
    chosen = [t for t in DEFAULT_TERMS if t in terms]
    return chosen or terms[:1]


class LossCurves(Horizontal):
    """Term picker and values on the left, the curves on the right."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summary: RunSummary | None = None
        self.chosen: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="loss-side"):
            yield Static("terms [dim](space: show/hide)[/]", classes="side-title")
            yield TermList(id="loss-terms")
            yield Static("last epoch / test", classes="side-title")
            yield DataTable(id="loss-values", cursor_type="none", show_cursor=False, zebra_stripes=True)
            yield Static(LEGEND, id="loss-note")
        yield LossChart(plot_id="loss-plot", id="loss-chart")

    def on_mount(self) -> None:
        table = self.query_one("#loss-values", DataTable)
        table.add_column("term", key="term")
        table.add_column("train", key="train")
        table.add_column("test", key="test")

    @property
    def log_scale(self) -> bool:
        return self.query_one(LossChart).plot.log_scale

    def show(self, summary: RunSummary) -> None:
        """Show the curves of `summary` (its full history), keeping the chosen terms if it has them."""
        same_terms = (self.summary is not None and set(self.summary.history) == set(summary.history)
                      and self.summary.loss == summary.loss)
        self.summary = summary
        loss = summary.loss if summary.spec is not None else None
        terms = term_order(list(summary.history))
        kept = [t for t in self.chosen if t in terms]
        self.chosen = kept or default_terms(terms)
        selector = self.query_one("#loss-terms", SelectionList)
        if not same_terms:
            with selector.prevent(SelectionList.SelectedChanged):
                selector.clear_options()
                selector.add_options([Selection(marked(t, loss), t, t in self.chosen) for t in terms])
                selector.highlighted = 0 if terms else None
        self._fill_values(summary, terms)
        self.query_one("#loss-note", Static).display = bool(estimated_terms(loss) & {*terms, *(summary.test_losses
                                                                                               or {})})
        self._draw()

    def toggle_scale(self) -> None:
        """Switch between linear and log scale."""
        self.query_one(LossChart).toggle_scale()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        event.stop()
        selected = set(event.selection_list.selected)
        self.chosen = [t for t in term_order(list(selected))]
        self._draw()

    def _draw(self) -> None:
        chart = self.query_one(LossChart)
        summary = self.summary
        if summary is None or not summary.history:
            empty = ("no run selected" if summary is None else "scored by dvae score: no training, no losses"
                     if summary.kind == "scored" else "no epoch logged yet")
            chart.show([], empty_text=empty, note="")
            return
        loss = summary.loss if summary.spec is not None else None
        chosen = [term for term in self.chosen if term in summary.history]
        chart.show([Series(marked(term, loss), summary.history[term]) for term in chosen],
                   empty_text="no term chosen", note=LEGEND if estimated_terms(loss) & set(chosen) else "")

    def _fill_values(self, summary: RunSummary, terms: list[str]) -> None:
        table = self.query_one("#loss-values", DataTable)
        table.clear()
        test = summary.test_losses or {}
        loss = summary.loss if summary.spec is not None else None
        for term in term_order(sorted(set(terms) | set(test))):
            train = summary.last_train.get(term)
            table.add_row(marked(term, loss), _number(train), _number(test.get(term)), key=term)


def _number(value: float | None) -> Text:
    return Text("-" if value is None else f"{value:.4g}", justify="right")
