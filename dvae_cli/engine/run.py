"""Train one run end to end: spec -> data -> model -> loss -> trainer -> run folder.

The engine writes the run folder's contract (specs.json, the loss log, checkpoints,
model.pt, outcome.json, test losses); everything else that reacts to training (the
training GIF, the live view, trackers) is a callback its caller attaches
(`TrainOptions.callbacks`). It imports nothing from the figures (viz) or the shells (the CLI).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from dvae_cli.data.in_memory import ImageSource
from dvae_cli.data.run_images import run_images
from dvae_cli.data.user_folder import is_folder, preprocessing
from dvae_cli.engine.callbacks import (
    CallbackSpec,
    Checkpointer,
    LossLogWriter,
    RunContext,
    build_callbacks,
)
from dvae_cli.engine.checkpoint import STATE_FILE, save_weights
from dvae_cli.engine.device import configure_threads, resolve_device, seed_everything
from dvae_cli.engine.distributed import Distributed
from dvae_cli.engine.ending import recording_outcome
from dvae_cli.engine.evaluate import check_test_set, evaluate_losses
from dvae_cli.engine.interrupts import EXIT_CODES, StopFlag
from dvae_cli.engine.losses import loss_for_spec
from dvae_cli.engine.models import build_model
from dvae_cli.engine.optim import adam
from dvae_cli.engine.resuming import (
    check_resumable,
    interrupted_message,
    restore,
    resume_checkpoint,
)
from dvae_cli.engine.trainer import StopRequested, Trainer
from dvae_cli.errors import (
    ConfigError,
    NonFiniteLossError,
    RunExistsError,
    TrainingInterrupted,
)
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.folder import (
    RunFolder,
    check_run_name,
    check_writable,
    prepare_new_run,
)
from dvae_cli.runs.logs import write_test_log
from dvae_cli.runs.training_lock import remove_training_lock, write_training_lock
from dvae_cli.spec import RunSpec
from dvae_cli.version import __version__
from dvae_cli.wording import plural

Log = Callable[[str], None]


def _silent(message: str) -> None:
    """A `Log` that says nothing."""


@dataclass
class TrainResult:
    """What `train_run` produced."""

    folder: RunFolder
    spec: RunSpec
    history: dict[str, list[tuple[int, float]]]
    test_losses: dict[str, float] | None
    device: str
    seconds: float
    #: True when `train_run(resume=True)` found the run already finished and trained nothing.
    already_finished: bool = False


def prepare_data(spec: RunSpec, data_dir: Path, log: Log | None = None) -> tuple[ImageSource, ImageSource]:
    """The run's (train, test) images (`dvae_cli.data.run_images`), checked to suit its batch sizes."""
    train, test = run_images(spec, data_dir, log)
    if len(train) < spec.batch_size:
        raise ConfigError(f"--batch-size {spec.batch_size} is larger than the training set "
                          f"({len(train)} images); lower it or raise --subsample")
    if not spec.no_test:   # the test pass comes after hours of training: check it can run now
        how = f"--subsample {spec.subsample}, --test-fraction {spec.test_fraction:g}" if spec.subsample else \
            f"--test-fraction {spec.test_fraction:g}"
        check_test_set(spec.loss, len(test), spec.eval_batchsize, how)
    return train, test


@dataclass
class TrainOptions:
    """How to run a training (what to train is the spec).

    Attributes:
        overwrite: Replace an existing run of the same name.
        resume: Continue the existing run from its newest training state; with the
            same seed on the CPU the result equals an uninterrupted run's bit for bit.
        callbacks: Callbacks (or factories of them, given the run's `RunContext`)
            beyond the run folder's own writers: a live view, the training GIF
            (`dvae_cli.viz.training_gif.training_gif`), trackers.
        log: Called with one-line progress messages.
        detect_anomaly: Run under torch's anomaly detection (slow; finds the
            operation that made a NaN).
        handle_signals: Catch SIGINT/SIGTERM to stop after the current step and save
            the state (only possible in the main thread).
    """

    overwrite: bool = False
    resume: bool = False
    callbacks: Sequence[CallbackSpec] = ()
    log: Log | None = None
    detect_anomaly: bool = False
    handle_signals: bool = True


