"""Figures of ``dvae compare --plot DIR``: loss curves, metric bars and the grid of traversal GIFs.

- ``loss_curves.png``: one panel per training term, every run (or group of seeds:
  mean and +- std band) overlaid, coloured by loss;
- ``metrics.png``: one panel per score of ``metrics.log`` plus the active latents,
  bars grouped by dataset and coloured by loss (error bars: std over seeds);
- ``grid_posteriors.gif``: `dvae_cli.viz.gif_grid`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.catalogue.losses import loss_colour
from dvae_cli.compare.table import CompareTable, Row, Stat, ordered_terms
from dvae_cli.runs.summary import ACTIVE_KL
from dvae_cli.viz.charts import save_figure, value_limits

Log = Callable[[str], None]
CURVES_FILE = "loss_curves.png"
METRICS_FILE = "metrics.png"
#: One colour per loss, the same in every figure.
LINESTYLES = ("-", "--", ":", "-.")
_NOT_METRICS = ("active",)
#: Points of space kept around the panels of metrics.png, below its suptitle included.
SUPTITLE_GAP = 5


def write_figures(table: CompareTable, out_dir: Path, data_dir: Path | None = None, log: Log | None = None,
                  max_cell: int | None = 400) -> list[Path]:
    """Write every comparison figure the runs have data for into `out_dir` (created if missing).

    Args:
        table: The comparison (its rows, grouping and order).
        out_dir: Where the figures go.
        data_dir: Datasets, to draw missing ``posterior_traversals.gif`` files.
        log: Called with one line per file written, GIF generated or figure skipped.
        max_cell: Largest side in pixels of a cell of the GIF grid (None: the GIFs' own size).

    Returns:
        The files written.
    """
    from dvae_cli.viz.gif_grid import GRID_FILE, write_traversal_grid

    say = log or (lambda message: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in ((CURVES_FILE, loss_curves_figure), (METRICS_FILE, metric_bars_figure)):
        if draw(table, out_dir / name):
            written.append(out_dir / name)
            say(f"wrote {out_dir / name}")
        else:
            say(f"skipped {name}: no run has the data")
    if write_traversal_grid(table.rows, out_dir / GRID_FILE, data_dir=data_dir, log=say, max_cell=max_cell):
        written.append(out_dir / GRID_FILE)
        say(f"wrote {out_dir / GRID_FILE}")
    return written


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "figure.titlesize": 13})
    return plt


def _label(row: Row) -> str:
    loss, dataset = row.values.get("loss") or "-", row.values.get("dataset") or "-"
    seeds = f", {row.values['n']} seeds" if row.values.get("n", 1) > 1 else ""
    return f"{row.values['name']} ({loss}, {dataset}{seeds})"


def _styles(rows: list[Row]) -> list[tuple[str, str]]:
    """(colour, linestyle) per row: the colour says the loss, the line style tells runs of one loss apart."""
    seen: dict[str, int] = {}
    styles = []
    for row in rows:
        loss = str(row.values.get("loss"))
        k = seen.get(loss, 0)
        seen[loss] = k + 1
        styles.append((loss_colour(loss), LINESTYLES[k % len(LINESTYLES)]))
    return styles


def mean_curve(row: Row, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(epochs, mean, std) of a term over the runs of a row, on the epochs every run logged."""
    curves = [dict(summary.history[term]) for summary in row.runs if summary.history.get(term)]
    if not curves:
        return None
    epochs = sorted(set.intersection(*(set(curve) for curve in curves)))
    values = np.array([[curve[e] for e in epochs] for curve in curves], dtype=float)
    std = values.std(axis=0, ddof=1) if len(curves) > 1 else np.zeros(len(epochs))
    return np.array(epochs) + 1, values.mean(axis=0), std


def loss_curves_figure(table: CompareTable, path: Path) -> bool:
    """``loss_curves.png``; False (nothing written) if no run has a training log."""
    fig = draw_loss_curves(table)
    if fig is None:
        return False
    save_figure(fig, path)
    return True


def draw_loss_curves(table: CompareTable) -> Any:
    """The figure of `loss_curves_figure` (a matplotlib Figure, not yet saved); None without data."""
    from dvae_cli.viz.charts import epoch_axis

    rows = [row for row in table.rows if any(summary.history for summary in row.runs)]
    terms = ordered_terms(list(dict.fromkeys(t for row in rows for s in row.runs for t in s.history)))
    if not terms:
        return None
    plt = _pyplot()
    cols = min(4, len(terms))
    nrows = math.ceil(len(terms) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.3 * nrows + 0.6), squeeze=False)
    lengths = [max(e for s in row.runs for points in s.history.values() for e, _ in points) + 1 for row in rows]
    log_x = max(lengths) >= 20 * min(lengths)
    handles: dict[str, Any] = {}
    for ax, term in zip(axes.flat, terms, strict=False):
        positive = True
        epochs_seen: set[int] = set()
        values_seen: list[float] = []
        for row, (colour, style) in zip(rows, _styles(rows), strict=True):
            curve = mean_curve(row, term)
            if curve is None:
                continue
            epochs, mean, std = curve
            epochs_seen.update(int(e) for e in epochs)
            values_seen.extend([*(mean - std), *(mean + std)])
            positive &= bool((mean - std > 0).all())
            (line,) = ax.plot(epochs, mean, color=colour, linestyle=style, linewidth=1.4,
                              marker="o" if len(epochs) < 15 else None, markersize=3)
            if std.any():
                ax.fill_between(epochs, mean - std, mean + std, color=colour, alpha=0.2, linewidth=0)
            handles.setdefault(_label(row), line)
        ax.set_title(term)
        ax.grid(alpha=0.3)
        if log_x:
            ax.set_xscale("log")
            ax.set_xlabel("epoch (log scale)")
        else:
            epoch_axis(ax, epochs_seen)
        value_limits(ax, values_seen)
        if positive and _spread(ax) > 100:
            ax.set_yscale("log")
            ax.set_title(f"{term} (log scale)")
    for ax in list(axes.flat)[len(terms):]:
        ax.axis("off")
    what = f"{len(rows)} runs"
    if table.grouped:
        what = f"{len(rows)} configurations (runs differing only by seed: line = mean, band = ± 1 std)"
    fig.suptitle(f"Training losses of {what}: mean of each term per epoch")
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(3, len(handles)),
               frameon=False, bbox_to_anchor=(0.5, 0.0))
    legend_rows = math.ceil(len(handles) / min(3, len(handles)))
    fig.tight_layout(rect=(0, min(0.45, 0.35 * legend_rows / (3.3 * nrows + 0.6)), 1, 1))
    return fig


