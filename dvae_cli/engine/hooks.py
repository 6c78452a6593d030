"""What the trainer calls and what it shows: `Callback`, `TrainState`, `StopRequested` (no torch).

A callback (a view, a writer, a tracker) only needs these, so modules that define
callbacks import nothing heavy until training starts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dvae_cli.engine.health import RunningMeans
    from dvae_cli.engine.trainer import Trainer


#: How often a view of training refreshes, and trackers log the running means (per second).
VIEW_REFRESH_PER_SECOND = 4


def _running_means() -> RunningMeans:
    from dvae_cli.engine.health import RunningMeans

    return RunningMeans()


@dataclass
class TrainState:
    """What callbacks see of a training run.

    Attributes:
        epoch: Current epoch, 0-based.
        epochs: Total number of epochs.
        step: Global training step, 1-based after the first step (annealing uses it).
        step_in_epoch: Steps done in the current epoch.
        steps_per_epoch: Steps in an epoch.
        batch_size: Images per step.
        images_seen: Images processed since this `fit` started.
        started: `time.perf_counter()` when `fit` started.
        running: Running means of the current epoch's terms.
        history: Per-epoch means of every term so far: term -> [(epoch, value)].
    """

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    batch_size: int
    step_in_epoch: int = 0
    images_seen: int = 0
    started: float = field(default_factory=time.perf_counter)
    running: RunningMeans = field(default_factory=_running_means)
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def running_means(self) -> dict[str, float]:
        return self.running.means()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class Callback:
    """Hooks called by `Trainer.fit`; override what you need."""

    def setup(self, trainer: Trainer) -> None:
        """Called once when `fit` starts, before `on_train_start`, with the trainer itself."""

    def on_train_start(self, state: TrainState) -> None: ...

    def on_epoch_start(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState) -> None: ...

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None: ...

    def on_interrupt(self, state: TrainState) -> None:
        """A stop was requested: the step is finished and the weights are finite."""

    def on_train_end(self, state: TrainState) -> None: ...

    def on_train_abort(self, state: TrainState) -> None:
        """`fit` is leaving with an exception (interrupt, non-finite loss, Ctrl-C twice)."""


class StopRequested(Exception):
    """Raised by `Trainer.fit` after a stop flag was honoured (`on_interrupt` has run)."""

    def __init__(self, signum: int, state: TrainState) -> None:
        super().__init__(f"stopped by signal {signum}")
        self.signum, self.state = signum, state
