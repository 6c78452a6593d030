"""`train`: what ``dvae train`` does, as a function: resolve the run, train it with the standard callbacks.

It owns the rules of a training: the spec from the experiments catalogue and the
overrides, or on resume the run's own spec (`resolve_training`); overwrite against
resume; the callbacks every training gets (the training GIF, the experiment trackers
of the spec, finished with the test losses). It prints nothing: a shell passes its view
as a callback and a `log` for the progress lines (``dvae train`` and a study cell use
`dvae_cli.views.train`). Several processes (``--nproc``) are the CLI's to launch.

Importing this module imports no torch; `train` does when it trains.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.catalogue.trackers import check_installed
from dvae_cli.config import Resolution, resolve_run
from dvae_cli.errors import ConfigError
from dvae_cli.runs.folder import RunFolder, default_data_dir, default_results_dir
from dvae_cli.runs.resume import resumable_folder, resumed_spec
from dvae_cli.spec import RunSpec

if TYPE_CHECKING:
    from dvae_cli.engine.callbacks import CallbackSpec

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainRequest:
    """What to train and how (the arguments of ``dvae train``, ``--nproc`` aside).

    Attributes:
        name: The run's name: its folder under `results_dir`. Without `experiment`, an
            experiment of ``experiments.toml`` by that name is used if there is one.
        experiment: The experiment to start from (``-x``; default: the rule above, else ``custom``).
        overrides: Spec values over the experiment's, by `RunSpec` field name, as typed
            (``{"epochs": 5, "loss": "btcvae", "btcvae_B": 6.0, "tracker": ["tensorboard"]}``).
            On resume only those a resumed run may change (``epochs``, the optimiser's).
        results_dir: Where run folders go (default: ``$DVAE_RESULTS_DIR`` or ``./results``).
        data_dir: Where datasets are cached (default: ``$DVAE_DATA_DIR`` or ``./data``).
        overwrite: Replace an existing run of the same name.
        resume: Continue the run from its newest training state (its ``specs.json`` is kept).
        detect_anomaly: Run under torch's anomaly detection (slow; finds the operation that made a NaN).
        handle_signals: Catch SIGINT/SIGTERM to stop after the current step and save the
            state (possible only in the main thread).
    """

    name: str
    experiment: str | None = None
    overrides: Mapping[str, Any] = field(default_factory=dict)
    results_dir: Path | None = None
    data_dir: Path | None = None
    overwrite: bool = False
    resume: bool = False
    detect_anomaly: bool = False
    handle_signals: bool = True


@dataclass
class TrainResult:
    """What `train` produced.

    Attributes:
        resolution: The run trained and where its values came from (`resolve_training`).
        folder: The run folder.
        spec: The spec trained (as ``specs.json`` records it).
        history: Loss term -> [(epoch, mean)] of every epoch (a resumed run's earlier ones included).
        test_losses: Loss term -> mean over the test set (None: ``no_test``, or stopped late).
        device: The torch device trained on.
        seconds: Training time.
        already_finished: A resumed run that had trained all its epochs: nothing was done.
    """

    resolution: Resolution
    folder: RunFolder
    spec: RunSpec
    history: dict[str, list[tuple[int, float]]]
    test_losses: dict[str, float] | None
    device: str
    seconds: float
    already_finished: bool = False


def resolve_training(request: TrainRequest) -> Resolution:
    """The run `train` trains: resolved from the experiments catalogue, or on resume the run's own spec.

    Raises:
        ConfigError: `overwrite` with `resume`, an invalid value, an override a resumed run
            cannot change, a tracker that is not installed.
        UnknownNameError: an unknown experiment, loss, dataset or tracker.
        RunNotFoundError, RunExistsError: on resume, no such run, or one being trained now.
        CorruptFileError: on resume, an unreadable ``specs.json``.
    """
    if request.resume:
        if request.overwrite:
            raise ConfigError("--overwrite and --resume contradict each other: choose one")
        folder = resumable_folder(request.results_dir or default_results_dir(), request.name)
        spec = resumed_spec(folder, dict(request.overrides), request.experiment)
        resolution = Resolution(spec=spec, experiment=spec.experiment, from_name=False, sources={})
    else:
        resolution = resolve_run(request.name, request.experiment, dict(request.overrides))
    check_installed(resolution.spec.tracker)
    return resolution


def train(request: TrainRequest, resolution: Resolution | None = None, callbacks: Sequence[CallbackSpec] = (),
          log: Log | None = None, warn: Log | None = None) -> TrainResult:
    """Train (or resume) a run into ``<results_dir>/<name>/`` with the standard callbacks.

    Every training gets the training GIF (``training.gif``) and, if its spec names
    trackers, a `dvae_cli.trackers.callback.Tracking` that mirrors it into them and is
    finished with the test losses. The engine writes the run folder (`dvae_cli.engine.run.train_run`).

    Args:
        request: What to train and how (`TrainRequest`).
        resolution: The run to train, if already resolved (`resolve_training`, or a study
            cell's); None: resolved here from `request`.
        callbacks: More callbacks (or factories of them), after the training GIF and
            before the trackers: a shell's live view or epoch lines.
        log: Called with one-line progress messages.
        warn: Called with a tracker's warning (it failed and is left out); default: Python's warnings.

    Returns:
        The `TrainResult`.

    Raises:
        RunExistsError: the run exists and neither `overwrite` nor `resume` is set.
        TrainingInterrupted: on SIGINT/SIGTERM, after saving the state (exit 130/143).
        NonFiniteLossError: naming the step, the term and the last good checkpoint.
        ConfigError, UnknownNameError, RunNotFoundError, CorruptFileError, DatasetUnavailableError:
            see `resolve_training` and `train_run`.
    """
    from dvae_cli.engine.run import TrainOptions, train_run  # imports torch
    from dvae_cli.viz.training_gif import training_gif

    resolution = resolution if resolution is not None else resolve_training(request)
    spec = resolution.spec
    chosen: list[Any] = [training_gif, *callbacks]
    tracking = None
    if spec.tracker:
        from dvae_cli.trackers.callback import Tracking

        tracking = Tracking(spec.tracker, warn=warn or (lambda line: warnings.warn(line, stacklevel=2)))
        chosen.append(tracking)
    options = TrainOptions(overwrite=request.overwrite, resume=request.resume, callbacks=chosen, log=log,
                           detect_anomaly=request.detect_anomaly, handle_signals=request.handle_signals)
    trained = train_run(spec, request.results_dir or default_results_dir(), request.data_dir or default_data_dir(),
                        options)
    if tracking is not None:
        tracking.finish(trained.test_losses)
    return TrainResult(resolution, trained.folder, trained.spec, trained.history, trained.test_losses,
                       trained.device, trained.seconds, trained.already_finished)


__all__ = ["TrainRequest", "TrainResult", "resolve_training", "train"]