def _spread(ax: Any) -> float:
    """max / min of the positive data of an axes."""
    values = np.concatenate([line.get_ydata() for line in ax.get_lines()] or [np.ones(1)])
    values = values[values > 0]
    return float(values.max() / values.min()) if len(values) else 1.0


def metric_bars_figure(table: CompareTable, path: Path) -> bool:
    """``metrics.png``; False (nothing written) if no run has a metric or a KL per latent."""
    fig = draw_metric_bars(table)
    if fig is None:
        return False
    save_figure(fig, path)
    return True


def draw_metric_bars(table: CompareTable) -> Any:
    """The figure of `metric_bars_figure` (a matplotlib Figure, not yet saved); None without data.

    Laid out by matplotlib's constrained layout, which keeps the suptitle, the
    panel titles, the dataset names above the bars and the legend apart.
    """
    from matplotlib.patches import Patch

    rows = table.rows
    metrics = [key for key in table.available if _is_metric(key) and any(_number(r, key) is not None for r in rows)]
    panels = metrics + [key for key in _NOT_METRICS if any(_number(r, key) is not None for r in rows)]
    if not panels:
        return None
    plt = _pyplot()
    datasets = list(dict.fromkeys(str(row.values.get("dataset")) for row in rows))
    cols = min(3, len(panels))
    nrows = math.ceil(len(panels) / cols)
    most = max(sum(_number(row, key) is not None for row in rows) for key in panels)
    width = max(4.0, 0.55 * most + 0.5 * len(datasets) + 1.0)
    fig, axes = plt.subplots(nrows, cols, figsize=(width * cols + 1.2, 4.2 * nrows + 0.4), squeeze=False,
                             layout="constrained")
    for ax, key in zip(axes.flat, panels, strict=False):
        _bars(ax, key, [(d, [row for row in rows if str(row.values.get("dataset")) == d and
                             _number(row, key) is not None]) for d in datasets])
        title = f"active latents (KL > {ACTIVE_KL} nats)" if key == "active" else key
        ax.set_title(title, pad=18, fontweight="bold")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    losses = list(dict.fromkeys(str(row.values["loss"]) for row in rows if row.values.get("loss")
                                and any(_number(row, key) is not None for key in panels)))
    fig.legend([Patch(color=loss_colour(loss)) for loss in losses], losses, title="loss",
               loc="outside right center", frameon=False)
    error = "; error bars: ± 1 std over seeds" if table.grouped else ""
    hint = "" if metrics else "\n(no run has metrics.log: dvae eval NAME --metrics)"
    fig.suptitle(f"{'Metrics' if metrics else 'Active latents'} by dataset, coloured by loss{error}{hint}")
    fig.get_layout_engine().set(h_pad=SUPTITLE_GAP / 72)   # points -> inches: between the suptitle and the panels
    return fig


