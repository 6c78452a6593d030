"""One cell of a study, start to end, in this process: train (or resume), evaluate, plot, keep the UDR codes.

What `run_cell` does depends only on the cell's run folder (`dvae_cli.study.state`),
so running it again after any stop continues where it stopped: a finished training
is not repeated, an interrupted one resumes from its checkpoint, and only the missing
scores are computed. The local executor runs it as ``dvae study cell`` in a process
of its own; the Slurm executor runs it inside the job (`dvae_cli.study.slurm`).

A cell trains and evaluates through the same workflows as ``dvae train`` and ``dvae eval``
(`dvae_cli.workflows`), shown by the same console views, so its log reads as theirs;
its figures are `dvae_cli.viz.plots.plot_run`'s, as ``dvae plot``'s.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from dvae_cli.config import Catalogue, Resolution, resolve_run
from dvae_cli.console import make_console
from dvae_cli.errors import ConfigError
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.study_layout import UDR_CODES, failed_attempt_name, failed_dir
from dvae_cli.study.plan import Cell, StudyPlan
from dvae_cli.study.state import (
    UDR_MISSING,
    StudyRecord,
    cell_status,
    has_checkpoint,
    missing_evaluation,
    study_dir,
)
from dvae_cli.views.evaluate import EvaluationView
from dvae_cli.views.train import train_with_view, training_console
from dvae_cli.workflows.evaluate import EvaluateRequest, evaluate
from dvae_cli.workflows.train import TrainRequest, resolve_training

#: Seconds between a cell's progress lines within an epoch (its log's sign of life).
CELL_LOG_EVERY = 30.0
#: Images of the shared sample whose codes UDR compares (disentanglement_lib's ``num_data_points``).
UDR_IMAGES = 1000
UDR_SEED = 0
UDR_CHUNK = 256


def cell_resolution(plan: StudyPlan, cell: Cell, catalogue: Catalogue | None = None) -> Resolution:
    """The run `cell` trains: the study's base experiment, its params, grid values and seed.

    Args:
        catalogue: The experiments catalogue, read once for all the cells (read here if None).

    Raises:
        ConfigError, UnknownNameError: for a value the run would refuse.
    """
    resolution = resolve_run(cell.name, plan.experiment, plan.flags(cell), catalogue=catalogue)
    resolution.spec.study = plan.record(cell)
    return resolution


def run_cell(plan: StudyPlan, cell: Cell, results_dir: Path, data_dir: Path, device: str = "auto",
             log: Callable[[str], None] = print) -> str:
    """Bring `cell` to ``done``; return the state it ends in.

    Raises:
        DvaeError: what training or evaluation raised (the run folder records how training ended).
    """
    where = study_dir(plan, results_dir)
    where.mkdir(parents=True, exist_ok=True)
    resolution = cell_resolution(plan, cell)
    status = cell_status(plan, cell, results_dir, expected=resolution.spec.to_dict())
    if status.state == "conflict":
        raise ConfigError(f"cell '{cell.name}' holds another run ({status.detail}); the study does not overwrite "
                          "it: rename the study or move the folder away")
    folder = RunFolder(where / cell.name)
    if status.state in ("retry", "failed"):
        _set_aside(folder, where)
        status = cell_status(plan, cell, results_dir)
    if status.state in ("left", "interrupted", "extend"):
        _train(resolution, folder, where, data_dir)
    if missing_evaluation(plan, folder.path):
        evaluate_cell(plan, folder, results_dir=where, data_dir=data_dir, device=device, log=log)
    return cell_status(plan, cell, results_dir).state


def _train(resolution: Resolution, folder: RunFolder, where: Path, data_dir: Path) -> None:
    console = training_console()
    if has_checkpoint(folder.path):   # the run's own spec, with the study's number of epochs
        request = TrainRequest(folder.name, overrides={"epochs": resolution.spec.typed("epochs")}, results_dir=where,
                               data_dir=data_dir, resume=True)
        train_with_view(request, resolve_training(request), console, log_every=CELL_LOG_EVERY)
    else:   # never started, or stopped before its first checkpoint: nothing in the folder to keep
        request = TrainRequest(folder.name, results_dir=where, data_dir=data_dir,
                               overwrite=folder.specs_path.is_file())
        train_with_view(request, resolution, console, log_every=CELL_LOG_EVERY)


def _set_aside(folder: RunFolder, where: Path) -> None:
    """Move a failed attempt's folder under ``.study/failed/`` (kept, never deleted) before the retry."""
    if not folder.path.exists():
        return
    failed = failed_dir(where)
    failed.mkdir(parents=True, exist_ok=True)
    target = failed / failed_attempt_name(folder.name, time.strftime('%Y%m%d-%H%M%S'))
    shutil.move(str(folder.path), str(target))


