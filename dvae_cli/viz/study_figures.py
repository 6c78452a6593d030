"""Figures of a study report (models over hyper-parameter settings and seeds), drawn from plain numbers.

Metric boxes over seeds per setting; Spearman's rho between metrics over the models;
a metric against the reconstruction loss; supervised metrics against UDR
(`dvae_cli.metrics.udr`, Duan et al. 2020, Section 4: does UDR pick the models the
metric prefers?). Missing values (None, NaN, inf) are left out; a figure with nothing
to draw is not written and its function returns False.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.catalogue.losses import loss_colour, loss_names
from dvae_cli.errors import ConfigError
from dvae_cli.metrics.udr import correlations
from dvae_cli.viz.charts import save_figure

#: The fewest models with both values for a rank correlation (fewer: NaN).
MIN_PAIRS = 3
#: Units of the scores that have one (other scores are unitless).
UNITS = {"gaussian_total_correlation": "nats", "mutual_info_score": "nats",
         "gaussian_wasserstein_correlation": "squared latent units"}
RECONSTRUCTION_LABEL = "reconstruction loss (nats per image, lower is better)"
MARKERS = ("o", "s", "^", "D", "v", "P")
#: Labels longer than this, or more settings than `MANY`, are drawn rotated.
LONG_LABEL, MANY = 10, 6


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.titlesize": 13})
    return plt


def _numbers(values: Sequence[Any]) -> np.ndarray:
    """(N,) float64 of `values`; NaN for None and for anything but a finite number."""
    out = np.full(len(values), np.nan)
    for k, value in enumerate(values):
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
                and math.isfinite(value):
            out[k] = float(value)
    return out


def _same_length(what: str, lists: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """ConfigError unless the (name, values) `lists` hold one value per model each."""
    if len({len(values) for _, values in lists}) > 1:
        raise ConfigError(f"{what}: one value per model in each list, got lengths "
                          + ", ".join(f"{name} {len(values)}" for name, values in lists))


def metric_label(metric: str) -> str:
    """The axis label of a score: its name and unit (nats per image for a ``loss`` term)."""
    unit = UNITS.get(metric) or ("nats per image" if metric.endswith("loss") else None)
    return f"{metric} ({unit})" if unit else metric


def spearman_matrix(columns: dict[str, list[float | None]]) -> tuple[list[str], np.ndarray]:
    """Pairwise-complete Spearman rank correlation between metrics.

    Args:
        columns: Metric name -> one value per model (None, NaN or inf: missing), all as long.

    Returns:
        The names in the given order and their (K, K) symmetric matrix of rho. Each entry
        uses the models that have both values; it is NaN when fewer than `MIN_PAIRS`
        models have both, or when either metric is constant over them (rho undefined);
        the diagonal is 1 where the metric itself has a defined rho, else NaN.

    Raises:
        ConfigError: if the columns differ in length.
    """
    names = list(columns)
    _same_length("spearman_matrix", list(columns.items()))
    data = [_numbers(columns[name]) for name in names]
    matrix = np.full((len(names), len(names)), np.nan)
    for i, j in zip(*np.triu_indices(len(names)), strict=True):
        both = np.isfinite(data[i]) & np.isfinite(data[j])
        x, y = data[i][both], data[j][both]
        if both.sum() < MIN_PAIRS or np.ptp(x) == 0 or np.ptp(y) == 0:
            continue
        matrix[i, j] = matrix[j, i] = 1.0 if i == j else correlations(x[:, None], y[:, None])[0, 0]
    return names, matrix


def _x_ticks(ax: Any, positions: Sequence[float], labels: Sequence[str]) -> None:
    """X tick labels, rotated when they are long or many."""
    rotate = len(labels) > MANY or max((len(label) for label in labels), default=0) > LONG_LABEL
    ax.set_xticks(positions, labels, rotation=30 if rotate else 0, ha="right" if rotate else "center")


def _save(fig: Any, path: Path) -> bool:
    """Write `fig` as PNG (atomically, its folder created if missing) and close it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, Path(path))
    return True


