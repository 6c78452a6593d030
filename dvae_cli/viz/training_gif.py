"""``training.gif``: how the prior traversals change over training, one frame per epoch.

A trainer callback. The GIF is rewritten (atomically) after every epoch, so an
interrupted run still has the frames of the epochs it finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from dvae_cli.engine.trainer import Callback, TrainState

if TYPE_CHECKING:
    from dvae_cli.engine.models import VAE

FILE = "training.gif"
STEPS = 10
MAX_TRAVERSAL = 2.0
FPS = 2


class TrainingGif(Callback):
    """Appends a frame of prior traversals (rows: every latent, 10 steps over ±2) per epoch.

    Args:
        path: The GIF to write.
        model: The model being trained.
        pad_value: Grid padding colour (1 = white, for black-background datasets).
        title: Shown above each frame, followed by the epoch.
    """

    def __init__(self, path: Path, model: VAE, pad_value: float = 1.0, title: str = "") -> None:
        self.path, self.model, self.pad_value, self.title = Path(path), model, pad_value, title
        self.frames: list[np.ndarray] = []

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        from dvae_cli.viz.grid import grid_array
        from dvae_cli.viz.labels import add_title
        from dvae_cli.viz.plots import write_gif
        from dvae_cli.viz.traversals import traversals

        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                images = traversals(self.model, range(self.model.latent_dim), STEPS, MAX_TRAVERSAL)
        finally:
            self.model.train(was_training)
        frame = grid_array(images, nrow=STEPS, pad_value=self.pad_value)
        label = f"{self.title} · epoch {state.epoch}" if self.title else f"epoch {state.epoch}"
        self.frames.append(add_title(frame, label, self.pad_value))
        write_gif(self.path, self.frames, FPS)
