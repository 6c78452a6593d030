"""How a run ended, recorded in its folder (``outcome.json``), and what to tell a reader of it.

Written by the trainer when it stops for any reason: ``finished``, ``interrupted``
(by which signal, at which step), ``diverged`` (the step, the term, whether the
optimisation exploded, the last good checkpoint) or ``crashed`` (the error line). A
run resumed or started again removes it until it stops again. Readers (``compare``,
``browse``, ``plot``, ``eval``) show it. Standard library only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dvae_cli.errors import CorruptFileError
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import OUTCOME, TRAINING_LOCK
from dvae_cli.runs.training_lock import lock_alive

STATES: tuple[str, ...] = ("finished", "interrupted", "diverged", "crashed")


@dataclass
class Outcome:
    """How a run's last training ended.

    Attributes:
        state: One of `STATES`.
        step: The global step reached (1-based; 0 before the first step).
        epoch: The epoch it was in (1-based).
        detail: ``finished``: empty; ``interrupted``: the signal (``SIGINT``, ...);
            ``diverged``: the non-finite terms; ``crashed``: the error line.
        checkpoint: The newest good checkpoint (file name in the run folder), if any.
        exploded: For ``diverged``: whether the loss, gradients or weights grew first.
        time: When it ended (seconds since the epoch).
    """

    state: str
    step: int = 0
    epoch: int = 0
    detail: str = ""
    checkpoint: str | None = None
    exploded: bool = False
    time: float = 0.0

    def reason(self) -> str:
        """What happened, without the state: ``at step 126 (epoch 1): non-finite recon_loss (...)``."""
        where = f"at step {self.step:,} (epoch {self.epoch})" if self.step else "before its first step"
        if self.state == "finished":
            return f"after step {self.step:,}" if self.step else ""
        if self.state == "interrupted":
            return f"by {self.detail or 'a stop request'} {where}"
        if self.state == "diverged":
            cause = "the optimisation diverged" if self.exploded else "not a divergence: a bug to report"
            return f"{where}: non-finite {self.detail}; {cause}"
        return f"{where}: {self.detail}"

    def describe(self) -> str:
        """One phrase for people: ``diverged at step 126 (epoch 1): non-finite recon_loss; ...``."""
        return f"{self.state} {self.reason()}".strip()

    def remedy(self, name: str) -> str:
        """What to run next, as a sentence."""
        if self.state == "finished":
            return ""
        if self.checkpoint is None:
            return f"no checkpoint was saved before it stopped: dvae train {name} --resume starts it again"
        if self.state == "diverged" and self.exploded:
            return (f"continue from its last good checkpoint ({self.checkpoint}) with a lower learning rate: "
                    f"dvae train {name} --resume --lr <lower> [--clip-grad 10]")
        return f"continue it from {self.checkpoint}: dvae train {name} --resume"


def write_outcome(folder: Path, outcome: Outcome) -> None:
    """Record `outcome` in the run folder (atomically)."""
    outcome.time = outcome.time or time.time()
    write_json(Path(folder) / OUTCOME, asdict(outcome))


def clear_outcome(folder: Path) -> None:
    """Forget the last outcome (a run being trained again has none yet)."""
    (Path(folder) / OUTCOME).unlink(missing_ok=True)


def read_outcome(folder: Path) -> Outcome | None:
    """The recorded outcome of the run in `folder`, or None if there is none or it is unreadable."""
    try:
        data: Any = read_json(Path(folder) / OUTCOME)
    except (FileNotFoundError, CorruptFileError):
        return None
    if not isinstance(data, dict) or data.get("state") not in STATES:
        return None
    try:
        return Outcome(state=str(data["state"]), step=int(data.get("step") or 0), epoch=int(data.get("epoch") or 0),
                       detail=str(data.get("detail") or ""), checkpoint=data.get("checkpoint") or None,
                       exploded=bool(data.get("exploded")), time=float(data.get("time") or 0.0))
    except (TypeError, ValueError):
        return None


def missing_model_message(folder: Path, name: str) -> str:
    """Why the run `name` in `folder` has no model.pt, and what to run, as one line."""
    lock = Path(folder) / TRAINING_LOCK
    if lock.is_file() and lock_alive(lock):
        return f"run '{name}' has no model.pt yet: it is being trained now (model.pt is written at its end)"
    outcome = read_outcome(folder)
    if outcome is None:
        return (f"run '{name}' has no model.pt: it stopped before the end of its training; "
                f"dvae train {name} --resume finishes it")
    return f"run '{name}' has no model.pt: it {outcome.describe()}; {outcome.remedy(name)}"
