"""What an evaluation shows on a console: the tables of test losses and scores, notes, files written.

`evaluate` prints nothing; `EvaluationView` is the `EvaluateEvents` that prints its
progress to a console, and `print_tracker_links` says where its values were logged.
``dvae eval`` uses them, and so does a study cell, whose console is its log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console

from dvae_cli.console import PhaseProgress, make_table
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.layout import METRICS_LOG, METRICS_LOG_BACKUP
from dvae_cli.workflows.evaluate import EvaluateEvents, EvaluateResult, Progress

if TYPE_CHECKING:
    from dvae_cli.engine.disentanglement import MetricsResult
    from dvae_cli.engine.evaluate import Evaluation


class EvaluationView(EvaluateEvents):
    """Prints an evaluation's progress to `console`, as ``dvae eval`` shows it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.name = ""   # the run's, in the tables' titles

    def found(self, folder: RunFolder) -> None:
        self.name = folder.name

    def note(self, text: str) -> None:
        self.console.print(f"note: {text}", markup=False)

    def log(self, text: str) -> None:
        self.console.print(text, style="dim", markup=False)

    def warn(self, text: str) -> None:
        self.console.print(text, markup=False, style="yellow")

    def tested(self, evaluation: Evaluation) -> None:
        print_table(self.console, f"{self.name}: test losses on {evaluation.dataset} "
                                  f"({evaluation.n_images:,} images)", evaluation.losses)
        for note in evaluation.notes:
            self.console.print(f"note: {note}", markup=False)
        if evaluation.written is not None:
            self.console.print(f"wrote {evaluation.written}", markup=False)
        if evaluation.backup is not None:
            self.console.print(f"kept the previous test losses as {evaluation.backup}", markup=False)

    @contextmanager
    def scoring(self) -> Iterator[Progress | None]:
        with PhaseProgress(self.console) as progress:
            yield progress

    def scored(self, result: MetricsResult) -> None:
        console, report = self.console, result.report
        print_table(console, f"{self.name}: metrics on {result.dataset} ({result.n_images:,} images, "
                             f"{result.seconds:.0f} s)", report.scores)
        times = report.details.get("seconds", {})
        if times:
            console.print("time per metric: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()), markup=False)
        for key, value in report.scores.items():
            if value is None:
                reason = report.protocols.get(key, {}).get("not_computed", "")
                console.print(f"note: {key} was not computed: {reason}", markup=False)
        if result.replaced:
            console.print("replaced the earlier " + ", ".join(
                f"{key} ({'-' if old is None else format(old, '.4g')})" for key, old in result.replaced.items())
                + f" of {METRICS_LOG} (the first version is kept as {METRICS_LOG_BACKUP})", markup=False)
        console.print("wrote " + ", ".join(str(p) for p in result.written), markup=False)


def print_tracker_links(console: Console, result: EvaluateResult) -> None:
    """One line per tracker the evaluation logged into, with where its run is."""
    for name, link in result.trackers.items():
        console.print(f"logged to tracker {name}: {link}", markup=False)


def print_table(console: Console, title: str, values: Mapping[str, float | None]) -> None:
    """A two-column table of named numbers (None: "not computed")."""
    table = make_table(("name", "value"), title=title, right=("value",))
    for key, value in values.items():
        table.add_row(key, "not computed" if value is None else f"{value:.4g}")
    console.print(table)


__all__ = ["EvaluationView", "print_table", "print_tracker_links"]
