"""What ``dvae score`` shows on a console: the encoder found, notes, progress, the table of scores, files written.

`score` prints nothing; `ScoreView` is the `ScoreEvents` that prints its progress to a
console, with the tables of ``dvae eval`` (`dvae_cli.views.evaluate.EvaluationView`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from dvae_cli.views.evaluate import EvaluationView
from dvae_cli.workflows.evaluate import Progress
from dvae_cli.workflows.score import ScoreEvents

if TYPE_CHECKING:
    from dvae_cli.engine.disentanglement import MetricsResult
    from dvae_cli.engine.encoders import EncoderSource


class ScoreView(ScoreEvents):
    """Prints a scoring's progress to `console`, as ``dvae score`` shows it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._tables = EvaluationView(console)   # the notes, progress lines and score tables of dvae eval

    def found(self, source: EncoderSource, out: Path) -> None:
        self._tables.name = source.name
        self.console.print(f"scoring {source.format} encoder {source.reference} into {out}", markup=False)

    def note(self, text: str) -> None:
        self._tables.note(text)

    def log(self, text: str) -> None:
        self._tables.log(text)

    @contextmanager
    def scoring(self) -> Iterator[Progress | None]:
        with self._tables.scoring() as progress:
            yield progress

    def scored(self, result: MetricsResult) -> None:
        self._tables.scored(result)


__all__ = ["ScoreView"]
