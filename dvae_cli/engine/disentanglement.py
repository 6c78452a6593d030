"""Disentanglement metrics of a run: encode the factor-labelled images, score, write the files.

Writes into the run folder:

- ``metrics.log``: JSON with one number per score (``MIG``, ``AAM`` as disentangling-vae,
  then ``MIG_discrete``, ``FactorVAE``, ``DCI_*``, ...) and, under ``protocols``, how each
  was computed (estimator, representation, factors, sample counts, seed);
- ``metrics_detail.json``: the factors x latents mutual information matrices and the
  per-factor scores that plots and ``dvae browse`` show.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dvae_cli.data.catalog import metrics_dataset
from dvae_cli.data.loading import load_dataset
from dvae_cli.engine.checkpoint import load_model
from dvae_cli.engine.device import keep_freed_memory, resolve_device
from dvae_cli.engine.models import VAE
from dvae_cli.metrics.suite import DEFAULT_METRICS, MetricSettings, MetricsReport, compute_metrics
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.folder import RunFolder

METRICS_FILE = "metrics.log"
DETAIL_FILE = "metrics_detail.json"


@dataclass
class MetricsResult:
    report: MetricsReport
    dataset: str
    n_images: int
    seconds: float
    written: list[Path]


@torch.no_grad()
def encode(model: VAE, data: object, batch_size: int = 1000, device: torch.device | str = "cpu",
           progress: Callable[[int, int], None] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior (mean, logvar), each (N, D), of every image of `data`, on `device`."""
    model = model.to(device).to(memory_format=torch.channels_last).eval()
    if torch.device(device).type == "cpu":
        keep_freed_memory()   # batches of 1000 re-fault ~130 MB of activations each otherwise
    total = len(data)  # type: ignore[arg-type]
    means, logvars = [], []
    for start in range(0, total, batch_size):
        index = torch.arange(start, min(start + batch_size, total))
        x = data.batch(index).to(device).contiguous(memory_format=torch.channels_last)  # type: ignore[attr-defined]
        mean, logvar = model.encoder(x)
        means.append(mean.float())
        logvars.append(logvar.float())
        if progress is not None:
            progress(min(start + batch_size, total), total)
    return torch.cat(means), torch.cat(logvars)


def evaluate_metrics(folder: RunFolder, data_dir: Path, dataset: str | None = None,
                     metrics: Sequence[str] = DEFAULT_METRICS, settings: MetricSettings | None = None,
                     factors: Sequence[str] | None = None, max_images: int | None = None, device: str = "auto",
                     log: Callable[[str], None] | None = None,
                     progress: Callable[[int, int], None] | None = None) -> MetricsResult:
    """Score a run's representation on a dataset with ground-truth factors.

    Args:
        folder: The run (dvae's or disentangling-vae's).
        data_dir: Where datasets are.
        dataset: The dataset to score on (default: the run's); its images must have
            the model's size.
        metrics: Names of `dvae_cli.metrics.suite.METRIC_NAMES`.
        settings: Sample sizes and seed (default: disentanglement_lib's and Chen et al.'s).
        factors: Restrict the metrics to these factors.
        max_images: Score a seeded random subset of the images (default: all of them).
        device: ``auto``, ``cpu`` or ``cuda``.
        log, progress: Progress reporting.

    Raises:
        ConfigError: if the dataset has no factors or another image size.
    """
    say = log or (lambda message: None)
    spec = folder.read_spec()
    settings = settings or MetricSettings(seed=spec.seed)
    name = dataset or spec.dataset
    metrics_dataset(name, spec.img_size)
    torch_device = resolve_device(device)
    model = load_model(folder.model_path, spec, torch_device)
    data = load_dataset(name, data_dir, log=log)
    factors_all = data.factors
    assert factors_all is not None
    if max_images is not None and max_images < len(data):
        chosen = np.sort(np.random.default_rng(settings.seed).choice(len(data), max_images, replace=False))
        data = data.subset(chosen)
    assert data.factors is not None
    started = time.perf_counter()
    say(f"encoding {len(data):,} images of {name} on {torch_device}")
    mean, logvar = encode(model, data, batch_size=max(spec.eval_batchsize, 256), device=torch_device,
                          progress=progress)
    report = compute_metrics(mean, logvar, data.factors.classes, factors_all.names, factors_all.sizes, metrics,
                             settings, factors, log=say)
    written = [folder.path / METRICS_FILE, folder.path / DETAIL_FILE]
    backup = written[0].with_name(METRICS_FILE + ".bak")
    if written[0].is_file() and not backup.exists():
        shutil.copy2(written[0], backup)   # keep the first values (e.g. disentangling-vae's)
    write_json(written[0], {**report.scores, "protocols": report.protocols, "dataset": name})
    write_json(written[1], {**report.details, "dataset": name, "latent_names": [f"z{j}" for j in
                                                                                range(spec.latent_dim)]})
    return MetricsResult(report, name, len(data), time.perf_counter() - started, written)
