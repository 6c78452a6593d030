"""What a training shows on a console: the first line, epoch lines, the closing summary.

`train` prints nothing; `train_with_view` runs it with these around it, printing only to
the console it is given. ``dvae train`` uses it (with its rich live view in a terminal,
the CLI's `LiveView`), and so does a study cell, whose console is its log: both
show a training in the same words.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from rich.console import Console

from dvae_cli.catalogue.losses import loss_info
from dvae_cli.config import Resolution
from dvae_cli.console import make_console
from dvae_cli.engine.hooks import Callback, TrainState
from dvae_cli.runs.folder import default_results_dir
from dvae_cli.runs.logs import is_kl_key
from dvae_cli.runs.tracker_links import tracker_lines
from dvae_cli.wording import plural
from dvae_cli.workflows.train import TrainRequest, TrainResult, train

_LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "notset": 0}


def describe(resolution: Resolution, resume: bool = False) -> str:
    """The first line of ``dvae train``: which experiment and what it trains."""
    spec = resolution.spec
    weights = ", ".join(f"{k}={v}" for k, v in spec.key_params().items())
    what = f"{spec.loss}{f' ({weights})' if weights else ''} on {spec.dataset}"
    if resume:
        return f"Resuming run '{spec.name}' (experiment '{resolution.experiment}'): {what}"
    if resolution.from_name:
        return f"Using experiment '{resolution.experiment}' from experiments.toml: {what}"
    if resolution.experiment != "custom":
        return f"Run '{spec.name}' from experiment '{resolution.experiment}': {what}"
    return f"Run '{spec.name}' (no experiment, defaults and flags): {what}"


def main_terms(display_terms: Sequence[str]) -> list[str]:
    """The terms shown one per row: total, reconstruction, KL, then the loss's own."""
    return ["loss", "recon_loss", "kl_loss", *[t for t in display_terms if t not in ("loss", "recon_loss",
                                                                                     "kl_loss")]]


def format_value(value: float) -> str:
    """A loss value in 4 significant digits (one decimal from 10,000 on)."""
    return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.1f}"


def format_duration(seconds: float) -> str:
    """``1:02:03`` or ``2:03``."""
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def epoch_line(state: TrainState, means: dict[str, float], rows: Sequence[str], rate: float) -> str:
    """One plain line summarising an epoch."""
    terms = "  ".join(f"{key} {format_value(means[key])}" for key in rows if key in means)
    return (f"epoch {state.epoch + 1}/{state.epochs}  step {state.step:,}  {terms}  "
            f"({rate:,.0f} img/s, {format_duration(state.elapsed)})")


def progress_line(state: TrainState, means: dict[str, float], rows: Sequence[str], rate: float) -> str:
    """One plain line in the middle of an epoch: where it is, its speed and the running means."""
    terms = "  ".join(f"{key} {format_value(means[key])}" for key in rows if key in means)
    done = 100.0 * state.step_in_epoch / max(state.steps_per_epoch, 1)
    return (f"epoch {state.epoch + 1}/{state.epochs}  step {state.step:,} ({state.step_in_epoch:,}/"
            f"{state.steps_per_epoch:,} of the epoch, {done:.0f}%)  {terms}  ({rate:,.0f} img/s, "
            f"{format_duration(state.elapsed)})")


