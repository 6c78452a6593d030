"""Test losses: every term of a run's loss averaged over the whole test set."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dvae_cli.catalogue.losses import loss_info, loss_names
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.engine.checkpoint import load_checkpoint
from dvae_cli.engine.device import keep_freed_memory, seed_everything
from dvae_cli.engine.eval_context import EvaluationContext
from dvae_cli.engine.losses import Loss, loss_for_spec
from dvae_cli.engine.models import VAE
from dvae_cli.errors import ConfigError, CorruptFileError
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.layout import TRAINING_STATE, backup_name
from dvae_cli.runs.logs import write_test_log
from dvae_cli.wording import plural


def check_test_set(loss: str, n_images: int, batch_size: int, how: str = "") -> None:
    """Raise before any work if the test losses of `loss` cannot be computed on `n_images` images.

    Args:
        loss: The loss name.
        n_images: Size of the test set.
        batch_size: The evaluation batch size.
        how: How the test set was chosen, for the message (e.g. ``--subsample 8``).

    Raises:
        ConfigError: for an empty test set, or one (or a batch) smaller than the loss needs.
    """
    need = loss_info(loss).min_eval_batch
    where = f" ({how})" if how else ""
    if n_images == 0:
        raise ConfigError(f"the test set is empty{where}: the run holds out no test images (--test-fraction 0), "
                          "so it has no test losses; use --no-test (its metrics need no test set)")
    if n_images < max(need, 1):
        raise ConfigError(f"the test set has {plural(n_images, 'image')}{where}; the {loss} loss needs at least "
                          f"{need} to compute test losses: raise --subsample or --test-fraction, or use --no-test")
    if batch_size < need:
        raise ConfigError(f"--eval-batchsize must be >= {need} with the {loss} loss: its estimator compares each "
                          f"test image with the rest of its batch, got {batch_size}")


@torch.no_grad()
def evaluate_losses(model: VAE, loss: Loss, data: ImageSource, batch_size: int = 1000,
                    device: torch.device | str = "cpu") -> dict[str, float]:
    """Every term of `loss` in evaluation mode, averaged over all images of `data`.

    The images are cut into near-equal batches of at most `batch_size`, never smaller
    than the loss needs (its `LossInfo.min_eval_batch`: btcvae compares each image with the rest of
    its batch, so 3 images in batches of 2 make one batch of 3, not 2 + 1); each batch's
    terms are weighted by its size.
    """
    model = model.to(device).to(memory_format=torch.channels_last).eval()
    if torch.device(device).type == "cpu":
        keep_freed_memory()   # batches of 1000 re-fault ~130 MB of activations each otherwise
    loss = loss.to(device)
    n = len(data)
    need = loss_info(loss.name).min_eval_batch if loss.name in loss_names() else 1
    n_batches = max(1, min(-(-n // batch_size), n // need))
    totals: dict[str, torch.Tensor] = {}
    count = 0
    for index in np.array_split(np.arange(n), n_batches):
        x = data.batch(torch.from_numpy(index)).to(device).contiguous(memory_format=torch.channels_last)
        result = loss(model, x, None)
        for key, value in result.terms.items():
            totals[key] = totals.get(key, 0) + value.detach().double() * result.batch_size
        count += result.batch_size
    return {key: float(value / count) for key, value in totals.items()}


@dataclass
class Evaluation:
    """The test losses of a run and how they were computed."""

    losses: dict[str, float]
    dataset: str
    n_images: int
    notes: list[str]
    written: Path | None
    backup: Path | None


def evaluate_run(folder: RunFolder, data_dir: Path, dataset: str | None = None, device: str = "auto",
                 batch_size: int | None = None, write: bool = True,
                 log: Callable[[str], None] | None = None) -> Evaluation:
    """Compute a run's test losses and write ``test_losses.log`` (`evaluate_test_set` on a context of its own).

    Works on dvae runs and on disentangling-vae runs. The first time an existing
    ``test_losses.log`` is replaced, it is kept as ``test_losses.log.bak``.

    Args:
        folder: The run.
        data_dir: Where the datasets are.
        dataset: Evaluate on another dataset of the same image size.
        device: ``auto``, ``cpu`` or ``cuda``.
        batch_size: Images per evaluation batch (default: the run's ``eval_batchsize``).
        write: Write ``test_losses.log``.
        log: Called with progress messages.

    Raises:
        CorruptFileError: if ``specs.json`` or ``model.pt`` is unreadable or invalid.
        ConfigError, DatasetUnavailableError: a dataset that does not fit or is not there.
    """
    context = EvaluationContext(folder, data_dir, dataset=dataset, device=device, write=write, log=log)
    return evaluate_test_set(context, batch_size=batch_size)


def evaluate_test_set(context: EvaluationContext, batch_size: int | None = None) -> Evaluation:
    """The test losses of the context's run on its dataset; written into ``test_losses.log`` if it writes.

    The test images are the dataset's, split as the run split its own; the loss is
    rebuilt from the spec and evaluated at the step training ended with (from
    ``training_state.pt``; FactorVAE's discriminator comes from there too).

    Args:
        context: The run, its dataset and device (`EvaluationContext`); ``context.writes``
            decides whether ``test_losses.log`` is written (the first version kept as
            ``test_losses.log.bak``).
        batch_size: Images per evaluation batch (default: the run's ``eval_batchsize``).

    Raises:
        CorruptFileError: if ``model.pt`` or ``training_state.pt`` is unreadable or invalid.
        ConfigError, DatasetUnavailableError: a dataset that does not fit or is not there, or a
            test set too small for the loss (`check_test_set`).
    """
    spec, folder = context.spec, context.folder
    model = context.model()
    train, data = context.split()
    n_train = spec.n_train or len(train)
    check_test_set(spec.loss, len(data), batch_size or spec.eval_batchsize)
    loss = loss_for_spec(spec, n_train)
    notes = []
    state_path = folder.path / TRAINING_STATE
    state = load_checkpoint(state_path) if state_path.is_file() else None
    if state is not None:   # the annealing state training ended with (betaB's C, the annealed weights)
        loss.evaluation_step = int(state["step"])
    elif spec.reg_anneal > 0:
        notes.append("the run's last training step is unknown (no training state): annealed terms are "
                     "evaluated at the end of their schedule")
    try:
        notes += loss.prepare_evaluation(state)   # e.g. FactorVAE's discriminator, trained with the run
    except CorruptFileError as exc:
        raise CorruptFileError(f"{state_path}: {exc}") from None
    seed_everything(spec.seed)
    losses = evaluate_losses(model, loss, data, batch_size or spec.eval_batchsize, context.device)
    written = backup = None
    if context.writes:
        path = folder.test_log_path
        original = path.with_name(backup_name(path.name))
        if path.is_file() and not original.exists():
            shutil.copy2(path, original)  # keep the first values (e.g. disentangling-vae's)
            backup = original
        write_test_log(path, losses)
        written = path
    return Evaluation(losses, context.dataset, len(data), notes, written, backup)


__all__ = ["Evaluation", "evaluate_losses", "evaluate_run", "evaluate_test_set"]
