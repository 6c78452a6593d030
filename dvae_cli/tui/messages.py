"""Messages that thread workers post back to the UI (the only way their results arrive)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from dvae_cli.runs.watch import RunChanges
from dvae_cli.tui.data.details import RunDetails
from dvae_cli.tui.data.figures import DecodedFigure
from dvae_cli.tui.data.studies import StudyDetails


@dataclass
class RunsScanned(Message):
    """A poll of the results directory found new, changed or removed runs (or studies)."""

    #: A `dvae_cli.tui.data.results_watcher.ResultsChanges` from the browser's scan.
    changes: RunChanges
    #: The first scan (or a forced refresh).
    full: bool


@dataclass
class RunLoaded(Message):
    """The details of a run were read."""

    details: RunDetails


@dataclass
class StudyLoaded(Message):
    """The cells' states and the report of a study were read."""

    details: StudyDetails


@dataclass
class StudyStatesCounted(Message):
    """The cells of the studies in the run list were counted by state (after a poll of the results directory)."""

    #: Cells per state (`dvae_cli.tui.data.studies.study_states`) of each study, by its row key.
    states: dict[str, dict[str, int]]


@dataclass
class RunsCompared(Message):
    """The details of the marked runs were read for compare mode."""

    details: list[RunDetails]


@dataclass
class FigureDecoded(Message):
    """A figure's frames were decoded."""

    figure: DecodedFigure


@dataclass
class FigureProgressed(Message):
    """``dvae plot`` wrote a line while generating a figure."""

    plot: str
    line: str


@dataclass
class FigureGenerated(Message):
    """``dvae plot`` finished (successfully or not)."""

    run: str
    plot: str
    file: str
    returncode: int
