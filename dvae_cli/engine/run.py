"""Train one run end to end: spec -> data -> model -> loss -> trainer -> run folder."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from dvae_cli import __version__
from dvae_cli.config import RunSpec
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.in_memory import ImageSource, train_test_split
from dvae_cli.data.loading import load_dataset
from dvae_cli.engine.checkpoint import STATE_FILE, load_checkpoint, save_checkpoint, save_weights
from dvae_cli.engine.device import configure_threads, resolve_device, seed_everything
from dvae_cli.engine.distributed import Distributed
from dvae_cli.engine.ending import recording_outcome
from dvae_cli.engine.evaluate import check_test_set, evaluate_losses
from dvae_cli.engine.interrupts import EXIT_CODES, SIGNAL_NAMES, StopFlag
from dvae_cli.engine.losses import loss_for_spec
from dvae_cli.engine.models import build_model
from dvae_cli.engine.optim import adam
from dvae_cli.engine.trainer import Callback, StopRequested, Trainer, TrainState
from dvae_cli.errors import ConfigError, CorruptFileError, NonFiniteLossError, RunExistsError, TrainingInterrupted
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.folder import RunFolder, check_run_name, check_writable, default_results_dir, prepare_new_run
from dvae_cli.runs.logs import write_test_log, write_train_log
from dvae_cli.runs.resume import OPTIMISER
from dvae_cli.runs.summary import remove_training_lock, write_training_lock
from dvae_cli.viz.training_gif import FILE as TRAINING_GIF
from dvae_cli.wording import plural
from dvae_cli.viz.training_gif import TrainingGif

Log = Callable[[str], None]


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


class LossLogWriter(Callback):
    """Rewrites ``train_losses.log`` (atomically) after every epoch."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        write_train_log(self.folder.train_log_path, state.history)
        write_training_lock(self.folder.path)  # the heartbeat `dvae browse` watches


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


def prepare_data(spec: RunSpec, data_dir: Path, log: Log | None = None) -> tuple[ImageSource, ImageSource]:
    """The run's (train, test) images, as fixed by its dataset, test fraction and subsample."""
    data = load_dataset(spec.dataset, data_dir, log=log)
    if list(data.img_size) != list(spec.img_size or data.img_size):
        raise ConfigError(f"dataset '{spec.dataset}' has {list(data.img_size)} images, the spec says "
                          f"{spec.img_size}")
    train, test = train_test_split(data, spec.test_fraction, spec.subsample, spec.split_seed)
    if len(train) < spec.batch_size:
        raise ConfigError(f"--batch-size {spec.batch_size} is larger than the training set "
                          f"({len(train)} images); lower it or raise --subsample")
    if not spec.no_test:   # the test pass comes after hours of training: check it can run now
        how = f"--subsample {spec.subsample}, --test-fraction {spec.test_fraction:g}" if spec.subsample else \
            f"--test-fraction {spec.test_fraction:g}"
        check_test_set(spec.loss, len(test), spec.eval_batchsize, how)
    return train, test


