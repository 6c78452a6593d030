"""What ``dvae train`` shows around the `train` workflow: its rich live view in a terminal, else epoch lines.

The first line, the epoch lines and the summary are `dvae_cli.views.train`'s,
shared with study cells; only the live view is the terminal's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dvae_cli.cli.live import LiveView
from dvae_cli.config import Resolution
from dvae_cli.views.train import display_terms, train_with_view, training_console

if TYPE_CHECKING:
    from dvae_cli.workflows.train import TrainRequest, TrainResult


def run_training(request: TrainRequest, resolution: Resolution, interactive: bool | None = None,
                 log_every: float = 60.0) -> TrainResult:
    """Train (or resume) with a live view (or epoch lines) and the training GIF, and print a summary.

    Args:
        request: What to train and how.
        resolution: The run, resolved (`dvae_cli.workflows.train.resolve_training`).
        interactive: Show the live view (default: when stdout is a terminal); never with ``--no-progress-bar``.
        log_every: Without the live view, seconds between lines within an epoch.

    Raises:
        See `dvae_cli.workflows.train.train`.
    """
    console = training_console()
    spec = resolution.spec
    view = None
    if (console.is_terminal if interactive is None else interactive) and not spec.no_progress_bar:
        view = LiveView(console, f"{spec.name}: {spec.loss} on {spec.dataset}", display_terms(resolution))
    return train_with_view(request, resolution, console, view, log_every)
