"""What ``dvae train`` shows around the engine's `train_run` (which it imports, with torch, when it runs)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from dvae_cli.catalogue.losses import loss_info
from dvae_cli.cli.live import EpochLines, LiveView
from dvae_cli.cli.output import make_console
from dvae_cli.config import Resolution
from dvae_cli.engine.hooks import Callback
from dvae_cli.runs.folder import default_results_dir
from dvae_cli.trackers.links import tracker_lines
from dvae_cli.wording import plural

if TYPE_CHECKING:
    from dvae_cli.engine.run import TrainResult

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


def run_training(resolution: Resolution, results_dir: Path, data_dir: Path, overwrite: bool,
                 interactive: bool | None = None, resume: bool = False, detect_anomaly: bool = False,
                 log_every: float = 60.0) -> TrainResult:
    """Train (or resume) with a live view (or epoch lines) and the training GIF, and print a summary."""
    from dvae_cli.engine.run import TrainOptions, train_run   # imports torch
    from dvae_cli.viz.training_gif import training_gif

    spec = resolution.spec
    rank = os.environ.get("RANK", "0")
    console = make_console(soft_wrap=True, quiet=rank != "0")  # rank 0 speaks for all
    console.print(describe(resolution, resume), markup=False)
    show_info = _LEVELS.get(spec.log_level.lower(), 20) <= 20

    def log(message: str) -> None:
        if show_info:
            console.print(message, markup=False, style="dim")

    display_terms = [term for term, _ in loss_info(spec.loss).terms]
    view: Callback
    if (console.is_terminal if interactive is None else interactive) and not spec.no_progress_bar:
        view = LiveView(console, f"{spec.name}: {spec.loss} on {spec.dataset}", display_terms)
    else:
        view = EpochLines(console, display_terms, every=log_every)
    callbacks: list[Any] = [training_gif, view]
    tracking = None
    if spec.tracker:
        from dvae_cli.trackers.callback import Tracking

        tracking = Tracking(spec.tracker, warn=lambda line: console.print(line, markup=False, style="yellow"))
        callbacks.append(tracking)
    options = TrainOptions(overwrite=overwrite, resume=resume, callbacks=callbacks, log=log,
                           detect_anomaly=detect_anomaly)
    result = train_run(spec, results_dir, data_dir, options)
    if tracking is not None:
        tracking.finish(result.test_losses)
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
        shown = {k: v for k, v in result.test_losses.items() if not k.startswith("kl_loss_")}
        console.print(f"Test losses ({result.spec.n_test:,} images): "
                      + "  ".join(f"{k} {v:.4g}" for k, v in shown.items()), markup=False)
    where = "" if folder.path.parent == default_results_dir() else f" --results-dir {folder.path.parent}"
    console.print(f"Next: dvae eval {folder.name} --metrics --fast --no-test{where}   (disentanglement scores, "
                  f"about a minute); dvae plot {folder.name} all{where}   (figures)", markup=False)
