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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dvae_cli.catalogue import metrics as catalogue
from dvae_cli.data.catalog import dataset_info, metrics_dataset
from dvae_cli.engine.device import keep_freed_memory
from dvae_cli.engine.eval_context import EvaluationContext
from dvae_cli.engine.models import VAE
from dvae_cli.errors import ConfigError, CorruptFileError
from dvae_cli.metrics.arrays import score, select_images
from dvae_cli.metrics.suite import MetricSettings, MetricsReport, check_inputs
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import METRICS_DETAIL, METRICS_LOG, METRICS_LOG_BACKUP


@dataclass
class MetricsResult:
    """What `evaluate_metrics` computed and wrote.

    Attributes:
        replaced: Scores of ``metrics.log`` that this evaluation replaced, with their old values.
    """

    report: MetricsReport
    dataset: str
    n_images: int
    seconds: float
    written: list[Path]
    replaced: dict[str, Any]


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
                     metrics: Sequence[str] | None = None, settings: MetricSettings | None = None,
                     factors: Sequence[str] | None = None, max_images: int | None = None, device: str = "auto",
                     log: Callable[[str], None] | None = None,
                     progress: Callable[[str, int, int], None] | None = None) -> MetricsResult:
    """Score a run's representation on a dataset (`score_run` on a context of its own).

    Args:
        folder: The run (dvae's or disentangling-vae's).
        data_dir: Where datasets are.
        dataset: The dataset to score on (default: the run's).
        device: ``auto``, ``cpu`` or ``cuda``.
        log: Called with a line as each phase starts.
        metrics, settings, factors, max_images, progress: see `score_run`.

    Raises:
        CorruptFileError: if ``specs.json`` or ``model.pt`` cannot be read.
        ConfigError: see `score_run`; also if the run folder cannot be written.
    """
    context = EvaluationContext(folder, data_dir, dataset=dataset, device=device, validate=False, log=log)
    return score_run(context, metrics, settings, factors, max_images, progress)


