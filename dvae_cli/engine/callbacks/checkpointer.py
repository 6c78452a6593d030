"""Checkpoints of a run: ``model-<epoch>.pt`` and ``training_state.pt``, never a non-finite one."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from dvae_cli.engine.checkpoint import STATE_FILE, save_checkpoint
from dvae_cli.engine.hooks import Callback, TrainState
from dvae_cli.runs.folder import RunFolder
from dvae_cli.wording import plural

if TYPE_CHECKING:
    from dvae_cli.engine.trainer import Trainer
    from dvae_cli.spec import RunSpec


class Checkpointer(Callback):
    """Saves the training state: every `every` epochs, at least every `state_seconds`, and on interrupt.

    ``model-<epoch>.pt`` is written when ``epoch % every == 0`` (disentangling-vae's
    rule) and ``training_state.pt`` with it, both holding the full state; an
    interrupt or `state_seconds` without a save write ``training_state.pt`` alone.
    The weights are checked to be finite before anything is written, so a
    non-finite step never replaces a good checkpoint.

    Attributes:
        last_saved: (path, epoch, step) of the newest checkpoint written or resumed from.
    """

    def __init__(self, folder: RunFolder, every: int, trainer: Trainer, spec: RunSpec,
                 state_seconds: float = 600.0) -> None:
        self.folder, self.every, self.trainer, self.spec = folder, every, trainer, spec
        self.state_seconds = state_seconds
        self.last_saved: tuple[Path, int, int] | None = None
        self._last_time = time.monotonic()

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        if state.epoch % self.every == 0:
            self.save(self.folder.checkpoint_path(state.epoch), self.folder.path / STATE_FILE)
        elif time.monotonic() - self._last_time >= self.state_seconds:
            self.save(self.folder.path / STATE_FILE)

    def on_interrupt(self, state: TrainState) -> None:
        self.save(self.folder.path / STATE_FILE)

    def save(self, *paths: Path) -> None:
        """Write the current training state to each path (after checking the weights)."""
        self.trainer.check_weights()
        content = self.trainer.state_dict()
        for path in paths:
            save_checkpoint(path, content, self.spec)
        self.last_saved = (paths[-1], content["epoch"], content["step"])
        self._last_time = time.monotonic()

    def describe_last(self) -> str:
        """Where the last good checkpoint is, for messages."""
        if self.last_saved is None:
            return "no checkpoint was saved yet"
        path, epochs_done, step = self.last_saved
        return f"last good checkpoint: {path} ({plural(epochs_done, 'epoch')} done, step {step:,})"