def metric_boxes_figure(path: Path, metric: str, settings: list[str], values: list[list[float]],
                        title: str | None = None) -> bool:
    """Box plot of `metric` over seeds, one box per setting in the given order, the seeds as jittered points.

    Args:
        path: The PNG to write (`title` replaces the default title).
        metric: The score's name (y axis).
        settings: One label per setting (``betaH B=4``).
        values: Per setting, the score of each seed (missing ones are left out).

    Returns:
        False (nothing written) if no setting has a value.

    Raises:
        ConfigError: if `settings` and `values` differ in length.
    """
    _same_length("metric_boxes_figure", [("settings", settings), ("values", values)])
    clean = [[float(v) for v in _numbers(seeds) if np.isfinite(v)] for seeds in values]
    if not any(clean):
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(settings) + 2.5), 4.5), layout="constrained")
    filled = [k for k, seeds in enumerate(clean) if seeds]
    ax.boxplot([clean[k] for k in filled], positions=[k + 1 for k in filled], widths=0.5, showfliers=False,
               medianprops={"color": "tab:orange", "linewidth": 1.6})
    rng = np.random.default_rng(0)                          # the same jitter every time
    for k, seeds in enumerate(clean):
        if seeds:
            ax.scatter(k + 1 + rng.uniform(-0.12, 0.12, len(seeds)), seeds, s=16, color="black", alpha=0.7, zorder=3)
        else:
            ax.annotate("no value", (k + 1, 0.5), xycoords=("data", "axes fraction"), ha="center", color="grey",
                        rotation=90, fontsize=8)
    labels = [f"{setting} (n={len(seeds)})" for setting, seeds in zip(settings, clean, strict=True)]
    _x_ticks(ax, range(1, len(settings) + 1), labels)
    ax.set_xlim(0.4, len(settings) + 0.6)
    ax.set_xlabel("setting (n = seeds with a value)")
    ax.set_ylabel(metric_label(metric))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title or f"{metric} over seeds: one box per setting, one point per seed")
    return _save(fig, path)


def rank_correlation_figure(path: Path, names: list[str], matrix: np.ndarray, title: str | None = None) -> bool:
    """Heat map of a rank correlation matrix (`spearman_matrix`), each cell annotated, NaN cells as '-'.

    Returns:
        False (nothing written) with fewer than 2 names.

    Raises:
        ConfigError: if `matrix` is not (len(names), len(names)).
    """
    import matplotlib

    values = np.asarray(matrix, dtype=np.float64)
    if values.shape != (len(names), len(names)):
        raise ConfigError(f"rank_correlation_figure: a ({len(names)}, {len(names)}) matrix for {len(names)} names, "
                          f"got {values.shape}")
    if len(names) < 2:
        return False
    plt = _pyplot()
    side = max(4.5, 0.7 * len(names) + 2.5)
    fig, ax = plt.subplots(figsize=(side + 1.2, side), layout="constrained")
    cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.88")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-1, vmax=1)
    for (i, j), value in np.ndenumerate(values):
        text = f"{value:.2f}" if np.isfinite(value) else "-"
        ax.text(j, i, text, ha="center", va="center", fontsize=8,
                color="white" if np.isfinite(value) and abs(value) > 0.6 else "black")
    _x_ticks(ax, range(len(names)), names)
    ax.set_yticks(range(len(names)), names)
    fig.colorbar(image, ax=ax, label="Spearman rho (unitless, -1 to 1)", shrink=0.8)
    ax.set_title(title or f"Rank correlation between metrics over the models\n('-': fewer than {MIN_PAIRS} "
                 "models with both values, or a constant metric)")
    return _save(fig, path)