def score_run(context: EvaluationContext, metrics: Sequence[str] | None = None,
              settings: MetricSettings | None = None, factors: Sequence[str] | None = None,
              max_images: int | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> MetricsResult:
    """Score the context's run on its dataset with ground-truth factors (unless no metric needs them).

    Everything that can be checked is checked before the images are encoded: the
    factors exist and vary among the images scored, each metric has the factors it
    needs (`dvae_cli.metrics.suite.check_inputs`); the run folder was checked writable
    with the context. ``metrics.log`` and ``metrics_detail.json`` are rewritten after
    every metric, so a failure never loses the scores already computed. Scores of other
    metrics already in ``metrics.log`` (on the same dataset) are kept; the first version
    of the file is kept as ``metrics.log.bak``.

    Args:
        context: The run, the dataset to score on (its images must have the model's
            size) and the device (`EvaluationContext`); its model and images are loaded
            here unless the test losses loaded them already.
        metrics: Registered metric names (`dvae_cli.catalogue.metrics.metric_names`; None:
            `dvae_cli.catalogue.metrics.default_metrics`, or on a dataset without factors
            `dvae_cli.catalogue.metrics.factor_free_metrics`).
        settings: Sample sizes and seed (default: disentanglement_lib's and Chen et al.'s,
            seeded with the run's seed).
        factors: Restrict the metrics to these factors.
        max_images: Score this many images, chosen with balanced factor values
            (default: `settings.max_images`, else all of them).
        progress: Called with (phase, done, total) during the long phases (``encoding``,
            ``mutual information``).

    Raises:
        ConfigError: if the dataset has no factors (and a metric needs them) or another
            image size, or the images cannot be scored (`check_inputs`).
    """
    say = context.log or (lambda message: None)
    spec, folder, name = context.spec, context.folder, context.dataset
    settings = settings or MetricSettings(seed=spec.seed)
    if metrics is None:   # on a dataset without factors, the metrics that need none
        metrics = catalogue.default_metrics() if dataset_info(name).has_factors \
            or not catalogue.factor_free_metrics() else catalogue.factor_free_metrics()
    metrics = tuple(metrics)
    scored_on_factors = catalogue.needs_factors(metrics)
    if scored_on_factors:
        metrics_dataset(name, spec.img_size)
    model = context.model()
    data = context.images()
    factors_all = data.factors
    if factors_all is None and scored_on_factors:
        raise ConfigError(f"dataset '{name}' has no ground-truth factors to score against")
    limit = max_images if max_images is not None else settings.max_images
    rows, selection = select_images(None if factors_all is None else factors_all.classes, len(data), limit,
                                    settings.seed)   # with factors, every factor value is scored
    if rows is not None:
        data = data.subset(rows)
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    if factors_all is None:   # the metrics asked for need none
        factor_names, factor_sizes, classes = (), (), np.zeros((len(data), 0), dtype=np.int64)
    else:
        factor_names, factor_sizes = factors_all.names, factors_all.sizes
        classes = data.factors.classes if data.factors is not None else factors_all.classes
    check_inputs(classes, factor_names, factor_sizes, metrics, factors)
    started = time.perf_counter()
    say(f"encoding {len(data):,} images of {name} on {context.device}")
    mean, logvar = encode(model, data, batch_size=max(spec.eval_batchsize, 256), device=context.device,
                          progress=(lambda done, total: progress("encoding", done, total)) if progress else None)
    writer = MetricsWriter(folder, name, [f"z{j}" for j in range(spec.latent_dim)], selection)
    report = score(mean, classes, logvar=logvar, factor_names=factor_names, factor_sizes=factor_sizes,
                   metrics=metrics, settings=replace(settings, max_images=limit), factors_to_score=factors, log=say,
                   on_score=writer.write, progress=progress)   # the images were selected above
    return MetricsResult(report, name, len(data), time.perf_counter() - started, writer.written, writer.replaced)


class MetricsWriter:
    """Writes ``metrics.log`` and ``metrics_detail.json`` after each metric, merged with what was there.

    Scores (and details) of the same dataset that this evaluation does not recompute
    are kept (unless `keep_previous` is False: they are not the same representation's);
    the ones it recomputes are replaced and remembered in `replaced`.
    """

    def __init__(self, folder: RunFolder, dataset: str, latent_names: list[str], selection: str = "",
                 keep_previous: bool = True) -> None:
        self.paths = [folder.path / METRICS_LOG, folder.path / METRICS_DETAIL]
        self.dataset, self.latent_names, self.selection = dataset, latent_names, selection
        #: Whether a ``metrics.log`` was there before this evaluation (only that one is kept as ``.bak``).
        self.had_log = self.paths[0].is_file()
        self.previous = self._read(self.paths[0])
        self.previous_detail = self._read(self.paths[1])
        if self.previous.get("dataset") != dataset or not keep_previous:   # nor another dataset's scores
            self.previous, self.previous_detail = {}, {}
        self.replaced: dict[str, Any] = {}
        self.written: list[Path] = []

    @staticmethod
    def _read(path: Path) -> dict[str, Any]:
        try:
            content = read_json(path)
        except (FileNotFoundError, CorruptFileError):
            return {}
        return content if isinstance(content, dict) else {}

    def write(self, report: MetricsReport) -> None:
        log_path, detail_path = self.paths
        backup = log_path.with_name(METRICS_LOG_BACKUP)
        if self.had_log and not backup.exists():   # at the first score: the file from before this evaluation
            shutil.copy2(log_path, backup)   # keep the first values (e.g. disentangling-vae's)
        old_scores = {k: v for k, v in self.previous.items() if k not in ("protocols", "dataset")}
        self.replaced = {k: old_scores[k] for k in report.scores if k in old_scores}
        new = {key: {**value, "image_selection": self.selection} if self.selection else value
               for key, value in report.protocols.items()}
        kept = self.previous.get("protocols")
        protocols = {**(kept if isinstance(kept, dict) else {}), **new}
        write_json(log_path, {**old_scores, **report.scores, "protocols": protocols, "dataset": self.dataset})
        write_json(detail_path, {**self.previous_detail, **report.details, "dataset": self.dataset,
                                 "latent_names": self.latent_names})
        self.written = [log_path, detail_path]