def evaluate_cell(plan: StudyPlan, folder: RunFolder, results_dir: Path, data_dir: Path, device: str = "auto",
                  log: Callable[[str], None] = print) -> None:
    """The study's evaluation of a trained cell: its metrics (the missing ones), plots and UDR codes."""
    from dvae_cli.viz.plots import plot_run

    missing = missing_evaluation(plan, folder.path)
    metrics = [name for name in missing if name != UDR_MISSING]
    if metrics:
        request = EvaluateRequest(folder.name, metrics=metrics, test=not folder.test_log_path.is_file(),
                                  fast=plan.fast_metrics, max_images=plan.max_images, device=device,
                                  trackers="none", results_dir=results_dir, data_dir=data_dir)
        evaluate(request, EvaluationView(make_console()))
    if plan.plots:
        plot_run(folder.name, list(plan.plots), results_dir=results_dir, data_dir=data_dir,
                 log=lambda line: print(line, flush=True))   # as ``dvae plot`` echoes them
    if UDR_MISSING in missing:
        write_udr_codes(folder.path, data_dir, device)
        log(f"wrote {folder.path / UDR_CODES}")


def write_udr_codes(folder: Path, data_dir: Path, device: str = "auto") -> Path:
    """Encode the study's shared sample of images with the run's model into ``udr_codes.npz``.

    The sample is `UDR_IMAGES` images of the run's dataset drawn with `UDR_SEED`, the same
    for every cell of a dataset, so that UDR compares the models on the same images. It
    holds ``means`` (N, D) float32, the posterior means, and ``kl`` (D,) float64, each
    latent's mean KL(q(z_d|x) || N(0, 1)) over the sample, in nats.
    """
    import numpy as np
    import torch

    from dvae_cli.data.loading import load_dataset
    from dvae_cli.engine.eval_context import EvaluationContext
    from dvae_cli.runs.atomic import write_with

    context = EvaluationContext(RunFolder(Path(folder)), data_dir, device=device, write=False, validate=False)
    model = context.model()
    data = load_dataset(context.spec.dataset, Path(data_dir))
    rng = np.random.default_rng(UDR_SEED)
    index = np.sort(rng.choice(len(data), size=min(UDR_IMAGES, len(data)), replace=False))
    images = data.batch(torch.from_numpy(index)).float()
    with torch.no_grad():   # in chunks of UDR_CHUNK images, in the layout the model was saved in
        codes = [model.encoder(chunk.to(context.device)) for chunk in images.split(UDR_CHUNK)]
    means = torch.cat([mean.float().cpu() for mean, _ in codes])
    logvars = torch.cat([logvar.float().cpu() for _, logvar in codes])
    mean64, logvar64 = means.double(), logvars.double()
    kl = 0.5 * (mean64.pow(2) + logvar64.exp() - 1.0 - logvar64)
    target = Path(folder) / UDR_CODES
    write_with(target, lambda handle: np.savez(handle, means=means.numpy(), kl=kl.mean(0).numpy(), index=index))
    return target


def record_attempt(plan: StudyPlan, cell: Cell, results_dir: Path, error: str, record: StudyRecord) -> None:
    """Count one failed attempt of `cell` in the study's record."""
    entry = record.cell(cell.name)
    entry["attempts"] = int(entry.get("attempts", 0)) + 1
    entry["error"] = error
    record.save(plan)
