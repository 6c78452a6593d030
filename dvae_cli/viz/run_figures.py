"""The built-in figures of a run, one drawing function each (`dvae_cli.catalogue.plots` names them).

The reference's plots keep their names, files and options (``-r -c -t -i -u
--show-loss --posterior -s``); ``losses``, ``kl-per-dim`` and ``mutual-info`` are
new. Image grids get a title band, row labels and separators between their
sections (``title=False`` gives the reference's exact layout) and are padded in
the colour opposite to the dataset's background. Each function is
``draw(context, path)`` (see `dvae_cli.viz.plot_context`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dvae_cli.errors import ConfigError
from dvae_cli.runs.layout import METRICS_DETAIL, TRAIN_LOG
from dvae_cli.runs.metrics_detail import read_mutual_info
from dvae_cli.viz.plot_context import PlotContext, PlotSkipped

if TYPE_CHECKING:
    import torch

    from dvae_cli.viz.sections import Section

#: Frames of ``posterior_traversals.gif`` (the reference's ``n_per_gif``) and its speed.
GIF_FRAMES = 15
GIF_FPS = 12


def _save_grid(context: PlotContext, path: Path, sections: Sequence[Section], nrow: int, title: str) -> None:
    from dvae_cli.viz.grid import write_png
    from dvae_cli.viz.sections import compose

    o = context.options
    write_png(path, compose(sections, nrow, context.pad_value, o.upsample, title if o.title else None, o.show_loss))


def _traversal_labels(context: PlotContext, latents: Sequence[int]) -> list[str]:
    """Each traversal row's latent (``z3``), with its last-epoch KL under ``--show-loss``."""
    kl = context.kl() if context.options.show_loss else []
    return [f"z{j} KL={kl[j]:.2f}" if kl else f"z{j}" for j in latents]


def _range_text(context: PlotContext) -> str:
    t = context.options.max_traversal
    return f"±{t:g}" if t >= 0.5 else f"central {200 * t:g}%"


def generate_samples(context: PlotContext, path: Path) -> None:
    """``samples.png``: `n_rows` x `n_cols` decoded samples of the prior."""
    from dvae_cli.viz.traversals import prior_samples

    o = context.options
    images = prior_samples(context.model(), o.n_rows * o.n_cols, context.generator())
    _save_grid(context, path, [(images, ())], o.n_cols, f"{context.title} · samples from the prior")


def data_samples(context: PlotContext, path: Path) -> None:
    """``data_samples.png``: test images (``--idcs`` first)."""
    o = context.options
    _save_grid(context, path, [(context.images(o.n_rows * o.n_cols), ())], o.n_cols,
               f"{context.title} · test images")


def reconstruct(context: PlotContext, path: Path) -> None:
    """``reconstruct.png``: half the rows test images, half their reconstructions (``--n-rows`` even)."""
    from dvae_cli.viz.traversals import reconstructions

    o = context.options
    if o.n_rows % 2:
        raise ConfigError(f"reconstruct shows originals above reconstructions: --n-rows must be even, got {o.n_rows}")
    originals = context.images(o.n_rows // 2 * o.n_cols)
    sections = [(originals, ["originals"]), (reconstructions(context.model(), originals), ["reconstructions"])]
    _save_grid(context, path, sections, o.n_cols, f"{context.title} · test images and their reconstructions")


def _traversal_images(context: PlotContext, latents: Sequence[int]) -> torch.Tensor:
    from dvae_cli.viz.traversals import traversals

    o = context.options
    image = context.images(1) if o.posterior else None
    return traversals(context.model(), latents, o.n_cols, o.max_traversal, image, context.generator(1))


def traversals(context: PlotContext, path: Path) -> None:
    """``prior_traversals.png`` / ``posterior_traversals.png``: a row per latent, most informative first."""
    o = context.options
    latents = context.latents()
    kind = "posterior" if o.posterior else "prior"
    sections = [(_traversal_images(context, latents), _traversal_labels(context, latents))]
    _save_grid(context, path, sections, o.n_cols, f"{context.title} · {kind} traversals {_range_text(context)}")


def reconstruct_traverse(context: PlotContext, path: Path) -> None:
    """``reconstruct_traverse.png``: test images, their reconstructions, then traversal rows."""
    from dvae_cli.viz.traversals import reconstructions

    o = context.options
    originals = context.images(o.n_cols)
    latents = context.latents()
    sections = [(originals, ["original"]), (reconstructions(context.model(), originals), ["reconstruction"]),
                (_traversal_images(context, latents), _traversal_labels(context, latents))]
    kind = "posterior" if o.posterior else "prior"
    _save_grid(context, path, sections, o.n_cols,
               f"{context.title} · test images, reconstructions, {kind} traversals {_range_text(context)}")


def gif_traversals(context: PlotContext, path: Path) -> None:
    """``posterior_traversals.gif``: frames labelled like `compose`; a GIF comment records the margins around the grid
    (`dvae_cli.viz.grid.layout_comment`), so that ``grid_posteriors.gif`` can crop them."""
    from dvae_cli.viz.grid import layout_comment, write_gif
    from dvae_cli.viz.labels import add_row_labels, add_title
    from dvae_cli.viz.traversals import gif_frames

    o = context.options
    latents = context.latents()
    frames = gif_frames(context.model(), context.images(o.n_cols), latents, GIF_FRAMES, o.max_traversal,
                        context.generator(2), pad=2, pad_value=context.pad_value, upsample_factor=o.upsample)
    height, width = frames[0].shape[:2]
    if o.title or o.show_loss:
        frames = [add_row_labels(f, _traversal_labels(context, latents), context.pad_value) for f in frames]
    if o.title:
        title = f"{context.title} · posterior traversals {_range_text(context)}\ncolumns: test images, rows: latents"
        frames = [add_title(f, title, context.pad_value) for f in frames]
    top = frames[0].shape[0] - height
    write_gif(path, frames, GIF_FPS, layout_comment(top, frames[0].shape[1] - width))


def losses(context: PlotContext, path: Path) -> None:
    """``losses.png``: every term of ``train_losses.log`` per epoch."""
    from dvae_cli.viz.charts import losses_figure

    if not context.history:
        raise PlotSkipped(f"{TRAIN_LOG} is missing or empty")
    losses_figure(context.history, f"{context.title} · training losses", path)


def kl_per_dim(context: PlotContext, path: Path) -> None:
    """``kl_per_dim.png``: the last epoch's KL of every latent."""
    from dvae_cli.viz.charts import kl_per_dim_figure

    if not context.kl():
        raise PlotSkipped(f"{TRAIN_LOG} has no kl_loss_<j> terms")
    kl_per_dim_figure(context.history, context.title, path)


def mutual_info(context: PlotContext, path: Path) -> None:
    """``mutual_info.png``: the factors x latents mutual information of ``metrics_detail.json``."""
    from dvae_cli.viz.charts import mutual_info_figure

    matrix = read_mutual_info(context.folder.path / METRICS_DETAIL)
    if matrix is None:
        raise PlotSkipped(f"no {METRICS_DETAIL} with a mutual-information matrix (run dvae eval --metrics first)")
    mutual_info_figure(matrix, context.title, path)
