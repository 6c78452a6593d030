"""``training.gif``: how the prior traversals change over training, one frame per epoch.

A trainer callback. The GIF is rewritten (atomically) after every epoch, so an
interrupted run still has the frames of the epochs it finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from dvae_cli.engine.hooks import Callback, TrainState
from dvae_cli.runs.layout import TRAINING_GIF
from dvae_cli.runs.logs import kl_key

if TYPE_CHECKING:
    from dvae_cli.engine.callbacks import RunContext
    from dvae_cli.engine.models import VAE

#: The old name of `dvae_cli.runs.layout.TRAINING_GIF` (kept for the modules that import it from here).
FILE = TRAINING_GIF
STEPS = 10
MAX_TRAVERSAL = 2.0
FPS = 2


class TrainingGif(Callback):
    """Appends a frame of prior traversals (rows: every latent, 10 steps over ±2) per epoch.

    Each row is labelled with its latent and that epoch's KL (``z3 KL=1.20``); the
    title band ends with the epoch, on a line of its own so that every frame has
    the same size.

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
        from dvae_cli.viz.grid import write_gif

        frame = traversal_frame(self.model, means, f"epoch {state.epoch + 1} of {state.epochs}", self.title,
                                self.pad_value)
        if self.frames and self.frames[0].shape != frame.shape:  # frames read back from the GIF are RGB
            if self.frames[0].shape[:2] != frame.shape[:2]:
                self.frames = []
            elif frame.shape[2] == 1:
                frame = np.repeat(frame, 3, axis=2)
        self.frames.append(frame)
        write_gif(self.path, self.frames, FPS)


def traversal_frame(model: VAE, means: dict[str, float], epoch: str, title: str = "",
                    pad_value: float = 1.0) -> np.ndarray:
    """One frame of ``training.gif`` (H, W, C) uint8: prior traversals of every latent, labelled with its KL.

    Args:
        model: The model (put in eval mode for the decoding, then back).
        means: The epoch's means (``kl_loss_<j>`` label row j when present).
        epoch: The frame's last title line (``epoch 3 of 10``).
        title: The line above it.
        pad_value: Grid padding colour (1 = white).
    """
    from dvae_cli.viz.grid import grid_array
    from dvae_cli.viz.labels import add_row_labels, add_title, label_width
    from dvae_cli.viz.traversals import traversals

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            images = traversals(model, range(model.latent_dim), STEPS, MAX_TRAVERSAL)
    finally:
        model.train(was_training)
    frame = grid_array(images, nrow=STEPS, pad_value=pad_value)
    dim = model.latent_dim
    labels = [f"z{j} KL={_kl_text(means[kl_key(j)])}" if kl_key(j) in means else f"z{j}"
              for j in range(dim)]
    frame = add_row_labels(frame, labels, pad_value, width=label_width([f"z{dim - 1} KL=888.88"]))
    return add_title(frame, f"{title} · prior traversals ±{MAX_TRAVERSAL:g}\n{epoch}" if title else epoch,
                     pad_value)


def _kl_text(value: float) -> str:
    """A KL as wide as ``888.88`` at most (up to 99999 nats)."""
    return f"{value:.2f}" if value < 999.995 else f"{value:.0f}"


def training_gif(context: RunContext) -> TrainingGif:
    """The ``training.gif`` of a run: a `dvae_cli.engine.callbacks.CallbackFactory` for its callbacks.

    Example::

        train_run(spec, results, data, callbacks=[training_gif])
    """
    from dvae_cli.data.catalog import dataset_info

    spec = context.spec
    pad = 1.0 if dataset_info(spec.dataset).background == "black" else 0.0
    return TrainingGif(context.folder.path / FILE, context.model, pad, f"{spec.name} · {spec.loss} · {spec.dataset}")
