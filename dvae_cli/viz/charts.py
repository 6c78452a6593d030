"""Matplotlib figures of a run's logs and metrics: losses, KL per latent, mutual information."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from dvae_cli.errors import ConfigError
from dvae_cli.runs.atomic import write_with
from dvae_cli.runs.jsonfile import as_float
from dvae_cli.runs.layout import METRICS_DETAIL
from dvae_cli.runs.logs import (
    KL_TOTAL,
    LossHistory,
    kl_keys,
    kl_per_latent,
    parse_kl_key,
)
from dvae_cli.runs.metrics_detail import MutualInfo, read_metrics_detail
from dvae_cli.runs.summary import ACTIVE_KL

RECON_TERMS = ("recon_loss",)
TOTAL_TERMS = ("loss",)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 11, "axes.titlesize": 12, "figure.titlesize": 13})
    return plt


def save_figure(fig: Any, path: Path, dpi: int = 100) -> None:
    """Write a matplotlib figure as PNG, atomically, and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)

    def write(handle: IO[bytes]) -> None:
        handle.write(buffer.getvalue())

    write_with(path, write)


def epoch_axis(ax: Any, epochs: Any) -> None:
    """Integer epoch ticks (counted from 1) within the epochs run; a single epoch gets its one tick, centred.

    Matplotlib would spread one point over 0.945 ... 1.05.
    """
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    seen = sorted({int(e) for e in epochs})
    if len(seen) == 1:
        ax.set_xlim(seen[0] - 1, seen[0] + 1)
        ax.set_xticks(seen)
    elif seen:   # no tick at epoch 0, which never happened
        pad = max(0.5, 0.02 * (seen[-1] - seen[0]))
        ax.set_xlim(seen[0] - pad, seen[-1] + pad)


def value_limits(ax: Any, values: Any, from_zero: bool = False) -> None:
    """Y limits that show `values` sensibly when they do not spread (one epoch, a constant term).

    Matplotlib puts a lone value v in v ± 5 % (a zero in ±0.05, ticks -0.045 ... 0.045).
    Here the axis runs from 0 to the values plus 20 % (a zero: 0 to 1), which also
    leaves room for an annotation. `from_zero` does the same whenever the values
    spread, so that one epoch's terms are seen against 0.
    """
    data = np.asarray(list(values), dtype=float)
    data = data[np.isfinite(data)]
    if not len(data):
        return
    low, high = float(data.min()), float(data.max())
    if not from_zero and high - low > 1e-9 * max(abs(low), abs(high), 1.0):
        return
    low, high = min(low, 0.0), max(high, 0.0)
    if low == high == 0.0:
        high = 1.0
    ax.set_ylim(1.2 * low, 1.2 * high)


def term_families(history: LossHistory) -> dict[str, list[str]]:
    """Group the terms of a history: total, reconstruction, KL, KL per latent, loss-specific."""
    per_dim = kl_keys(history)
    families = {
        "total loss": [t for t in TOTAL_TERMS if t in history],
        "reconstruction": [t for t in RECON_TERMS if t in history],
        "KL to the prior": [t for t in (KL_TOTAL,) if t in history],
        "KL per latent": per_dim,
    }
    known = {t for terms in families.values() for t in terms}
    families["loss-specific terms"] = sorted(t for t in history if t not in known)
    return {name: terms for name, terms in families.items() if terms}


def losses_figure(history: LossHistory, title: str, path: Path) -> None:
    """``losses.png``: one panel per family of terms over the epochs (counted from 1).

    A run of one epoch shows each term as a marker with its value written next to
    it (up to 6 terms a panel) on an axis from 0, the panel titles saying "one epoch".
    """
    save_figure(draw_losses(history, title), path)


