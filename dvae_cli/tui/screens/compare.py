"""Compare mode: the marked runs' curves overlaid and their numbers side by side.

A score computed with different protocols is marked ``†`` (`dvae_cli.compare.protocols`),
an estimated term ``~`` (`dvae_cli.compare.estimated`), and notes under the table say
what differs, in which runs, and why a score is null: the rules ``dvae compare`` uses.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, SelectionList, Static
from textual.widgets.selection_list import Selection
from textual.worker import get_current_worker

from dvae_cli.compare.estimated import LEGEND, estimated_terms, marked
from dvae_cli.compare.flags import MIXED_LEGEND
from dvae_cli.compare.protocols import ProtocolMix, comparable_protocol, protocol_mix
from dvae_cli.compare.table import MIXED_MARK
from dvae_cli.runs.summary import RunSummary
from dvae_cli.tui.data.details import RunDetails, load_details
from dvae_cli.tui.messages import RunsCompared
from dvae_cli.tui.widgets.loss_chart import LossChart
from dvae_cli.tui.widgets.loss_curves import DEFAULT_TERMS, term_order
from dvae_cli.tui.widgets.loss_plot import Series
from dvae_cli.tui.widgets.run_table import STATUS_STYLES
from dvae_cli.tui.widgets.term_list import TermList


def compare_rows(details: list[RunDetails]) -> list[tuple[str, list[Text]]]:
    """The rows of the side-by-side table: one cell per run."""
    summaries = [d.summary for d in details]
    rows: list[tuple[str, list[Text]]] = [
        ("status", [Text(s.status, style=STATUS_STYLES.get(s.status, "")) for s in summaries]),
        ("dataset", [Text(s.dataset) for s in summaries]),
        ("loss", [Text(s.loss) for s in summaries]),
        ("epochs", [Text(f"{s.epochs_done}/{s.epochs_planned if s.epochs_planned is not None else '?'}")
                    for s in summaries]),
        ("active latents", [Text("-" if s.active_latents is None else f"{s.active_latents}/{len(s.kl_per_latent)}")
                            for s in summaries]),
    ]
    metrics: list[str] = []
    for s in summaries:
        metrics += [m for m in [*(s.metrics or {}), *s.not_computed] if m not in metrics]
    mixes = score_mixes(summaries)
    for name in metrics:
        label = f"{name} {MIXED_MARK}" if name in mixes else name
        rows.append((label, [_number((s.metrics or {}).get(name), 4) for s in summaries]))
    for term in DEFAULT_TERMS:
        if any(term in s.last_train for s in summaries):
            rows.append((f"train {_marked(term, summaries)}", [_number(s.last_train.get(term)) for s in summaries]))
    for term in DEFAULT_TERMS:
        if any(term in (s.test_losses or {}) for s in summaries):
            rows.append((f"test {_marked(term, summaries)}",
                         [_number((s.test_losses or {}).get(term)) for s in summaries]))
    return rows


def score_mixes(summaries: list[RunSummary]) -> dict[str, ProtocolMix]:
    """Each score the runs have that was computed with more than one protocol, and how."""
    names = list(dict.fromkeys(m for s in summaries for m in (s.metrics or {})))
    found = {}
    for name in names:
        mix = protocol_mix(name, {s.name: comparable_protocol(s.protocols.get(name), s.scores_dataset)
                                  for s in summaries if name in (s.metrics or {})})
        if mix is not None:
            found[name] = mix
    return found


def compare_notes(details: list[RunDetails]) -> list[str]:
    """What the marks of `compare_rows` mean, each mixed score's protocols and runs, each null score's reason."""
    summaries = [d.summary for d in details]
    notes = []
    if any(estimated_terms(s.loss if s.spec else None) & {*s.history, *(s.test_losses or {})} for s in summaries):
        notes.append(LEGEND)
    mixes = score_mixes(summaries)
    if mixes:
        notes.append(MIXED_LEGEND)
        notes += [f"{MIXED_MARK} {name}: {mix.describe()}" for name, mix in mixes.items()]
    notes += [f"{name} of {s.name}: not computed ({reason})" for s in summaries for name, reason in s.not_computed.items()]
    return notes


def _marked(term: str, summaries: list[RunSummary]) -> str:
    """`term`, marked as an estimate if it is one in any of the runs."""
    return next((marked(term, s.loss) for s in summaries if s.spec is not None and marked(term, s.loss) != term), term)


class CompareScreen(Screen[None]):
    """Curves of the chosen terms for every marked run, and a table with a column per run."""

    BINDINGS = [
        Binding("escape,c", "app.pop_screen", "Back"),
        Binding("l", "toggle_log", "Log/linear"),
        Binding("r", "reload", "Refresh"),
    ]

    def __init__(self, paths: list[Path], names: list[str] | None = None) -> None:
        """Compare the runs at `paths`, named `names` (their keys in the run list; default: the folder names)."""
        super().__init__()
        self.paths = list(paths)
        self.names = list(names) if names is not None else [p.name for p in self.paths]
        self.details: list[RunDetails] = []
        self.chosen: list[str] = ["loss"]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="compare-top"):
            with Vertical(id="compare-side"):
                yield Static("terms [dim](space: show/hide)[/]", classes="side-title")
                yield TermList(id="compare-terms")
            yield LossChart(plot_id="compare-plot", id="compare-chart")
        yield Static(f"comparing {len(self.paths)} runs", id="compare-title", classes="section-title")
        yield DataTable(id="compare-table", zebra_stripes=True, cursor_type="row")
        yield Static(id="compare-notes")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "compare: " + ", ".join(self.names)
        self.query_one(LossChart).show([], empty_text="reading the runs...")
        self._load(self.paths, self.names)

    def action_reload(self) -> None:
        self._load(self.paths, self.names)

    def action_toggle_log(self) -> None:
        self.query_one(LossChart).toggle_scale()

    @work(thread=True, exclusive=True, group="compare")
    def _load(self, paths: list[Path], names: list[str]) -> None:
        worker = get_current_worker()
        details = []
        for path, name in zip(paths, names, strict=True):
            if worker.is_cancelled:
                return
            try:
                details.append(load_details(path))
            except Exception as exc:  # noqa: BLE001 - shown as a broken run, never fatal
                details.append(RunDetails(RunSummary(name=name, path=path,
                                                     reason=f"cannot read the folder: {exc!r}")))
            details[-1].summary.name = name
        self.post_message(RunsCompared(details))

    def on_runs_compared(self, message: RunsCompared) -> None:
        self.details = message.details
        terms: list[str] = []
        for d in self.details:
            terms += [t for t in d.summary.history if t not in terms]
        terms = term_order(terms)
        self.chosen = [t for t in self.chosen if t in terms] or terms[:1]
        selector = self.query_one("#compare-terms", SelectionList)
        with selector.prevent(SelectionList.SelectedChanged):
            selector.clear_options()
            summaries = [d.summary for d in self.details]
            selector.add_options([Selection(_marked(t, summaries), t, t in self.chosen) for t in terms])
            selector.highlighted = 0 if terms else None
        table = self.query_one("#compare-table", DataTable)
        table.clear(columns=True)
        table.add_column("", key="row")
        for d in self.details:
            table.add_column(d.name, key=d.name)
        for label, cells in compare_rows(self.details):
            table.add_row(Text(label, style="bold"), *cells, key=label)
        notes = compare_notes(self.details)
        self.query_one("#compare-notes", Static).update(Text("\n".join(notes)))
        self.query_one("#compare-notes", Static).display = bool(notes)
        self._draw()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        self.chosen = term_order(list(event.selection_list.selected))
        self._draw()

    def _draw(self) -> None:
        series = []
        for d in self.details:
            for term in self.chosen:
                points = d.summary.history.get(term)
                if points:
                    shown = marked(term, d.summary.loss if d.summary.spec is not None else None)
                    label = d.name if len(self.chosen) == 1 else f"{d.name}:{shown}"
                    series.append(Series(label, points))
        self.query_one(LossChart).show(series, empty_text="no term chosen" if self.details else "no run")


def _number(value: float | None, digits: int = 4) -> Text:
    return Text("-" if value is None else f"{value:.{digits}g}", justify="right")
