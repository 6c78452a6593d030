"""Score any representation given as arrays: codes and factor classes in, ``dvae eval``'s scores out.

    >>> import numpy as np, dvae
    >>> report = dvae.score(codes, factors, factor_names=["shape", "scale"], metrics=["dci", "mig_discrete"])
    >>> report.scores["DCI_disentanglement"], report.protocols["DCI_disentanglement"]["split"]

`score` is what ``dvae eval --metrics`` and ``dvae score`` compute, as a function of arrays:
it checks the arrays (one-line `ConfigError` naming the bad value), chooses the metrics,
selects the images (``settings.max_images``) and calls
`dvae_cli.metrics.suite.compute_metrics`. The caller needs no torch: numpy arrays in,
plain Python out (floats, None, dictionaries and lists). Only the metrics that sample
the posterior (``mig``, ``aam``) import torch, when they run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from dvae_cli.catalogue.metrics import default_metrics, factor_free_metrics, metric_info
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.metrics.names import MetricSettings, parse_metric_names
from dvae_cli.metrics.runner import MetricsReport
from dvae_cli.metrics.sampling import stratified_subset
from dvae_cli.metrics.suite import compute_metrics

__all__ = ["MetricsReport", "check_codes", "check_factors", "check_settings", "choose_metrics", "score",
           "select_images"]

_POSITIVE = ("n_samples", "num_train", "num_eval", "batch_size", "num_variance_estimate", "bins")


def score(codes: Any, factors: Any = None, *, logvar: Any = None, factor_names: Sequence[str] | None = None,
          factor_sizes: Sequence[int] | None = None, metrics: str | Sequence[str] | None = None,
          settings: MetricSettings | Mapping[str, Any] | None = None,
          factors_to_score: Sequence[str] | None = None, log: Callable[[str], None] | None = None,
          on_score: Callable[[MetricsReport], None] | None = None,
          progress: Callable[[str, int, int], None] | None = None) -> MetricsReport:
    """The disentanglement scores of codes of images whose ground-truth factors are known.

    The metrics and their protocols are those of ``dvae eval --metrics`` (the README's
    table of metrics cites each paper and equation); the held-out scores train on some
    images and are tested on others, disjoint.

    Args:
        codes: (N, D) real numbers: the representation of N images (posterior means, or
            any deterministic code). A numpy array or anything numpy converts; a torch
            tensor is used as it is (on its device).
        factors: (N, K) integer classes >= 0 of the images' ground-truth factors (class c of
            factor k is its c-th value); None: no factors, and only the metrics that need
            none (``unsupervised``).
        logvar: (N, D) log-variances of a Gaussian posterior around `codes` (None: a
            deterministic code; the metrics that sample the posterior, ``mig`` and
            ``aam``, are then refused, and left out of the defaults with a note).
        factor_names: K distinct names (default ``factor_0``, ``factor_1``, ...).
        factor_sizes: How many values each factor has (default: its largest class + 1).
        metrics: Metric names (``["dci", "mig_discrete"]``, ``"dci,sap"`` or ``"all"``; see
            ``dvae eval --help``); None: ``dvae eval --metrics``'s defaults that these
            inputs allow (with a note to `log` for each left out).
        settings: Sample sizes and seed: a `dvae_cli.metrics.names.MetricSettings` or a
            mapping of its fields (``{"num_train": 1000, "num_eval": 500, "seed": 1}``);
            ``max_images`` scores that many rows, chosen with balanced factor values.
        factors_to_score: Score only these factors (names); default: every factor with more
            than one value (and Chen et al.'s dSprites factors for ``mig``/``aam``).
        log: Called with a line as each metric starts, with the notes (``note: ...``) and warnings.
        on_score: Called with the report after each metric (``dvae eval`` writes its files then).
        progress: Called with (phase, done, total) during long computations.

    Returns:
        A `MetricsReport`: ``scores`` (score name -> float, or None when undefined, with the
        reason under ``protocols[name]["not_computed"]``), ``protocols`` (score name -> how
        it was computed: estimator, images, split, seed) and ``details`` (the per-factor
        detail ``metrics_detail.json`` holds; ``seconds`` per metric).

    Raises:
        ConfigError: for codes that are not (N, D) finite real numbers, log-variances of
            another shape, factors that are not (N, K) integers >= 0 (or their names and
            sizes), a bad setting, a metric that needs factors without them, and the
            refusals of `dvae_cli.metrics.suite.check_inputs` (too few images, a factor
            that does not vary, ``mig`` without log-variances, ...).
        UnknownNameError: for an unknown metric, factor or setting name.
    """
    codes, logvar = check_codes(codes, logvar)
    n = int(codes.shape[0])
    classes, names, sizes = check_factors(factors, n, factor_names, factor_sizes)
    settings = check_settings(settings)
    chosen, notes = choose_metrics(metrics, has_factors=classes.shape[1] > 0, has_posterior=logvar is not None)
    for note in notes:
        if log is not None:
            log(f"note: {note}")
    rows, selection = select_images(classes if classes.shape[1] else None, n, settings.max_images, settings.seed)
    if rows is not None:
        codes, classes = codes[rows], classes[rows]
        logvar = None if logvar is None else logvar[rows]
    report = compute_metrics(codes, logvar, classes, names, sizes, chosen, settings, factors_to_score, log=log,
                             on_score=on_score, progress=progress)
    if rows is not None:
        report.protocols = {key: {**value, "image_selection": selection} for key, value in report.protocols.items()}
    return report


def check_codes(codes: Any, logvar: Any = None) -> tuple[Any, Any]:
    """`codes` (and `logvar`) checked to be (N, D) finite real numbers: numpy float64, or the torch tensors given.

    Raises:
        ConfigError: naming the shape or dtype found, or the first row and latent that is
            NaN or infinite.
    """
    codes = _checked("codes", codes)
    if logvar is not None:
        logvar = _checked("logvar", logvar)
        if tuple(logvar.shape) != tuple(codes.shape):
            raise ConfigError(f"logvar must have the shape of codes {tuple(codes.shape)}, got {tuple(logvar.shape)}")
    return codes, logvar


def _checked(name: str, values: Any) -> Any:
    """One (N, D) array of finite real numbers (a torch tensor is checked by its own methods, kept as it is)."""
    is_tensor = hasattr(values, "detach") and hasattr(values, "isfinite")
    if not is_tensor:
        try:
            values = np.asarray(values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{name} must be an (N, D) array of real numbers: {exc}") from None
    shape = tuple(values.shape)
    if len(shape) != 2:
        hint = "; add a latent dimension (codes[:, None])" if len(shape) == 1 else ""
        raise ConfigError(f"{name} must have shape (N, D), got {shape}{hint}")
    if shape[0] < 2 or shape[1] < 1:
        raise ConfigError(f"{name} must hold at least 2 images and 1 latent, got shape {shape}")
    if is_tensor:
        if not values.dtype.is_floating_point:
            raise ConfigError(f"{name} must be floating point, got {values.dtype}")
        bad = (~values.isfinite()).nonzero()
        where = None if len(bad) == 0 else (int(bad[0][0]), int(bad[0][1]))
    else:
        if values.dtype == bool or not (np.issubdtype(values.dtype, np.floating)
                                        or np.issubdtype(values.dtype, np.integer)):
            raise ConfigError(f"{name} must be real numbers, got dtype {values.dtype}")
        values = values.astype(np.float64, copy=False)
        bad = np.argwhere(~np.isfinite(values))
        where = None if len(bad) == 0 else (int(bad[0][0]), int(bad[0][1]))
    if where is not None:
        raise ConfigError(f"{name} hold NaN or infinite values (first at row {where[0]}, latent {where[1]})")
    return values


def check_factors(factors: Any, n: int, names: Sequence[str] | None = None, sizes: Sequence[int] | None = None
                  ) -> tuple[np.ndarray, tuple[str, ...], tuple[int, ...]]:
    """(classes (n, K) int64, names, sizes) of the factors of `n` images, checked (K = 0 when `factors` is None).

    Raises:
        ConfigError: for factors that are not (n, K) integers >= 0, names that are not K
            distinct strings, sizes that are not K integers above every class.
    """
    if factors is None:
        if names or sizes:
            raise ConfigError("factor_names and factor_sizes describe factors, but factors is None")
        return np.zeros((n, 0), dtype=np.int64), (), ()
    try:
        classes = np.asarray(factors)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"factors must be an (N, K) array of integer classes: {exc}") from None
    if classes.ndim != 2:
        hint = "; for one factor use factors[:, None]" if classes.ndim == 1 else ""
        raise ConfigError(f"factors must have shape (N, K), got {classes.shape}{hint}")
    if classes.shape[0] != n:
        raise ConfigError(f"factors must have one row per code: {n:,} codes, {classes.shape[0]:,} rows of factors")
    if not (np.issubdtype(classes.dtype, np.integer) or classes.dtype == bool):
        raise ConfigError(f"factors must be integer classes (0, 1, ...), got dtype {classes.dtype}; map the values "
                          "of a continuous factor to classes first (e.g. np.unique(v, return_inverse=True)[1])")
    classes = classes.astype(np.int64)
    k = classes.shape[1]
    if k and classes.min() < 0:
        column = int(np.argwhere(classes < 0)[0][1])
        raise ConfigError(f"factors must be classes >= 0; factor {column} has {int(classes[:, column].min())}")
    names = tuple(f"factor_{j}" for j in range(k)) if names is None else tuple(names)
    if len(names) != k or not all(isinstance(name, str) and name for name in names) or len(set(names)) != k:
        raise ConfigError(f"factor_names must be {k} distinct non-empty strings, got {list(names)}")
    largest = classes.max(axis=0) if len(classes) else np.zeros(k, dtype=np.int64)
    if sizes is None:
        sizes = tuple(int(m) + 1 for m in largest)
    else:
        sizes = tuple(sizes)
        if len(sizes) != k or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sizes):
            raise ConfigError(f"factor_sizes must be {k} integers, got {list(sizes)}")
        for name, size, top in zip(names, sizes, largest, strict=True):
            if top >= size:
                raise ConfigError(f"factor '{name}' has class {int(top)}, but factor_sizes gives it {size} values "
                                  f"(classes 0..{size - 1})")
        sizes = tuple(int(s) for s in sizes)
    return classes, names, sizes


def check_settings(settings: MetricSettings | Mapping[str, Any] | None) -> MetricSettings:
    """`settings` as `MetricSettings` (a mapping gives some of its fields), checked.

    Raises:
        UnknownNameError: for a field `MetricSettings` does not have.
        ConfigError: for a sample size that is not a positive integer, a seed that is not an
            integer, a negative prune threshold.
    """
    if settings is None:
        return MetricSettings()
    if isinstance(settings, Mapping):
        fields = [f.name for f in dataclasses.fields(MetricSettings)]
        for key in settings:
            if key not in fields:
                raise UnknownNameError("metric setting", str(key), fields)
        settings = MetricSettings(**settings)
    if not isinstance(settings, MetricSettings):
        raise ConfigError(f"settings must be a MetricSettings or a mapping of its fields, got {type(settings).__name__}")
    for key in (*_POSITIVE, *(("max_images",) if settings.max_images is not None else ())):
        value = getattr(settings, key)
        if not _is_int(value) or value < 1:
            raise ConfigError(f"setting {key} must be a positive integer, got {value!r}")
    if not _is_int(settings.seed):
        raise ConfigError(f"setting seed must be an integer, got {settings.seed!r}")
    if not isinstance(settings.prune_threshold, (int, float)) or not settings.prune_threshold >= 0:
        raise ConfigError(f"setting prune_threshold must be a number >= 0, got {settings.prune_threshold!r}")
    return settings


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def choose_metrics(metrics: str | Sequence[str] | None, has_factors: bool = True, has_posterior: bool = True
                   ) -> tuple[tuple[str, ...], list[str]]:
    """The metric names to compute, and the notes on the defaults left out.

    Args:
        metrics: Names, a comma-separated string or ``"all"``; None: the default metrics
            (`dvae_cli.catalogue.metrics.default_metrics`), without those the inputs cannot
            feed: the ones that need factors when there are none (then the factor-free
            metrics), the ones that sample the posterior when there are no log-variances.
        has_factors: Whether the images come with ground-truth factors.
        has_posterior: Whether log-variances come with the codes.

    Raises:
        UnknownNameError: for an unknown metric name.
        ConfigError: for no name, or a named metric that needs the factors there are not.
    """
    if metrics is not None:
        chosen = parse_metric_names(metrics if isinstance(metrics, str) else ",".join(metrics))
        needing = [name for name in chosen if metric_info(name).needs_factors]
        if needing and not has_factors:
            free = factor_free_metrics()
            raise ConfigError(f"--metric {','.join(needing)} need{'s' if len(needing) == 1 else ''} ground-truth "
                              f"factors, and none were given"
                              + (f" (the metrics that need none: {', '.join(free)})" if free else ""))
        return chosen, []
    notes = []
    chosen = default_metrics()
    if not has_factors:
        chosen = factor_free_metrics()
        notes.append(f"no ground-truth factors: computing the metrics that need none ({', '.join(chosen)})")
    if not has_posterior:
        sampling = [name for name in chosen if metric_info(name).needs_posterior]
        if sampling:
            chosen = tuple(name for name in chosen if name not in sampling)
            notes.append(f"no log-variances: {', '.join(sampling)} (which sample the posterior) left out")
    if not chosen:
        raise ConfigError("no default metric can score these inputs; name the metrics (--metric)")
    return chosen, notes


def select_images(classes: np.ndarray | None, n: int, limit: int | None, seed: int) -> tuple[np.ndarray | None, str]:
    """Which of `n` images to score when only `limit` are to be (``--max-images``), and how they were chosen.

    With factors, every factor's values are balanced (`dvae_cli.metrics.sampling.stratified_subset`);
    without, the images are drawn at random. Both draws are seeded by `seed`.

    Returns:
        (sorted row indices, or None for every image; a description for the protocols).
    """
    if limit is None or limit >= n:
        return None, f"all {n:,} images"
    rng = np.random.default_rng(seed)
    if classes is not None:
        return (stratified_subset(classes, limit, rng),
                f"{limit:,} of {n:,} images, factor values balanced (seed {seed})")
    return (np.sort(rng.choice(n, size=limit, replace=False)),
            f"{limit:,} of {n:,} images, chosen at random (seed {seed})")
