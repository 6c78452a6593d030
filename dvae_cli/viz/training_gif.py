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

    def on_train_start(self, state: TrainState) -> None:
        """On resume, keep the frames of the epochs already done."""
        if state.epoch > 0 and not self.frames and self.path.is_file():
            import imageio.v3 as iio

            try:
                frames = iio.imread(self.path, index=None)
            except Exception:  # noqa: BLE001 - a damaged GIF only costs the old frames
                return
            self.frames = [np.ascontiguousarray(frame[..., :3]) for frame in frames[:state.epoch]]

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
        label = f"{self.title} · epoch {state.epoch + 1}" if self.title else f"epoch {state.epoch + 1}"
        frame = add_title(frame, label, self.pad_value)
        if self.frames and self.frames[0].shape != frame.shape:  # frames read back from the GIF are RGB
            if self.frames[0].shape[:2] != frame.shape[:2]:
                self.frames = []
            elif frame.shape[2] == 1:
                frame = np.repeat(frame, 3, axis=2)
        self.frames.append(frame)
        write_gif(self.path, self.frames, FPS)