def group_styles(groups: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(colour, marker) per distinct group, in order of appearance.

    A known loss gets its colour (`dvae_cli.catalogue.losses.loss_colour`), as in every
    comparison figure; other groups take matplotlib's cycle, less the losses' colours,
    and change marker each time the cycle runs out.
    """
    from matplotlib.colors import to_hex

    known = loss_names()
    taken = {to_hex(loss_colour(name)) for name in known}
    cycle = [to_hex(c) for c in _pyplot().rcParams["axes.prop_cycle"].by_key()["color"]]
    spare = [c for c in cycle if c not in taken] or cycle
    styles: dict[str, tuple[str, str]] = {}
    for group in dict.fromkeys(groups):
        k = sum(g not in known for g in styles)
        styles[group] = ((to_hex(loss_colour(group)), "o") if group in known else
                         (spare[k % len(spare)], MARKERS[(k // len(spare)) % len(MARKERS)]))
    return styles


def _scatter(ax: Any, x: np.ndarray, y: np.ndarray, groups: Sequence[str], styles: dict[str, tuple[str, str]]
             ) -> None:
    """One point per model with both values, coloured by group; each group labelled once (for the legend)."""
    for group in dict.fromkeys(groups):
        rows = np.array([g == group for g in groups]) & np.isfinite(x) & np.isfinite(y)
        if rows.any():
            colour, marker = styles[group]
            ax.scatter(x[rows], y[rows], s=28, color=colour, marker=marker, alpha=0.85, label=group,
                       edgecolors="black", linewidths=0.4)


def tradeoff_figure(path: Path, metric: str, reconstruction: list[float], values: list[float], groups: list[str],
                    title: str | None = None) -> bool:
    """Scatter of `metric` (y) against the reconstruction loss (x, nats per image), one point per model.

    Args:
        path: The PNG to write (`title` replaces the default title).
        metric: The score's name.
        reconstruction, values, groups: Per model: its reconstruction loss, its score and
            its group (a loss name gets that loss's colour, see `group_styles`).

    Returns:
        False (nothing written) if no model has both values.

    Raises:
        ConfigError: if the three lists differ in length.
    """
    _same_length("tradeoff_figure", [("reconstruction", reconstruction), ("values", values), ("groups", groups)])
    x, y = _numbers(reconstruction), _numbers(values)
    if not (np.isfinite(x) & np.isfinite(y)).any():
        return False
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
    _scatter(ax, x, y, [str(g) for g in groups], group_styles([str(g) for g in groups]))
    ax.set_xlabel(RECONSTRUCTION_LABEL)
    ax.set_ylabel(metric_label(metric))
    ax.grid(alpha=0.3)
    fig.legend(title="group", loc="outside right upper", frameon=False)
    ax.set_title(title or f"{metric} against reconstruction: one point per model")
    return _save(fig, path)


def udr_selection_figure(path: Path, udr: list[float], supervised: dict[str, list[float | None]], groups: list[str],
                         title: str | None = None, protocol: str | None = None) -> bool:
    """One panel per supervised metric: the metric (y) against UDR (x), one point per model, rho in the title.

    Args:
        path: The PNG to write (`title` replaces the default suptitle).
        udr: Each model's UDR (`dvae_cli.metrics.udr.udr_scores`; None: no partner).
        supervised: Metric name -> one value per model (None: missing).
        groups: Each model's group (its colour, see `group_styles`).
        protocol: How UDR was computed (``"lasso, dlib weighting"``), shown in the x label.

    Returns:
        False (nothing written) if no metric has a model with both values.

    Raises:
        ConfigError: if the lists differ in length.
    """
    _same_length("udr_selection_figure", [("udr", udr), ("groups", groups), *supervised.items()])
    x = _numbers(udr)
    panels = [name for name, values in supervised.items() if (np.isfinite(x) & np.isfinite(_numbers(values))).any()]
    if not panels:
        return False
    plt = _pyplot()
    labels = [str(g) for g in groups]
    styles = group_styles(labels)
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols + 1.5, 3.6 * rows + 0.6), squeeze=False,
                             layout="constrained")
    for ax, name in zip(axes.flat, panels, strict=False):
        y = _numbers(supervised[name])
        _scatter(ax, x, y, labels, styles)
        rho = spearman_matrix({"x": list(x), "y": list(y)})[1][0, 1]
        n = int((np.isfinite(x) & np.isfinite(y)).sum())
        ax.set_title(f"{name}\nSpearman rho = {rho:+.2f} (n = {n} models)" if np.isfinite(rho) else
                     f"{name}\nSpearman rho: undefined (n = {n} models)")
        ax.set_xlabel(f"UDR ({protocol}; unitless, 0 to 1)" if protocol else "UDR (unitless, 0 to 1)")
        ax.set_ylabel(metric_label(name))
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))   # narrow UDR ranges: fewer, readable ticks
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    shown = {label: handle for ax in list(axes.flat)[:len(panels)]
             for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    order = [group for group in styles if group in shown]
    fig.legend([shown[group] for group in order], order, title="group", loc="outside right center", frameon=False)
    fig.suptitle(title or "Supervised metrics against UDR (unsupervised model selection): one point per model")
    return _save(fig, path)
