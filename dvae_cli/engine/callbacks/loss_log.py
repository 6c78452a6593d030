"""``train_losses.log``, rewritten after every epoch (and the heartbeat of a run being trained)."""

from __future__ import annotations

from dvae_cli.engine.hooks import Callback, TrainState
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.logs import write_train_log
from dvae_cli.runs.training_lock import write_training_lock


class LossLogWriter(Callback):
    """Rewrites ``train_losses.log`` (atomically) after every epoch, and refreshes the training lock."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        write_train_log(self.folder.train_log_path, state.history)
        write_training_lock(self.folder.path)  # the heartbeat `dvae browse` watches
