"""TensorBoard: event files in the run folder's ``tb/`` (``tensorboard --logdir results``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dvae_cli.runs.layout import TENSORBOARD_DIR
from dvae_cli.trackers.base import TrackedRun, Tracker


class TensorBoardTracker(Tracker):
    """Writes scalars, images and the spec (as hyper-parameters and as text) with torch's `SummaryWriter`.

    A resumed run writes into the same ``tb/`` with ``purge_step`` at the step it
    continues from, so TensorBoard drops what an interrupted run logged after its
    last checkpoint instead of drawing two curves over those steps.
    """

    name = "tensorboard"

    def __init__(self) -> None:
        self.writer: Any = None

    def start(self, run: TrackedRun) -> dict[str, Any]:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        log_dir = run.folder / TENSORBOARD_DIR
        purge = run.first_step + 1 if run.previous is not None and run.first_step > 0 else None
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=purge, flush_secs=30)
        if run.previous is None:
            values = {key: value if isinstance(value, (int, float, str, bool)) else str(value)
                      for key, value in run.params.items()}
            for summary in hparams(values, {}):
                self.writer.file_writer.add_summary(summary)
            table = "\n".join(f"| {key} | {value} |" for key, value in sorted(run.params.items()))
            self.writer.add_text("spec", "| parameter | value |\n| --- | --- |\n" + table, 0)
        return {"id": TENSORBOARD_DIR, "url": None, "logdir": str(log_dir)}

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)

    def log_image(self, key: str, image: np.ndarray, step: int) -> None:
        self.writer.add_image(key, image, step, dataformats="HWC")

    def finish(self, status: str) -> None:
        if self.writer is not None:
            self.writer.close()