def train_run(spec: RunSpec, results_dir: Path, data_dir: Path, overwrite: bool = False, resume: bool = False,
              callbacks: Sequence[Callback] = (), log: Log | None = None, detect_anomaly: bool = False,
              handle_signals: bool = True, compile_model: bool = False, precision: str = "fp32") -> TrainResult:
    """Train the run described by `spec` into ``<results_dir>/<spec.name>/``.

    Writes ``specs.json`` first, ``train_losses.log`` and ``training.gif`` after every epoch,
    ``model-<epoch>.pt`` and ``training_state.pt`` every ``checkpoint_every`` epochs (and
    ``training_state.pt`` on SIGINT/SIGTERM), then ``model.pt``, ``training_state.pt`` and,
    unless ``no_test``, ``test_losses.log``.

    Args:
        spec: A resolved spec (`dvae_cli.config.resolve_run`), or for `resume` the
            run's own (`dvae_cli.runs.resume.resumed_spec`).
        results_dir: Parent folder of the run folders.
        data_dir: Where datasets are cached.
        overwrite: Replace an existing run of the same name.
        resume: Continue the existing run from its newest training state; with the
            same seed on the CPU the result equals an uninterrupted run's bit for bit.
        callbacks: Extra trainer callbacks (e.g. a live view).
        log: Called with one-line progress messages.
        detect_anomaly: Run under torch's anomaly detection (slow; finds the
            operation that made a NaN).
        handle_signals: Catch SIGINT/SIGTERM to stop after the current step and save
            the state (only possible in the main thread).
        compile_model: ``torch.compile`` the model (see `Trainer`).
        precision: ``fp32`` or ``bf16`` autocast (see `Trainer`).

    Raises:
        RunExistsError: if the run exists and neither `overwrite` nor `resume` is set.
        TrainingInterrupted: on SIGINT/SIGTERM, after saving the state (exit 130/143).
        NonFiniteLossError: naming the step, the term and the last good checkpoint.
        ConfigError, CorruptFileError, DatasetUnavailableError: see their docs.
    """
    log = log or (lambda message: None)
    spec.validate()
    check_run_name(spec.name)
    dist = Distributed.from_env()
    if not dist.is_main:  # only rank 0 writes, logs and shows anything
        log, callbacks = (lambda message: None), ()
    if overwrite and resume:
        raise ConfigError("--overwrite and --resume contradict each other: choose one")
    existing = RunFolder(Path(results_dir) / spec.name)
    if existing.exists() and not (overwrite or resume):
        if not ((existing.path / STATE_FILE).exists() or existing.checkpoints() or existing.model_path.exists()):
            raise RunExistsError(f"run '{spec.name}' exists in {results_dir} but stopped before its first "
                                 "checkpoint; --resume starts it again with its settings, --overwrite replaces it "
                                 "with these, or choose another name")
        raise RunExistsError(f"run '{spec.name}' already exists in {results_dir}; use --resume to continue "
                             "it, --overwrite to replace it, or choose another name")
    if dist.is_main:
        check_writable(existing.path if resume else Path(results_dir))  # before hours of data preparation
    checkpoint = _resume_checkpoint(existing, log) if resume else None
    if checkpoint is not None and spec.world_size != dist.world_size:
        raise ConfigError(f"run '{spec.name}' was trained by {spec.world_size} process(es); resume it with "
                          f"as many (this is {dist.world_size})")
    device = dist.device(resolve_device(spec.device, spec.no_cuda))
    if device.type == "cpu" and not dist.enabled:
        configure_threads()
    dist.start(device)  # every rank has passed the checks above before rank 0 writes anything
    try:
        return _train(spec, Path(results_dir), data_dir, overwrite, checkpoint, list(callbacks), log,
                      detect_anomaly, handle_signals, compile_model, precision, dist, device)
    finally:
        dist.stop()


