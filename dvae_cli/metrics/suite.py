"""Run a selection of the registered metrics on one representation and gather scores, protocols and details.

Pure computation: posterior parameters and factor classes in, plain dictionaries out
(`dvae_cli.engine.disentanglement` encodes images and writes the files). Which metrics
exist, what each needs and which runner computes it is `dvae_cli.catalogue.metrics`.

`check_inputs` refuses, before any image is encoded, what a metric asked for could not
score: the requirements its `MetricInfo` declares (factors at all, how many factors,
how many images of each factor value) and a factor that does not vary among the
images. `compute_metrics` runs the metrics one at a time, in the registry's order,
and hands the report to `on_score` after each, so a caller can write every score as
it completes; ``details["seconds"]`` holds each metric's wall-clock time (s). A
score that comes out NaN or infinite is stored as None with the reason in its
protocol (``not_computed``), never as NaN.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

import numpy as np

from dvae_cli.catalogue.metrics import MetricInfo, default_metrics, metric_info, metric_names
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.metrics.names import CHEN_DSPRITES_FACTORS, DEFAULT_METRICS, MetricSettings, parse_metric_names
from dvae_cli.metrics.runner import MetricInputs, MetricRunner, MetricsReport
from dvae_cli.metrics.sampling import MIN_HELD_OUT_IMAGES, held_out_split
from dvae_cli.plugins import resolve

if TYPE_CHECKING:
    import torch

__all__ = ["CHEN_DSPRITES_FACTORS", "DEFAULT_METRICS", "MetricInputs", "MetricSettings", "MetricsReport",
           "check_inputs", "choose_factors", "compute_metrics", "parse_metric_names"]


def choose_factors(names: Sequence[str], sizes: Sequence[int], wanted: Sequence[str] | None
                   ) -> tuple[list[int], list[int]]:
    """(factors for ``mig``/``aam``, factors for the other metrics), as indices.

    By default the other metrics use every factor with more than one value, and
    ``mig`` uses Chen et al.'s dSprites set when the factors are dSprites'.

    Raises:
        UnknownNameError: for a factor name that is not one of `names`.
        ConfigError: for a factor with a single value (it carries no information).
    """
    if wanted is not None:
        chosen = []
        for name in wanted:
            if name not in names:
                raise UnknownNameError("factor", name, names)
            k = list(names).index(name)
            if sizes[k] < 2:
                raise ConfigError(f"factor '{name}' has a single value and cannot be scored")
            chosen.append(k)
        return chosen, chosen
    everything = [k for k, size in enumerate(sizes) if size > 1]
    if all(name in names for name in CHEN_DSPRITES_FACTORS):
        return [list(names).index(name) for name in CHEN_DSPRITES_FACTORS], everything
    return everything, everything


def check_inputs(classes: np.ndarray, factor_names: Sequence[str], factor_sizes: Sequence[int],
                 metrics: Sequence[str], factors: Sequence[str] | None = None, has_posterior: bool = True
                 ) -> tuple[list[int], list[int]]:
    """Refuse what the metrics cannot score, before the images are encoded.

    Args:
        classes: (N, K) factor classes of the images that will be scored.
        factor_names, factor_sizes: The dataset's factors.
        metrics: Names of registered metrics (`dvae_cli.catalogue.metrics.metric_names`).
        factors: The factors asked for (None: the defaults of `choose_factors`).
        has_posterior: Whether log-variances come with the codes (a deterministic encoder's
            codes have none, and the metrics that sample the posterior cannot score them).

    Returns:
        `choose_factors`'s (factors of the `MetricInfo.chen_factors` metrics, other factors).

    Raises:
        ConfigError: for fewer than 2 images, a scored factor that takes a single value
            among them, a value taken by fewer images than a metric's
            `MetricInfo.min_images_per_value`, fewer factors than its `MetricInfo.min_factors`,
            fewer images than `MIN_HELD_OUT_IMAGES` for a held-out score, or a metric that
            samples the posterior without log-variances.
        UnknownNameError: for an unknown metric or factor name.
    """
    known = metric_names()
    for name in metrics:
        if name not in known:
            raise UnknownNameError("metric", name, known)
    infos = [metric_info(name) for name in metrics]
    classes = np.asarray(classes)
    n = len(classes)
    if n < 2:
        raise ConfigError(f"the metrics need at least 2 images, got {n}; raise --max-images")
    if not has_posterior and (sampling := [info.name for info in infos if info.needs_posterior]):
        raise ConfigError(f"--metric {','.join(sampling)} sample{'s' if len(sampling) == 1 else ''} the posterior "
                          "and need log-variances; these codes have none (leave them out, or give log-variances)")
    held_out = [info.name for info in infos if info.held_out]
    if held_out and n < MIN_HELD_OUT_IMAGES:
        raise ConfigError(f"the held-out scores ({', '.join(held_out)}) train on some images and are scored on "
                          f"others, and need at least {MIN_HELD_OUT_IMAGES} images; got {n:,} (score more images, "
                          "or leave them out)")
    scored = [info for info in infos if info.needs_factors]
    if not scored:
        return [], []
    mig_factors, other_factors = choose_factors(factor_names, factor_sizes, factors)

    def factors_of(info: MetricInfo) -> list[int]:
        return mig_factors if info.chen_factors else other_factors

    for k in sorted({k for info in scored for k in factors_of(info)}):
        if len(np.unique(classes[:, k])) < 2:
            raise ConfigError(f"factor '{factor_names[k]}' takes a single value among the {n:,} images scored; "
                              "score more images (--max-images) or leave it out (--factors)")
    for need in sorted({info.min_images_per_value for info in scored if info.min_images_per_value > 1}):
        needing = [info for info in scored if info.min_images_per_value == need]
        for k in sorted({k for info in needing for k in factors_of(info)}):
            if np.unique(classes[:, k], return_counts=True)[1].min() < need:
                few = "only one" if need == 2 else f"fewer than {need}"
                who = " and ".join(score for info in needing for score in info.scores)
                raise ConfigError(f"factor '{factor_names[k]}' has values that {few} of the {n:,} images scored "
                                  f"take{'s' if need == 2 else ''}; {who} need{'s' if len(needing) == 1 else ''} "
                                  f"at least {need} images of each value: score more images (--max-images) or "
                                  "leave the factor out (--factors)")
    for info in scored:
        if len(factors_of(info)) < info.min_factors:
            chosen = ", ".join(factor_names[k] for k in factors_of(info)) or "none"
            raise ConfigError(f"--metric {info.name} tells factors apart and needs at least {info.min_factors}; "
                              f"the factors scored are: {chosen} (add more with --factors, or leave {info.name} out)")
    return mig_factors, other_factors


def compute_metrics(mean: torch.Tensor | np.ndarray, logvar: torch.Tensor | np.ndarray | None, classes: np.ndarray,
                    factor_names: Sequence[str], factor_sizes: Sequence[int], metrics: Sequence[str] | None = None,
                    settings: MetricSettings | None = None, factors: Sequence[str] | None = None,
                    log: Callable[[str], None] | None = None,
                    on_score: Callable[[MetricsReport], None] | None = None,
                    progress: Callable[[str, int, int], None] | None = None) -> MetricsReport:
    """Every metric of `metrics` on posteriors (N, D) of images with factor `classes` (N, K).

    The held-out scores (`MetricInfo.held_out`) train on one part of the images and are
    scored on the other (`dvae_cli.metrics.sampling.held_out_split`, seeded by
    `settings.seed`); with fewer images than the protocol's points both parts shrink,
    their protocols say so (``shrunk_from``) and `log` gets one warning line.

    Args:
        mean, logvar: Posterior parameters of each image, torch tensors or numpy arrays;
            logvar None for a deterministic code (then no metric may sample the posterior).
        classes: Factor classes of each image.
        factor_names, factor_sizes: The dataset's factors.
        metrics: Registered metric names (None: `dvae_cli.catalogue.metrics.default_metrics`),
            computed in the registry's order.
        settings: Sample sizes and seed.
        factors: Restrict every metric to these factor names.
        log: Called with a line as each metric starts, and with the warnings.
        on_score: Called with the report after each metric has added its scores.
        progress: Called with (phase, done, total) during long computations.

    Raises:
        ConfigError, UnknownNameError: see `check_inputs` (checked first).
    """
    settings = settings or MetricSettings()
    metrics = default_metrics() if metrics is None else tuple(metrics)
    classes = np.asarray(classes, dtype=np.int64)
    mig_factors, other_factors = check_inputs(classes, factor_names, factor_sizes, metrics, factors,
                                              has_posterior=logvar is not None)
    codes = _as_float64(mean)
    n, latent_dim = codes.shape
    say = log or (lambda message: None)
    settings = _within_budget(settings, n, latent_dim, [factor_sizes[k] for k in mig_factors], metrics, say)
    split = held_out_split(n, settings.num_train, settings.num_eval, np.random.default_rng(settings.seed))
    if any(metric_info(name).held_out for name in metrics) and (warning := split.warning(n)) is not None:
        say(warning)
    points = np.sort(np.random.default_rng(settings.seed + 10).choice(n, min(n, settings.num_train), replace=False))
    if len(points) < settings.num_train and any(not metric_info(name).held_out and name not in ("mig", "aam")
                                                for name in metrics):
        say(f"warning: {n:,} images: the scores on points (MIG_discrete, modularity, IRS, unsupervised) use all "
            f"{n:,} instead of {settings.num_train:,} (recorded as shrunk_from in their protocols)")
    selected = classes[:, other_factors]
    inputs = MetricInputs(mean, logvar, codes, classes, factor_names, mig_factors, other_factors, settings, split,
                          codes[split.train_rows], selected[split.train_rows], codes[split.test_rows],
                          selected[split.test_rows], say, progress, x_points=codes[points],
                          y_points=selected[points])
    report = MetricsReport()
    report.details["latent_dim"] = latent_dim
    report.details["n_images"] = n
    report.details["settings"] = asdict(settings)
    seconds: dict[str, float] = report.details.setdefault("seconds", {})
    for name in metric_names():
        if name in metrics:
            runner: MetricRunner = resolve(metric_info(name).runner)
            started = time.perf_counter()
            runner(inputs, report)
            seconds[name] = round(time.perf_counter() - started, 3)
            if on_score is not None:
                on_score(report)
    return report


def _within_budget(settings: MetricSettings, n: int, latent_dim: int, sizes: Sequence[int],
                   metrics: Sequence[str], say: Callable[[str], None]) -> MetricSettings:
    """`settings` bounded to `settings.budget_s` (``--fast``), and one line with the estimated cost
    when the metrics will take more than a minute (`dvae_cli.metrics.cost.estimate_seconds`)."""
    from dvae_cli.metrics.cost import estimate_seconds

    sizes = sizes or [32]
    if settings.budget_s is not None:
        settings = settings.bounded(latent_dim, n, sizes, metrics, settings.budget_s)
        if settings.bounded_for is not None:
            say(f"note: {latent_dim} latents: --fast lowers the samples per entropy to {settings.n_samples:,} and "
                f"DCI's boosting stages to {settings.dci_trees} to stay near a minute (recorded in protocols)")
    times = estimate_seconds(n, latent_dim, sizes, metrics, settings)
    total = sum(times.values())
    if total > 60:
        costly = ", ".join(f"{name} {seconds:,.0f} s" for name, seconds in sorted(times.items(), key=lambda t: -t[1])
                           if seconds >= 1)
        say(f"estimated time of the metrics: about {total / 60:,.0f} min on 2 CPU cores ({costly}); "
            "--fast or --max-images for a quicker look")
    return settings


def _as_float64(values: Any) -> np.ndarray:
    """(N, D) float64 numpy copy of a torch tensor or an array."""
    if hasattr(values, "detach"):
        values = values.detach().double().cpu().numpy()
    return np.asarray(values, dtype=np.float64)