def _bars(ax: Any, key: str, groups: list[tuple[str, list[Row]]]) -> None:
    """One bar per row with a value, grouped by dataset (named above its group), coloured by loss."""
    positions, names, heights = [], [], []
    x = 0.0
    groups = [(dataset, members) for dataset, members in groups if members]
    for n, (dataset, members) in enumerate(groups):
        start = x
        for row in members:
            value = _number(row, key)
            assert value is not None
            mean, std = value
            heights.append(mean)
            ax.bar(x, mean, width=0.8, color=loss_colour(str(row.values.get("loss"))),
                   yerr=std or None, capsize=3)
            ax.annotate(_short(mean), (x, mean + std if mean >= 0 else mean - std), ha="center",
                        va="bottom" if mean >= 0 else "top", fontsize=8, xytext=(0, 2 if mean >= 0 else -2),
                        textcoords="offset points")
            positions.append(x)
            names.append(str(row.values["name"]))
            x += 1
        ax.annotate(dataset, ((start + x - 1) / 2, 1.0), xycoords=("data", "axes fraction"), ha="center",
                    va="bottom", fontsize=9, xytext=(0, 3), textcoords="offset points")
        if n < len(groups) - 1:
            ax.axvline(x - 0.25, color="grey", linewidth=0.8, alpha=0.5)
        x += 0.5
    ax.set_xticks(positions, names, rotation=30, ha="right", fontsize=8)
    ax.set_xlim(-0.7, x - 0.8)
    ax.margins(y=0.15)
    value_limits(ax, heights)
    ax.axhline(0, color="black", linewidth=0.6)
    ax.grid(axis="y", alpha=0.3)


def _is_metric(key: str) -> bool:
    from dvae_cli.compare.table import LEADING, OPTIONAL, TRAILING, param_keys

    return not key.startswith(("train.", "test.")) and key not in (*LEADING, *TRAILING, *OPTIONAL, *param_keys())


def _number(row: Row, key: str) -> tuple[float, float] | None:
    cell = row.values.get(key)
    if isinstance(cell, Stat):
        return cell.mean, cell.std or 0.0
    if isinstance(cell, (int, float)) and not isinstance(cell, bool) and math.isfinite(cell):
        return float(cell), 0.0
    return None


def _short(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"
