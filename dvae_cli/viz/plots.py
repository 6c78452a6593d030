"""Every figure of a run folder, by name: `make_plots(run, ["traversals", ...])`.

The reference's plots keep their names, files and options (``-r -c -t -i -u
--show-loss --posterior -s``); ``losses``, ``kl-per-dim`` and ``mutual-info`` are
new. Image grids get a title band, row labels and separators between their
sections (``title=False`` gives the reference's exact layout) and are padded in
the colour opposite to the dataset's background.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.config import RunSpec
from dvae_cli.errors import ConfigError, DatasetUnavailableError, DvaeError, UnknownNameError
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.layout import METRICS_DETAIL
from dvae_cli.runs.logs import LossHistory
from dvae_cli.runs.metrics_detail import read_mutual_info
from dvae_cli.runs.summary import kl_per_latent

if TYPE_CHECKING:
    import torch

    from dvae_cli.engine.models import VAE
    from dvae_cli.viz.sections import Section

Log = Callable[[str], None]

#: name -> whether it needs the dataset's images
PLOTS: dict[str, bool] = {
    "generate-samples": False, "data-samples": True, "reconstruct": True, "traversals": False,
    "reconstruct-traverse": True, "gif-traversals": True, "losses": False, "kl-per-dim": False,
    "mutual-info": False,
}
PLOT_NAMES: tuple[str, ...] = (*PLOTS, "all")
#: The plots that draw with the model (the others need only the logs or the data).
MODEL_PLOTS: tuple[str, ...] = ("generate-samples", "reconstruct", "traversals", "reconstruct-traverse",
                                "gif-traversals")
#: Frames of ``posterior_traversals.gif`` (the reference's ``n_per_gif``) and its speed.
GIF_FRAMES = 15
GIF_FPS = 12


class PlotSkipped(DvaeError):
    """A plot whose data does not exist (``all`` skips it with a note)."""


@dataclass
class PlotOptions:
    """The options of ``dvae plot`` (disentangling-vae's defaults).

    Attributes:
        n_rows, n_cols: Grid size; for traversals, rows = latents and columns = steps.
        max_traversal: >= 0.5: absolute half-width; < 0.5: quantile (`traversal_range`).
        idcs: Dataset indices of the images to show first (the rest are random test images).
        upsample: Integer upsampling factor of every image.
        show_loss: Add its last-epoch KL to each traversal row's label (``z3 KL=1.20``);
            without titles, label the traversal rows at all (the reference's layout).
        posterior: Traverse around the posterior of an image instead of the prior.
        seed: Seeds the images chosen and the samples (default: the run's seed).
        dataset: Images from another dataset with the same image size (default: the run's).
        title: Put a title band (run, loss, dataset) above image grids, label their rows
            (latents, originals, reconstructions) and split their sections; False gives
            the reference's exact layout.
    """

    n_rows: int = 6
    n_cols: int = 7
    max_traversal: float = 2.0
    idcs: Sequence[int] = field(default_factory=tuple)
    upsample: int = 1
    show_loss: bool = False
    posterior: bool = False
    seed: int | None = None
    dataset: str | None = None
    title: bool = True

    def validate(self) -> PlotOptions:
        """Raises ConfigError naming a bad option."""
        for name, value in (("--n-rows", self.n_rows), ("--n-cols", self.n_cols),
                            ("--upsample-factor", self.upsample)):
            if value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value}")
        if not self.max_traversal > 0:
            raise ConfigError(f"--max-traversal must be > 0 (>= 0.5: absolute, < 0.5: quantile), "
                              f"got {self.max_traversal}")
        if any(i < 0 for i in self.idcs):
            raise ConfigError(f"--idcs must be non-negative image indices, got {list(self.idcs)}")
        return self


def parse_plot_names(names: Sequence[str]) -> list[str]:
    """Validate plot names and expand ``all``.

    Raises:
        UnknownNameError: naming the closest plot.
    """
    if not names:
        raise ConfigError(f"name at least one plot: {', '.join(PLOT_NAMES)}")
    chosen: list[str] = []
    for name in names:
        if name not in PLOT_NAMES:
            raise UnknownNameError("plot", name, PLOT_NAMES)
        for plot in (PLOTS if name == "all" else [name]):
            if plot not in chosen:
                chosen.append(plot)
    return chosen


def output_name(plot: str, options: PlotOptions) -> str:
    """The file a plot writes in the run folder."""
    if plot == "traversals":
        return ("posterior" if options.posterior else "prior") + "_traversals.png"
    return {"generate-samples": "samples.png", "data-samples": "data_samples.png",
            "reconstruct": "reconstruct.png", "reconstruct-traverse": "reconstruct_traverse.png",
            "gif-traversals": "posterior_traversals.gif", "losses": "losses.png", "kl-per-dim": "kl_per_dim.png",
            "mutual-info": "mutual_info.png"}[plot]


class _Context:
    """What the plots of one run share: spec, history, model, images (loaded lazily)."""

    def __init__(self, folder: RunFolder, options: PlotOptions, data_dir: Path | None, log: Log) -> None:
        self.folder, self.options, self.data_dir, self.log = folder, options, data_dir, log
        self.spec: RunSpec = folder.read_spec()
        self.history: LossHistory = folder.train_losses()
        self.seed = options.seed if options.seed is not None else self.spec.seed
        self.dataset = options.dataset or self.spec.dataset
        self._model: VAE | None = None
        self._images: torch.Tensor | None = None
        self._data_error: DvaeError | None = None
        from dvae_cli.data.catalog import dataset_info

        self.pad_value = 1.0 if dataset_info(self.dataset).background == "black" else 0.0

    @property
    def title(self) -> str:
        borrowed = f" (images: {self.dataset})" if self.dataset != self.spec.dataset else ""
        return f"{self.folder.name} · {self.spec.loss} · {self.spec.dataset}{borrowed}"

    def kl(self) -> list[float]:
        last = {term: points[-1][1] for term, points in self.history.items() if points}
        return kl_per_latent(last)

    def latents(self) -> list[int]:
        """The latents shown as traversal rows: the `n_rows` with the largest KL."""
        from dvae_cli.viz.traversals import kl_order

        return kl_order(self.kl(), self.spec.latent_dim)[:self.options.n_rows]

    def model(self) -> VAE:
        if self._model is None:
            from dvae_cli.engine.checkpoint import load_model

            if not self.folder.model_path.is_file():
                from dvae_cli.runs.outcome import missing_model_message

                raise PlotSkipped(missing_model_message(self.folder.path, self.folder.name))

            self._model = load_model(self.folder.model_path, self.spec)
        return self._model

    def generator(self, offset: int = 0) -> torch.Generator:
        import torch

        return torch.Generator().manual_seed(self.seed + offset)

    def images(self, n: int) -> torch.Tensor:
        """`n` images: `idcs` first, then seeded random test images of the run."""
        if self._data_error is not None:
            raise self._data_error
        if self._images is None or self._images.shape[0] < n:
            try:
                self._images = self._load_images(max(n, len(self.options.idcs)))
            except (DatasetUnavailableError, ConfigError) as exc:
                self._data_error = PlotSkipped(str(exc))
                raise self._data_error from None
        return self._images[:n]

    def _load_images(self, n: int) -> torch.Tensor:
        import torch

        from dvae_cli.data.run_images import run_dataset, split_like_run
        from dvae_cli.runs.folder import default_data_dir

        data = run_dataset(self.spec, self.data_dir or default_data_dir(), self.log, self.dataset)
        idcs = list(self.options.idcs)
        if idcs and max(idcs) >= len(data):
            raise ConfigError(f"--idcs {max(idcs)} is out of range: '{self.dataset}' has {len(data)} images")
        chosen = data.batch(torch.tensor(idcs, dtype=torch.long)) if idcs else None
        rest = n - len(idcs)
        if rest > 0:
            test = split_like_run(data, self.spec)[1]
            rng = np.random.default_rng(self.seed)
            pick = rng.choice(len(test), size=min(rest, len(test)), replace=False)
            extra = test.batch(torch.from_numpy(np.sort(pick)))
            chosen = extra if chosen is None else torch.cat([chosen, extra])
        assert chosen is not None
        return chosen.float().cpu()


def make_plots(run_path: Path, names: Sequence[str], data_dir: Path | None = None, log: Log | None = None,
               options: PlotOptions | None = None) -> list[Path]:
    """Draw the named plots of the run folder `run_path` into it.

    Args:
        run_path: A run folder (dvae's or disentangling-vae's).
        names: Plot names of `PLOT_NAMES` (``all`` = every plot whose data exists).
        data_dir: Where datasets are (default ``$DVAE_DATA_DIR`` or ``./data``).
        log: Called with one line per file written or plot skipped.
        options: `PlotOptions` (defaults: the reference's).

    Returns:
        The files written.

    Raises:
        UnknownNameError, ConfigError: bad names or options.
        PlotSkipped: a plot named explicitly whose data does not exist.
        CorruptFileError: unreadable run files.
    """
    log = log or (lambda message: None)
    options = (options or PlotOptions()).validate()
    plots = parse_plot_names(names)
    skip_missing = "all" in names
    context = _Context(RunFolder(Path(run_path)), options, data_dir, log)
    if any(plot in MODEL_PLOTS for plot in plots) and context.folder.model_path.is_file():
        context.model()  # a broken model.pt fails before any figure is written
    written = []
    for plot in plots:
        path = context.folder.path / output_name(plot, options)
        try:
            _DRAW[plot](context, path)
        except PlotSkipped as exc:
            if not skip_missing:
                raise
            log(f"skipped {plot}: {exc}")
            continue
        written.append(path)
        log(f"wrote {path}")
    return written


# --------------------------------------------------------------------------- the plots


def _save_grid(context: _Context, path: Path, sections: Sequence[Section], nrow: int, title: str) -> None:
    from dvae_cli.viz.grid import write_png
    from dvae_cli.viz.sections import compose

    o = context.options
    write_png(path, compose(sections, nrow, context.pad_value, o.upsample, title if o.title else None, o.show_loss))


def _traversal_labels(context: _Context, latents: Sequence[int]) -> list[str]:
    """Each traversal row's latent (``z3``), with its last-epoch KL under ``--show-loss``."""
    kl = context.kl() if context.options.show_loss else []
    return [f"z{j} KL={kl[j]:.2f}" if kl else f"z{j}" for j in latents]


def _range_text(context: _Context) -> str:
    t = context.options.max_traversal
    return f"±{t:g}" if t >= 0.5 else f"central {200 * t:g}%"


def _generate_samples(context: _Context, path: Path) -> None:
    from dvae_cli.viz.traversals import prior_samples

    o = context.options
    images = prior_samples(context.model(), o.n_rows * o.n_cols, context.generator())
    _save_grid(context, path, [(images, ())], o.n_cols, f"{context.title} · samples from the prior")


def _data_samples(context: _Context, path: Path) -> None:
    o = context.options
    _save_grid(context, path, [(context.images(o.n_rows * o.n_cols), ())], o.n_cols,
               f"{context.title} · test images")


def _reconstruct(context: _Context, path: Path) -> None:
    from dvae_cli.viz.traversals import reconstructions

    o = context.options
    if o.n_rows % 2:
        raise ConfigError(f"reconstruct shows originals above reconstructions: --n-rows must be even, got {o.n_rows}")
    originals = context.images(o.n_rows // 2 * o.n_cols)
    sections = [(originals, ["originals"]), (reconstructions(context.model(), originals), ["reconstructions"])]
    _save_grid(context, path, sections, o.n_cols, f"{context.title} · test images and their reconstructions")


def _traversal_images(context: _Context, latents: Sequence[int]) -> torch.Tensor:
    from dvae_cli.viz.traversals import traversals

    o = context.options
    image = context.images(1) if o.posterior else None
    return traversals(context.model(), latents, o.n_cols, o.max_traversal, image, context.generator(1))


def _traversals(context: _Context, path: Path) -> None:
    o = context.options
    latents = context.latents()
    kind = "posterior" if o.posterior else "prior"
    sections = [(_traversal_images(context, latents), _traversal_labels(context, latents))]
    _save_grid(context, path, sections, o.n_cols, f"{context.title} · {kind} traversals {_range_text(context)}")


def _reconstruct_traverse(context: _Context, path: Path) -> None:
    from dvae_cli.viz.traversals import reconstructions

    o = context.options
    originals = context.images(o.n_cols)
    latents = context.latents()
    sections = [(originals, ["original"]), (reconstructions(context.model(), originals), ["reconstruction"]),
                (_traversal_images(context, latents), _traversal_labels(context, latents))]
    kind = "posterior" if o.posterior else "prior"
    _save_grid(context, path, sections, o.n_cols,
               f"{context.title} · test images, reconstructions, {kind} traversals {_range_text(context)}")


def _gif_traversals(context: _Context, path: Path) -> None:
    """Frames labelled like `compose`; a GIF comment records the margins around the grid
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


def _losses(context: _Context, path: Path) -> None:
    from dvae_cli.viz.charts import losses_figure

    if not context.history:
        raise PlotSkipped("train_losses.log is missing or empty")
    losses_figure(context.history, f"{context.title} · training losses", path)


def _kl_per_dim(context: _Context, path: Path) -> None:
    from dvae_cli.viz.charts import kl_per_dim_figure

    if not context.kl():
        raise PlotSkipped("train_losses.log has no kl_loss_<j> terms")
    kl_per_dim_figure(context.history, context.title, path)


def _mutual_info(context: _Context, path: Path) -> None:
    from dvae_cli.viz.charts import mutual_info_figure

    matrix = read_mutual_info(context.folder.path / METRICS_DETAIL)
    if matrix is None:
        raise PlotSkipped(f"no {METRICS_DETAIL} with a mutual-information matrix (run dvae eval --metrics first)")
    mutual_info_figure(matrix, context.title, path)


_DRAW: dict[str, Callable[[_Context, Path], None]] = {
    "generate-samples": _generate_samples, "data-samples": _data_samples, "reconstruct": _reconstruct,
    "traversals": _traversals, "reconstruct-traverse": _reconstruct_traverse, "gif-traversals": _gif_traversals,
    "losses": _losses, "kl-per-dim": _kl_per_dim, "mutual-info": _mutual_info,
}