def train_run(spec: RunSpec, results_dir: Path, data_dir: Path, options: TrainOptions | None = None,
              **option_values: Any) -> TrainResult:
    """Train the run described by `spec` into ``<results_dir>/<spec.name>/``.

    Writes ``specs.json`` first, ``train_losses.log`` after every epoch, ``model-<epoch>.pt``
    and ``training_state.pt`` every ``checkpoint_every`` epochs (and ``training_state.pt`` on
    SIGINT/SIGTERM), then ``model.pt``, ``training_state.pt``, ``outcome.json`` and, unless
    ``no_test``, ``test_losses.log``. The spec decides what is trained, precision and
    ``torch.compile`` included; `options` how.

    Args:
        spec: A resolved spec (`dvae_cli.config.resolve_run`), or for a resumed run
            the run's own (`dvae_cli.runs.resume.resumed_spec`).
        results_dir: Parent folder of the run folders.
        data_dir: Where datasets are cached.
        options: How to run it (`TrainOptions`); or give its fields as keywords
            (``train_run(spec, results, data, resume=True, callbacks=[...])``).

    Raises:
        RunExistsError: if the run exists and neither `overwrite` nor `resume` is set.
        TrainingInterrupted: on SIGINT/SIGTERM, after saving the state (exit 130/143).
        NonFiniteLossError: naming the step, the term and the last good checkpoint.
        ConfigError, CorruptFileError, DatasetUnavailableError: see their docs.
    """
    options = replace(options or TrainOptions(), **option_values)
    log = options.log or _silent
    spec.validate()
    spec.resolve_loss_defaults().validate()   # a spec built by hand: specs.json records the derived defaults
    check_run_name(spec.name)
    dist = Distributed.from_env()
    if not dist.is_main:  # only rank 0 writes, logs and shows anything
        log = _silent
        options = replace(options, callbacks=())
    options = replace(options, log=log)
    if options.overwrite and options.resume:
        raise ConfigError("--overwrite and --resume contradict each other: choose one")
    existing = RunFolder(Path(results_dir) / spec.name)
    if existing.exists() and not (options.overwrite or options.resume):
        if not ((existing.path / STATE_FILE).exists() or existing.checkpoints() or existing.model_path.exists()):
            raise RunExistsError(f"run '{spec.name}' exists in {results_dir} but stopped before its first "
                                 "checkpoint; --resume starts it again with its settings, --overwrite replaces it "
                                 "with these, or choose another name")
        raise RunExistsError(f"run '{spec.name}' already exists in {results_dir}; use --resume to continue "
                             "it, --overwrite to replace it, or choose another name")
    if dist.is_main:
        check_writable(existing.path if options.resume else Path(results_dir))  # before hours of data preparation
    checkpoint = resume_checkpoint(existing, log) if options.resume else None
    if checkpoint is not None and spec.world_size != dist.world_size:
        raise ConfigError(f"run '{spec.name}' was trained by {spec.world_size} process(es); resume it with "
                          f"as many (this is {dist.world_size})")
    device = dist.device(resolve_device(spec.device, spec.no_cuda))
    if device.type == "cpu" and not dist.enabled:
        configure_threads()
    dist.start(device)  # every rank has passed the checks above before rank 0 writes anything
    try:
        return _train(spec, Path(results_dir), data_dir, checkpoint, options, dist, device)
    finally:
        dist.stop()


