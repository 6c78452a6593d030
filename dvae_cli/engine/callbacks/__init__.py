"""Training callbacks: everything that reacts to training, outside the training loop.

The trainer (`dvae_cli.engine.trainer`) only calls `Callback` hooks. What happens at
those events lives here, one concept per module:

- `LossLogWriter` (``train_losses.log``) and `Checkpointer` (``model-<e>.pt``,
  ``training_state.pt``): the run folder's contract, which `train_run` attaches;
- anything else is attached by whoever starts training, as a `Callback` or as a
  `CallbackFactory` that gets the run's `RunContext` (its folder, spec, model and
  trainer) once they exist: the training GIF (`dvae_cli.viz.training_gif`), the live
  view of the CLI and the epoch lines (`dvae_cli.views.train`), trackers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from dvae_cli.engine.callbacks.checkpointer import Checkpointer
from dvae_cli.engine.callbacks.loss_log import LossLogWriter
from dvae_cli.engine.hooks import Callback, TrainState

if TYPE_CHECKING:
    from dvae_cli.engine.models import VAE
    from dvae_cli.engine.trainer import Trainer
    from dvae_cli.runs.folder import RunFolder
    from dvae_cli.spec import RunSpec


@dataclass(frozen=True)
class RunContext:
    """What a callback of a run may need: its folder, spec, model and trainer."""

    folder: RunFolder
    spec: RunSpec
    model: VAE
    trainer: Trainer


CallbackFactory = Callable[[RunContext], Callback]
#: What `train_run` accepts: callbacks, or factories that build one from the run.
CallbackSpec = Union[Callback, CallbackFactory]


def build_callbacks(specs: list[CallbackSpec], context: RunContext) -> list[Callback]:
    """The callbacks of `specs`, factories called with `context`."""
    return [item if isinstance(item, Callback) else item(context) for item in specs]


__all__ = ["Callback", "CallbackFactory", "CallbackSpec", "Checkpointer", "LossLogWriter", "RunContext",
           "TrainState", "build_callbacks"]