def draw_losses(history: LossHistory, title: str) -> Any:
    """The figure of `losses_figure` (a matplotlib Figure, not yet saved).

    Raises:
        ConfigError: if the history holds no terms.
    """
    plt = _pyplot()
    families = term_families(history)
    if not families:
        raise ConfigError("train_losses.log holds no terms yet: no epoch has been logged")
    n = len(families)
    cols = 2 if n > 1 else 1
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(6.4 * cols, 3.6 * rows), squeeze=False)
    all_epochs = {epoch + 1 for points in history.values() for epoch, _ in points}   # the log counts from 0
    single = len(all_epochs) == 1
    for ax, (family, terms) in zip(axes.flat, families.items(), strict=False):
        many = len(terms) > 6
        colours = plt.cm.tab10(np.arange(len(terms)) % 10) if many else [None] * len(terms)
        values_seen: list[float] = []
        for term, colour in zip(terms, colours, strict=True):
            epochs, values = zip(*history[term], strict=True)
            epochs = tuple(epoch + 1 for epoch in epochs)
            label = f"z{parse_kl_key(term)}" if family == "KL per latent" else term
            ax.plot(epochs, values, marker="o" if len(epochs) < 30 else None, markersize=6 if single else 3,
                    label=label, color=colour)
            values_seen.extend(values)
            if single and not many:
                ax.annotate(f"{values[0]:.4g}", (epochs[0], values[0]), xytext=(8, 0), textcoords="offset points",
                            va="center", fontsize=9)
        ax.set_title(f"{family} (one epoch)" if single else family)
        epoch_axis(ax, all_epochs)
        value_limits(ax, values_seen, from_zero=single)
        ax.grid(alpha=0.3)
        if family == "KL per latent":
            ax.axhline(ACTIVE_KL, color="grey", linestyle=":", linewidth=1)
            ax.set_ylabel("nats")
        if many:
            ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        else:
            ax.legend(fontsize=9, loc="best")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def kl_per_dim_figure(history: LossHistory, title: str, path: Path) -> None:
    """``kl_per_dim.png``: the last epoch's KL of every latent, active ones highlighted."""
    plt = _pyplot()
    last = {term: points[-1][1] for term, points in history.items() if points}
    kl = kl_per_latent(last)
    if not kl:
        raise ConfigError("train_losses.log has no kl_loss_<j> terms (KL per latent) to draw")
    epoch = max(e for points in history.values() for e, _ in points) + 1   # counted from 1
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(kl) + 2), 3.8))
    active = [v > ACTIVE_KL for v in kl]
    bars = ax.bar([f"z{j}" for j in range(len(kl))], kl, color=["tab:blue" if a else "tab:gray" for a in active])
    for bar, value in zip(bars, kl, strict=True):
        ax.annotate(f"{value:.2f}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center",
                    va="bottom", fontsize=9, xytext=(0, 2), textcoords="offset points")
    ax.axhline(ACTIVE_KL, color="grey", linestyle=":", linewidth=1, label=f"active: KL > {ACTIVE_KL}")
    ax.set_ylabel("KL (nats)")
    ax.set_title(f"{title}\nKL per latent, epoch {epoch}: {sum(active)} of {len(kl)} active")
    ax.legend(fontsize=9)
    ax.margins(y=0.15)
    fig.tight_layout()
    save_figure(fig, path)


def mutual_info_figure(matrix: MutualInfo, title: str, path: Path, floor: Sequence[float] | None = None) -> None:
    """``mutual_info.png``: the factors x latents mutual information with each factor's MIG.

    Args:
        floor: Each factor's noise floor (nats); None: `noise_floors` of the
            ``metrics_detail.json`` beside `path` (the run folder the plot is drawn in).
    """
    if floor is None:
        floor = noise_floors(read_metrics_detail(path.with_name(METRICS_DETAIL)), matrix)
    save_figure(draw_mutual_info(matrix, title, floor), path)


