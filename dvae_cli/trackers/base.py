"""What every tracker backend does: `Tracker` (no torch, no tracker package imported here)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TrackedRun:
    """The run a tracker mirrors into.

    Attributes:
        folder: The run folder (the source of truth).
        name: The run's name.
        params: The run's spec as flat hyper-parameters (``specs.json``'s keys; lists
            and dicts as JSON text).
        previous: What this tracker stored in ``trackers.json`` for the run before
            (its run id), or None for a run it has not seen.
        first_step: The training step logging starts from (0, or where a resumed run
            continues: steps after it that an interrupted run logged are replaced).
    """

    folder: Path
    name: str
    params: dict[str, Any]
    previous: dict[str, Any] | None
    first_step: int = 0


class Tracker(ABC):
    """A tracker backend: opened once per command, then scalars, images and metrics, then finished.

    Every method may raise anything (a server that is down, a full disk): the
    `dvae_cli.trackers.session.TrackerSession` around it warns once and stops using it.
    """

    name = "tracker"

    @abstractmethod
    def start(self, run: TrackedRun) -> dict[str, Any]:
        """Open (or continue, from ``run.previous``) the tracker's run; return what identifies it.

        The returned dict is stored under the tracker's name in ``trackers.json``:
        ``id`` (continued on ``--resume`` and by ``dvae eval``) and, where there is one,
        ``url`` (shown by ``dvae browse`` and ``dvae compare``).
        """

    @abstractmethod
    def log_scalars(self, values: dict[str, float], step: int) -> None:
        """Log finite scalars (keys like ``train/loss``, ``epoch/kl_loss``) at training step `step`."""

    @abstractmethod
    def log_image(self, key: str, image: np.ndarray, step: int) -> None:
        """Log an image (H, W, 3) uint8 at `step`."""

    @abstractmethod
    def finish(self, status: str) -> None:
        """Close: `status` is ``finished``, ``interrupted`` or ``failed``."""
