"""One cell of a study, start to end, in this process: train (or resume), evaluate, plot, keep the UDR codes.

What `run_cell` does depends only on the cell's run folder (`dvae_cli.study.state`),
so running it again after any stop continues where it stopped: a finished training
is not repeated, an interrupted one resumes from its checkpoint, and only the missing
scores are computed. The local executor runs it as ``dvae study cell`` in a process
of its own; the Slurm executor runs it inside the job (`dvae_cli.study.slurm`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from dvae_cli.catalogue.losses import loss_info
from dvae_cli.config import Catalogue, Resolution, resolve_run
from dvae_cli.errors import ConfigError
from dvae_cli.runs.folder import RunFolder
from dvae_cli.study.plan import Cell, StudyPlan
from dvae_cli.study.state import (
    UDR_CODES,
    WORK_DIR,
    StudyRecord,
    cell_status,
    has_checkpoint,
    missing_evaluation,
    study_dir,
)

#: Images of the shared sample whose codes UDR compares (disentanglement_lib's ``num_data_points``).
UDR_IMAGES = 1000
UDR_SEED = 0


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
    from dvae_cli.cli.train_view import run_training
    from dvae_cli.runs.resume import resumed_spec

    if has_checkpoint(folder.path):
        wanted = resolution.spec   # resumed_spec multiplies --epochs as resolve_run did (FactorVAE's two halves)
        per_step = loss_info(wanted.loss).batches_per_step if wanted.factor_doubled else 1
        spec = resumed_spec(folder, {"epochs": wanted.epochs // per_step})
        resumed = Resolution(spec=spec, experiment=spec.experiment, from_name=False, sources={})
        run_training(resumed, where, data_dir, overwrite=False, interactive=False, resume=True, log_every=30.0)
    else:   # never started, or stopped before its first checkpoint: nothing in the folder to keep
        run_training(resolution, where, data_dir, overwrite=folder.specs_path.is_file(), interactive=False,
                     log_every=30.0)


def _set_aside(folder: RunFolder, where: Path) -> None:
    """Move a failed attempt's folder under ``.study/failed/`` (kept, never deleted) before the retry."""
    if not folder.path.exists():
        return
    failed = where / WORK_DIR / "failed"
    failed.mkdir(parents=True, exist_ok=True)
    target = failed / f"{folder.name}.{time.strftime('%Y%m%d-%H%M%S')}"
    shutil.move(str(folder.path), str(target))


def evaluate_cell(plan: StudyPlan, folder: RunFolder, results_dir: Path, data_dir: Path, device: str = "auto",
                  log: Callable[[str], None] = print) -> None:
    """The study's evaluation of a trained cell: its metrics (the missing ones), plots and UDR codes."""
    from dvae_cli.cli.eval import eval_command
    from dvae_cli.cli.plot import plot_command

    missing = missing_evaluation(plan, folder.path)
    metrics = [name for name in missing if name != "udr codes"]
    if metrics:
        eval_command(folder.name, no_test=folder.test_log_path.is_file(), metric=",".join(metrics),
                     fast=plan.fast_metrics, max_images=plan.max_images,
                     device=device, results_dir=results_dir, data_dir=data_dir, tracker="none")
    if plan.plots:
        plot_command(folder.name, list(plan.plots), results_dir=results_dir, data_dir=data_dir)
    if "udr codes" in missing:
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
    from dvae_cli.run_handle import load_run
    from dvae_cli.runs.atomic import write_with

    run = load_run(folder, device=device)
    data = load_dataset(run.spec.dataset, Path(data_dir))
    rng = np.random.default_rng(UDR_SEED)
    index = np.sort(rng.choice(len(data), size=min(UDR_IMAGES, len(data)), replace=False))
    images = data.batch(torch.from_numpy(index)).float()
    means, logvars = run.encode(images)
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