def noise_floors(detail: Mapping[str, Any] | None, matrix: MutualInfo) -> list[float] | None:
    """Each factor's noise floor (nats) for Chen et al.'s matrix of a ``metrics_detail.json`` content.

    The ``noise_floor`` that ``dvae eval`` records per factor; for a file written before
    it, `dvae_cli.metrics.noise.mi_noise_floor` of the images and samples recorded
    (``n_images``, ``settings.n_samples``) and each factor's values (exp H(v_k)). None
    for the discrete matrix (``mig_discrete``: a plug-in estimate, not this estimator)
    or when the file does not say.
    """
    from dvae_cli.metrics.noise import mi_noise_floor

    entry = detail.get("mig") if detail else None
    if matrix.source != "mig" or not isinstance(entry, dict) or detail is None:
        return None
    recorded = entry.get("noise_floor")
    if isinstance(recorded, dict):
        values = [as_float(recorded.get(f)) for f in matrix.factors]
        if all(v is not None for v in values):
            return [float(v) for v in values if v is not None]
    settings, images, entropy = detail.get("settings"), as_float(detail.get("n_images")), entry.get("factor_entropy")
    samples = as_float(settings.get("n_samples")) if isinstance(settings, dict) else None
    if images is None or samples is None or not isinstance(entropy, list) or len(entropy) != len(matrix.factors):
        return None
    sizes = [as_float(h) for h in entropy]
    if any(h is None for h in sizes):
        return None
    return [mi_noise_floor(int(images), int(samples), max(2, round(math.exp(float(h or 0.0))))) for h in sizes]


def draw_mutual_info(matrix: MutualInfo, title: str, floor: Sequence[float] | None = None) -> Any:
    """The figure of `mutual_info_figure` (a matplotlib Figure, not yet saved).

    `matrix` is read by `dvae_cli.runs.metrics_detail.read_mutual_info` (the ``mig``
    entry of ``metrics_detail.json``, else ``mig_discrete``). Mutual information is
    never negative, but its sampled estimate can be (Monte-Carlo noise): such cells are
    coloured as 0, keep their printed value, and a note under the matrix says how many
    there are and the most negative one. With `floor` (each factor's noise floor,
    nats: `dvae_cli.metrics.noise.mi_noise_floor`), the cells whose estimate is under
    their factor's floor in magnitude are greyed (they cannot be told from 0) and the
    note gives the floor.
    """
    mi = np.asarray(matrix.values, dtype=float)
    factors, latents = matrix.factors, matrix.latents
    per_factor = {f: gap for f, gap in zip(factors, matrix.gap, strict=True) if gap is not None}
    negative = mi < 0
    shown = np.clip(mi, 0.0, None)
    top = float(np.nanmax(shown)) if np.isfinite(shown).any() else 0.0
    under = np.abs(mi) < np.asarray(floor, dtype=float)[:, None] if floor is not None else np.zeros_like(negative)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * mi.shape[1] + 3), 0.6 * mi.shape[0] + 2.6))
    image = ax.imshow(shown, cmap="viridis", aspect="auto", vmin=0, vmax=top if top > 0 else 1.0)
    if under.any():
        ax.imshow(np.where(under, 1.0, np.nan), cmap="Greys", vmin=0, vmax=1.6, aspect="auto", alpha=0.85)
    for (k, j), value in np.ndenumerate(mi):
        ax.text(j, k, f"{value:.2f}", ha="center", va="center", fontsize=8,
                color="black" if under[k, j] or shown[k, j] >= 0.6 * top else "white")
    ax.set_xticks(range(mi.shape[1]), latents)
    ax.set_yticks(range(mi.shape[0]), [f"{f}  (MIG {per_factor[f]:.2f})" if f in per_factor else f
                                       for f in factors])
    label = "latent"
    if negative.any():
        label += (f"\n{int(negative.sum())} of {mi.size} estimates are negative (most negative "
                  f"{float(mi.min()):.3f} nats, the estimator's noise): coloured as 0")
    if floor is not None:
        values = sorted({round(float(f), 3) for f in floor})
        stated = f"{values[0]:.3f}" if len(values) == 1 else f"{values[0]:.3f}-{values[-1]:.3f}"
        label += (f"\nnoise floor {stated} nats (99% of estimates of a true 0 are smaller): "
                  f"{int(under.sum())} of {mi.size} cells under it, greyed")
    ax.set_xlabel(label)
    fig.colorbar(image, ax=ax, label="mutual information (nats)" + (", clipped at 0" if negative.any() else ""))
    protocol = "Chen et al., sampled z" if matrix.source == "mig" else "disentanglement_lib, mean z, 20 bins"
    ax.set_title(f"{title}\nI(v_k; z_j), {protocol}")
    fig.tight_layout()
    return fig