def _train(spec: RunSpec, results_dir: Path, data_dir: Path, overwrite: bool,
           checkpoint: tuple[Path, dict[str, Any]] | None, callbacks: list[Callback], log: Log,
           detect_anomaly: bool, handle_signals: bool, compile_model: bool, precision: str,
           dist: Distributed, device: torch.device) -> TrainResult:
    seed_everything(spec.seed)
    with dist.rank_zero_first():  # rank 0 generates or downloads a missing dataset, the others then read it
        train, test = prepare_data(spec, data_dir, log)
    folder = RunFolder(results_dir / spec.name)
    if checkpoint is not None:
        _check_resumable(spec, checkpoint, len(train), len(test))
        if int(checkpoint[1]["epoch"]) >= spec.epochs and folder.model_path.is_file():
            return _finished_result(folder, spec, device)
    else:
        spec.n_train, spec.n_test, spec.dvae_version = len(train), len(test), __version__
        spec.world_size = dist.world_size
    if dist.is_main:
        if checkpoint is not None:
            for leftover in folder.path.glob(".*.tmp"):  # half-written files of a killed process
                leftover.unlink(missing_ok=True)
        else:   # a new run, or one that stopped before its first checkpoint (nothing in it to keep)
            folder = prepare_new_run(results_dir, spec.name, overwrite or folder.specs_path.is_file())
        write_json(folder.specs_path, spec.to_dict())  # on resume, --epochs may have grown

    seed_everything(spec.seed)
    model = build_model(list(spec.img_size or train.img_size), spec.latent_dim, spec.model_type)
    loss = loss_for_spec(spec, len(train))
    optimizer = adam(model.parameters(), lr=spec.lr)
    trainer = Trainer(model, loss, optimizer, train, spec.batch_size, spec.epochs, spec.seed, device,
                      detect_anomaly=detect_anomaly, compile_model=compile_model, precision=precision, dist=dist,
                      clip_grad=spec.clip_grad)
    checkpointer = Checkpointer(folder, spec.checkpoint_every, trainer, spec)
    if dist.is_main:
        trainer.callbacks = [LossLogWriter(folder), checkpointer,
                             TrainingGif(folder.path / TRAINING_GIF, model,
                                         1.0 if dataset_info(spec.dataset).background == "black" else 0.0,
                                         f"{spec.name} · {spec.loss} · {spec.dataset}"),
                             *callbacks]
    if checkpoint is not None:
        _restore(trainer, checkpointer, checkpoint, spec, log)
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
    stop = StopFlag(notice=dist.is_main) if handle_signals else contextlib.nullcontext(None)
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
            raise TrainingInterrupted(_interrupted_message(exc, spec, results_dir),
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


def _restore(trainer: Trainer, checkpointer: Checkpointer, checkpoint: tuple[Path, dict[str, Any]],
             spec: RunSpec, log: Log) -> None:
    path, content = checkpoint
    try:
        trainer.load_state_dict(content)
    except (RuntimeError, KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CorruptFileError(f"{path} does not fit run '{spec.name}' as its specs.json describes it: "
                               f"{reason}") from None
    checkpointer.last_saved = (path, trainer.state.epoch, trainer.state.step)
    state = trainer.state
    log(f"resuming from {path.name} in epoch {state.epoch + 1} of {spec.epochs}, after step "
        f"{state.step_in_epoch:,} of its {state.steps_per_epoch:,} (step {state.step:,} of the run)")
    _apply_optimiser_changes(trainer, spec, content.get("spec") or {}, log)


def _apply_optimiser_changes(trainer: Trainer, spec: RunSpec, saved: dict[str, Any], log: Log) -> None:
    """Give the restored optimisers the resumed spec's settings; record what changed in ``spec.changes``.

    A checkpoint restores its optimiser's learning rate; `resumed_spec` lets
    ``--lr``, ``--lr-disc`` and ``--clip-grad`` differ on resume (e.g. to continue a
    diverged run from its last good checkpoint).
    """
    changed = {key: [saved.get(key), getattr(spec, key)] for key in OPTIMISER
               if key in saved and saved.get(key) != getattr(spec, key)}
    for group in trainer.optimizer.param_groups:
        group["lr"] = spec.lr
    trainer.loss.set_auxiliary_learning_rate(spec.lr_disc)
    trainer.clip_grad = spec.clip_grad
    if changed:
        spec.changes = [*spec.changes, {"step": trainer.state.step, "epoch": trainer.state.epoch + 1, **changed}]
        log("changed on resume: " + ", ".join(f"{key} {old} -> {new}" for key, (old, new) in changed.items()))


def _resume_checkpoint(folder: RunFolder, log: Log) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable training state of `folder`: ``training_state.pt``, else the last ``model-<e>.pt``.

    None for a run stopped before its first checkpoint (no training state, no
    model.pt): there is nothing to lose, and `train_run` starts it again from the
    first step with its own settings.

    Raises:
        CorruptFileError: if every training state is unreadable, or the run has a
            model.pt but no training state (e.g. disentangling-vae's runs).
    """
    candidates = [folder.path / STATE_FILE, *reversed(list(folder.checkpoints().values()))]
    problems = []
    for path in candidates:
        if not path.is_file():
            continue
        try:
            content = load_checkpoint(path)
        except CorruptFileError as exc:
            problems.append(str(exc))
            continue
        if problems:
            log(f"warning: {problems[0]}; resuming from {path.name} instead")
        return path, content
    if problems:
        raise CorruptFileError(f"run '{folder.name}' cannot be resumed: {problems[0]}")
    if not folder.model_path.exists():
        log(f"run '{folder.name}' has no training state yet (it stopped before its first checkpoint): "
            "starting it from the first step, with its settings")
        return None
    raise CorruptFileError(f"run '{folder.name}' has no training state to resume from "
                           f"(no {STATE_FILE} or model-<epoch>.pt in {folder.path})")


def _check_resumable(spec: RunSpec, checkpoint: tuple[Path, dict[str, Any]], n_train: int, n_test: int) -> None:
    path, content = checkpoint
    if spec.n_train is not None and (spec.n_train, spec.n_test) != (n_train, n_test):
        raise ConfigError(f"dataset '{spec.dataset}' now gives {n_train:,} training images, run "
                          f"'{spec.name}' was trained on {spec.n_train:,}: it cannot be resumed exactly")
    done = int(content["epoch"])
    if spec.epochs < done:
        raise ConfigError(f"--epochs {spec.epochs} is fewer than the {plural(done, 'epoch')} run '{spec.name}' "
                          f"has done ({path.name})")


def _interrupted_message(exc: StopRequested, spec: RunSpec, results_dir: Path) -> str:
    state, name = exc.state, spec.name
    where = "" if Path(results_dir) == default_results_dir() else f" --results-dir {results_dir}"
    where += f" --nproc {spec.world_size}" if spec.world_size > 1 else ""
    return (f"{SIGNAL_NAMES.get(exc.signum, 'stop')} in epoch {state.epoch + 1} after step {state.step:,}: "
            f"training state saved to {Path(results_dir) / name / STATE_FILE}; "
            f"resume with: dvae train {name} --resume{where}")


def _finished_result(folder: RunFolder, spec: RunSpec, device: torch.device) -> TrainResult:
    """What a finished run already holds (`train_run` with `resume` on it trains nothing)."""
    history = {term: [(int(epoch), float(value)) for epoch, value in rows]
               for term, rows in folder.train_losses().items()}
    test_losses = folder.test_losses()
    return TrainResult(folder, spec, history, test_losses, str(device), 0.0, already_finished=True)