def _train(spec: RunSpec, results_dir: Path, data_dir: Path, checkpoint: tuple[Path, dict[str, Any]] | None,
           options: TrainOptions, dist: Distributed, device: torch.device) -> TrainResult:
    log: Log = options.log or _silent
    seed_everything(spec.seed)
    with dist.rank_zero_first():  # rank 0 generates or downloads a missing dataset, the others then read it
        train, test = prepare_data(spec, data_dir, log)
    folder = RunFolder(results_dir / spec.name)
    if checkpoint is not None:
        check_resumable(spec, checkpoint, len(train), len(test))
        if int(checkpoint[1]["epoch"]) >= spec.epochs and folder.model_path.is_file():
            return _finished_result(folder, spec, device)
    else:
        spec.n_train, spec.n_test, spec.dvae_version = len(train), len(test), __version__
        spec.world_size = dist.world_size
        if is_folder(spec.dataset):
            spec.data_preprocessing = preprocessing(spec.dataset)
    if dist.is_main:
        if checkpoint is not None:
            for leftover in folder.path.glob(".*.tmp"):  # half-written files of a killed process
                leftover.unlink(missing_ok=True)
        else:   # a new run, or one that stopped before its first checkpoint (nothing in it to keep)
            folder = prepare_new_run(results_dir, spec.name, options.overwrite or folder.specs_path.is_file())
        write_json(folder.specs_path, spec.to_dict())  # on resume, --epochs may have grown

    seed_everything(spec.seed)
    model = build_model(list(spec.img_size or train.img_size), spec.latent_dim, spec.model_type)
    loss = loss_for_spec(spec, len(train))
    optimizer = adam(model.parameters(), lr=spec.lr)
    trainer = Trainer(model, loss, optimizer, train, spec.batch_size, spec.epochs, spec.seed, device,
                      detect_anomaly=options.detect_anomaly, compile_model=spec.compile, precision=spec.precision,
                      dist=dist, clip_grad=spec.clip_grad)
    checkpointer = Checkpointer(folder, spec.checkpoint_every, trainer, spec)
    if dist.is_main:
        context = RunContext(folder, spec, model, trainer)
        trainer.callbacks = [LossLogWriter(folder), checkpointer, *build_callbacks(list(options.callbacks), context)]
    if checkpoint is not None:
        restore(trainer, checkpointer, checkpoint, spec, log)
        if dist.is_main:
            write_json(folder.specs_path, spec.to_dict())   # with the optimiser changes it recorded
    else:
        n_params = sum(p.numel() for p in model.parameters())
        log(f"training on {device}{f' x {dist.world_size} processes' if dist.enabled else ''}: "
            f"{len(train):,} images ({len(test):,} for test), {n_params:,} parameters, "
            f"{plural(spec.epochs, 'epoch')} of {plural(trainer.state.steps_per_epoch, 'step')}")
    if dist.rank > 0:  # the same weights everywhere, but each rank its own noise
        torch.manual_seed(spec.seed + 7919 * dist.rank + trainer.state.step)

    started = time.perf_counter()
    stop = StopFlag(notice=dist.is_main) if options.handle_signals else contextlib.nullcontext(None)
    with stop as flag:
        trainer.stop = flag
        if dist.is_main:
            write_training_lock(folder.path)
        try:
            with recording_outcome(folder.path, trainer, lambda: checkpointer.last_saved, dist.is_main):
                history = trainer.fit()
                if dist.is_main:
                    save_weights(folder.model_path, model)
                    checkpointer.save(folder.path / STATE_FILE)
        except StopRequested as exc:
            raise TrainingInterrupted(interrupted_message(exc, spec, results_dir),
                                      EXIT_CODES.get(exc.signum, 130)) from None
        except NonFiniteLossError as exc:
            raise NonFiniteLossError(f"{exc}; {checkpointer.describe_last()}",
                                     exc.term, exc.step, exc.epoch, exc.exploded) from None
        finally:
            if dist.is_main:
                remove_training_lock(folder.path)
        stopped_late = bool(flag)

    test_losses = None
    if stopped_late:
        log("stopped after the last epoch: model.pt is saved; skipping the test losses "
            f"(dvae eval {spec.name} computes them)")
    elif not spec.no_test and dist.is_main:
        log(f"computing test losses on {len(test):,} images")
        seed_everything(spec.seed)
        loss.evaluation_step = trainer.state.step   # the annealing state training ended with
        test_losses = evaluate_losses(model, loss, test, spec.eval_batchsize, device)
        write_test_log(folder.test_log_path, test_losses)
    return TrainResult(folder, spec, history, test_losses, str(device), time.perf_counter() - started)


def _finished_result(folder: RunFolder, spec: RunSpec, device: torch.device) -> TrainResult:
    """What a finished run already holds (`train_run` with `resume` on it trains nothing)."""
    history = {term: [(int(epoch), float(value)) for epoch, value in rows]
               for term, rows in folder.train_losses().items()}
    test_losses = folder.test_losses()
    return TrainResult(folder, spec, history, test_losses, str(device), 0.0, already_finished=True)