class EpochLines(Callback):
    """One plain line per epoch, and one at least every `every` seconds in between (logs, pipes).

    Args:
        console: Where the lines go.
        display_terms: The loss's own terms, shown after the main ones.
        every: Seconds between lines within an epoch (``--log-every``); 0: only at epoch ends.
    """

    def __init__(self, console: Console, display_terms: Sequence[str], every: float = 60.0) -> None:
        self.console = console
        self.rows = main_terms(display_terms)
        self.every = every
        self.epoch_started = time.perf_counter()
        self.images_at_start = 0
        self.last_line = time.monotonic()
        self.images_at_line = 0

    def on_epoch_start(self, state: TrainState) -> None:
        self.epoch_started = time.perf_counter()
        self.images_at_start = state.images_seen

    def on_step_end(self, state: TrainState) -> None:
        if self.every <= 0 or time.monotonic() - self.last_line < self.every:
            return
        seconds = time.monotonic() - self.last_line
        rate = (state.images_seen - self.images_at_line) / seconds if seconds > 0 else 0.0
        self.console.print(progress_line(state, state.running_means(), self.rows, rate), markup=False,
                           highlight=False)
        self.last_line, self.images_at_line = time.monotonic(), state.images_seen

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        seconds = time.perf_counter() - self.epoch_started
        rate = (state.images_seen - self.images_at_start) / seconds if seconds > 0 else 0.0
        self.console.print(epoch_line(state, means, self.rows, rate), markup=False, highlight=False)
        self.last_line, self.images_at_line = time.monotonic(), state.images_seen


def display_terms(resolution: Resolution) -> list[str]:
    """The loss's terms, in the order its catalogue entry gives them."""
    return [term for term, _ in loss_info(resolution.spec.loss).terms]


def training_console() -> Console:
    """The console a training prints to: stdout, lines never cut; silent but in the first process."""
    return make_console(soft_wrap=True, quiet=os.environ.get("RANK", "0") != "0")  # rank 0 speaks for all


def train_with_view(request: TrainRequest, resolution: Resolution, console: Console, view: Callback | None = None,
                    log_every: float = 60.0) -> TrainResult:
    """`train` with what it shows: the first line, the progress, the summary.

    Args:
        request: What to train and how.
        resolution: The run, resolved (`dvae_cli.workflows.train.resolve_training`).
        console: Where everything is printed.
        view: The progress view (a callback); None: `EpochLines` every `log_every` seconds.
        log_every: Seconds between the epoch lines' lines within an epoch.

    Raises:
        See `dvae_cli.workflows.train.train`.
    """
    spec = resolution.spec
    console.print(describe(resolution, request.resume), markup=False)
    show_info = _LEVELS.get(spec.log_level.lower(), 20) <= 20

    def log(message: str) -> None:
        if show_info:
            console.print(message, markup=False, style="dim")

    view = view if view is not None else EpochLines(console, display_terms(resolution), every=log_every)
    result = train(request, resolution, callbacks=[view], log=log,
                   warn=lambda line: console.print(line, markup=False, style="yellow"))
    print_summary(console, result)
    return result


def print_summary(console: Console, result: TrainResult) -> None:
    """Where the results are, the test losses, and what to run next."""
    folder = result.folder
    if result.already_finished:
        where = f" --results-dir {folder.path.parent}" if folder.path.parent != default_results_dir() else ""
        console.print(f"Run '{folder.name}' is finished (all {plural(result.spec.epochs, 'epoch')} trained): "
                      f"nothing to do. To train it further: dvae train {folder.name} --resume --epochs N{where}",
                      markup=False)
        return
    minutes, seconds = divmod(int(result.seconds), 60)
    console.print(f"Trained in {minutes}m {seconds:02d}s on {result.device}. Results: {folder.path}/",
                  markup=False)
    for line in tracker_lines(folder.path):
        console.print(line, markup=False)
    files = sorted(p.name for p in folder.path.iterdir() if not p.name.startswith("."))
    console.print("  " + "  ".join(files), markup=False, style="dim")
    if result.test_losses is not None:
        shown = {k: v for k, v in result.test_losses.items() if not is_kl_key(k)}
        console.print(f"Test losses ({result.spec.n_test:,} images): "
                      + "  ".join(f"{k} {v:.4g}" for k, v in shown.items()), markup=False)
    where = "" if folder.path.parent == default_results_dir() else f" --results-dir {folder.path.parent}"
    console.print(f"Next: dvae eval {folder.name} --metrics --fast --no-test{where}   (disentanglement scores, "
                  f"about a minute); dvae plot {folder.name} all{where}   (figures)", markup=False)


__all__ = ["EpochLines", "describe", "display_terms", "epoch_line", "main_terms", "print_summary", "progress_line",
           "train_with_view", "training_console"]
