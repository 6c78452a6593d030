"""Weights & Biases: one W&B run per dvae run, continued by id (``WANDB_MODE=offline`` and W&B's variables apply)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import numpy as np

from dvae_cli.trackers.base import TrackedRun, Tracker

#: The W&B project when ``$WANDB_PROJECT`` is not set.
DEFAULT_PROJECT = "dvae"


class WandbTracker(Tracker):
    """Logs through ``wandb.init(id=..., resume="allow")`` into the run folder's ``wandb/``.

    The W&B run id is kept in ``trackers.json``: ``--resume`` and ``dvae eval`` continue
    that run. Every other setting (entity, mode, base URL, API key) is W&B's own,
    from its environment variables and ``wandb login``.
    """

    name = "wandb"

    def __init__(self) -> None:
        self.run: Any = None

    def start(self, run: TrackedRun) -> dict[str, Any]:
        import wandb

        previous = run.previous or {}
        run_id = previous.get("id") or uuid.uuid4().hex[:12]
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT") or previous.get("project") or DEFAULT_PROJECT,
                              name=run.name, id=run_id, resume="allow", dir=str(run.folder),
                              config=run.params, reinit="create_new",
                              # dvae's own view stays readable: W&B neither prints nor wraps the console
                              settings=wandb.Settings(silent=True, console="off"))
        return {"id": self.run.id, "project": self.run.project, "url": None if self.run.offline else self.run.url}

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def log_image(self, key: str, image: np.ndarray, step: int) -> None:
        import wandb

        self.run.log({key: wandb.Image(image)}, step=step)

    def finish(self, status: str) -> None:
        if self.run is not None:
            self.run.finish(exit_code=0 if status == "finished" else 1)
