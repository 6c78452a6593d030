"""Train one run end to end: spec -> data -> model -> loss -> trainer -> run folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from dvae_cli import __version__
from dvae_cli.config import RunSpec
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.in_memory import ImageSource, train_test_split
from dvae_cli.data.loading import load_dataset
from dvae_cli.engine.checkpoint import STATE_FILE, save_checkpoint, save_weights
from dvae_cli.engine.device import resolve_device, seed_everything
from dvae_cli.engine.evaluate import evaluate_losses
from dvae_cli.engine.losses import Loss, loss_for_spec
from dvae_cli.engine.models import VAE, build_model
from dvae_cli.engine.trainer import Callback, Trainer, TrainState
from dvae_cli.errors import ConfigError, RunExistsError
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.folder import RunFolder, check_run_name, prepare_new_run
from dvae_cli.runs.logs import write_test_log, write_train_log
from dvae_cli.runs.summary import remove_training_lock, write_training_lock
from dvae_cli.viz.training_gif import FILE as TRAINING_GIF
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


class LossLogWriter(Callback):
    """Rewrites ``train_losses.log`` (atomically) after every epoch."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        write_train_log(self.folder.train_log_path, state.history)
        write_training_lock(self.folder.path)  # the heartbeat `dvae browse` watches


class Checkpointer(Callback):
    """Saves ``model-<epoch>.pt`` when ``epoch % every == 0`` (disentangling-vae's rule)."""

    def __init__(self, folder: RunFolder, every: int, model: VAE, optimizer: torch.optim.Optimizer, loss: Loss,
                 spec: RunSpec) -> None:
        self.folder, self.every = folder, every
        self.model, self.optimizer, self.loss, self.spec = model, optimizer, loss, spec

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None:
        if state.epoch % self.every == 0:
            save_checkpoint(self.folder.checkpoint_path(state.epoch), self.model, self.optimizer, self.loss,
                            self.spec, state.epoch + 1, state.step)


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
    return train, test


def train_run(spec: RunSpec, results_dir: Path, data_dir: Path, overwrite: bool = False,
              callbacks: Sequence[Callback] = (), log: Log | None = None) -> TrainResult:
    """Train the run described by `spec` into ``<results_dir>/<spec.name>/``.

    Writes ``specs.json`` first, ``train_losses.log`` and ``training.gif`` after every epoch,
    ``model-<epoch>.pt`` every ``checkpoint_every`` epochs, then ``model.pt``,
    ``training_state.pt`` and, unless ``no_test``, ``test_losses.log``.

    Args:
        spec: A resolved spec (`dvae_cli.config.resolve_run`).
        results_dir: Parent folder of the run folders.
        data_dir: Where datasets are cached.
        overwrite: Replace an existing run of the same name.
        callbacks: Extra trainer callbacks (e.g. a live view).
        log: Called with one-line progress messages.

    Raises:
        RunExistsError: if the run exists and `overwrite` is False.
        ConfigError, DatasetUnavailableError, NonFiniteLossError: see their docs.
    """
    log = log or (lambda message: None)
    spec.validate()
    check_run_name(spec.name)
    if RunFolder(Path(results_dir) / spec.name).exists() and not overwrite:
        raise RunExistsError(f"run '{spec.name}' already exists in {results_dir}; "
                             "use --overwrite to replace it or choose another name")
    device = resolve_device(spec.device, spec.no_cuda)
    seed_everything(spec.seed)
    train, test = prepare_data(spec, data_dir, log)
    spec.n_train, spec.n_test, spec.dvae_version = len(train), len(test), __version__
    folder = prepare_new_run(results_dir, spec.name, overwrite)
    write_json(folder.specs_path, spec.to_dict())

    seed_everything(spec.seed)
    model = build_model(list(spec.img_size or train.img_size), spec.latent_dim, spec.model_type)
    loss = loss_for_spec(spec, len(train))
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"training on {device}: {len(train):,} images ({len(test):,} for test), "
        f"{n_params:,} parameters, {spec.epochs} epochs of {len(train) // spec.batch_size:,} steps")
    trainer = Trainer(model, loss, optimizer, train, spec.batch_size, spec.epochs, spec.seed, device,
                      callbacks=[LossLogWriter(folder),
                                 Checkpointer(folder, spec.checkpoint_every, model, optimizer, loss, spec),
                                 TrainingGif(folder.path / TRAINING_GIF, model,
                                             1.0 if dataset_info(spec.dataset).background == "black" else 0.0,
                                             f"{spec.name} · {spec.loss} · {spec.dataset}"),
                                 *callbacks])
    started = time.perf_counter()
    write_training_lock(folder.path)
    try:
        history = trainer.fit()
        save_weights(folder.model_path, model)
        save_checkpoint(folder.path / STATE_FILE, model, optimizer, loss, spec, spec.epochs, trainer.state.step)
    finally:
        remove_training_lock(folder.path)

    test_losses = None
    if not spec.no_test:
        log(f"computing test losses on {len(test):,} images")
        seed_everything(spec.seed)
        test_losses = evaluate_losses(model, loss, test, spec.eval_batchsize, device)
        write_test_log(folder.test_log_path, test_losses)
    return TrainResult(folder, spec, history, test_losses, str(device), time.perf_counter() - started)
