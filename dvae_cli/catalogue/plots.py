"""The figures ``dvae plot`` draws of a run: one torch-free `PlotInfo` each, and `register_plot` for more.

Everything about a plot outside its drawing function comes from here: its name on
the command line (and in ``dvae plot --help``, ``all``), the file it writes in the run
folder and the options that change that file, what it needs (the model, the
dataset's images, the training log, the metrics detail), and the figures the
browser's Images tab offers with the ``dvae plot`` arguments that make each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dvae_cli.errors import ConfigError
from dvae_cli.plugins import Registry
from dvae_cli.runs import layout

#: What a plot cannot be drawn without: the model (``model.pt``), the dataset's images,
#: ``train_losses.log``, ``metrics_detail.json``.
NEEDS = ("model", "images", "train_log", "metrics_detail")


@dataclass(frozen=True)
class PlotFile:
    """One file a plot writes, and the ``dvae plot`` options that make it that file.

    Attributes:
        name: The file, in the run folder (``posterior_traversals.png``).
        args: The arguments of ``dvae plot NAME PLOT`` after the plot name that make it
            (``("--posterior",)``); empty for the plot's default file.
        when: The `dvae_cli.viz.plots.PlotOptions` values those arguments set
            (``(("posterior", True),)``); the file whose values all match is written.
        description: What it shows ('' : the plot's description).
    """

    name: str
    args: tuple[str, ...] = ()
    when: tuple[tuple[str, Any], ...] = ()
    description: str = ""


@dataclass(frozen=True)
class PlotInfo:
    """A figure of a run, described without importing matplotlib or torch.

    Attributes:
        name: Its name on the command line (``dvae plot NAME traversals``).
        files: The files it can write, its default first (`file_for` picks one).
        draw: ``"module:function"`` of its drawing function (or the function):
            ``draw(context, path)`` with a `dvae_cli.viz.plot_context.PlotContext` and
            the file to write; it raises `dvae_cli.viz.plot_context.PlotSkipped` when its
            data does not exist (``dvae plot NAME all`` then skips it with a note).
        description: What it shows, in one line.
        needs: What it cannot be drawn without, of `NEEDS` (``model``: ``model.pt`` is
            loaded, and checked, before any figure is written).
    """

    name: str
    files: tuple[PlotFile, ...]
    draw: str | Callable[..., Any]
    description: str
    needs: tuple[str, ...] = ()

    def file_for(self, options: Any) -> str:
        """The file it writes with `options` (a `PlotOptions`): the most specific of `files` that matches."""
        matching = [f for f in self.files if all(getattr(options, key, None) == value for key, value in f.when)]
        if not matching:
            return self.files[0].name
        return max(matching, key=lambda f: len(f.when)).name

    def figures(self) -> list[tuple[str, tuple[str, ...], str]]:
        """(file, the arguments of ``dvae plot NAME`` that write it, what it shows) for each of its files."""
        return [(f.name, (self.name, *f.args), f.description or self.description) for f in self.files]


def _check(info: PlotInfo) -> None:
    if info.name == "all" or not info.name or info.name.startswith("-") or not info.name.replace("-", "").isalnum():
        raise ConfigError(f"a plot name must be letters, digits and '-', not 'all' nor starting with '-', "
                          f"got '{info.name}'")
    if not info.files:
        raise ConfigError(f"plot '{info.name}' names no file")
    for file in info.files:
        if "/" in file.name or file.name.startswith(".") or not file.name.lower().endswith(layout.FIGURE_SUFFIXES):
            raise ConfigError(f"plot '{info.name}': its file must be a .png or .gif in the run folder, "
                              f"got '{file.name}'")
        owner = next((p.name for p in PLOTS._items.values()   # no plugin loading here: called while registering
                      if p.name != info.name and any(f.name == file.name for f in p.files)), None)
        if owner is not None or file.name == layout.TRAINING_GIF:
            raise ConfigError(f"plot '{info.name}' writes {file.name}, which "
                              f"{f'plot {owner!r}' if owner else 'dvae train'} writes")
    unknown = [need for need in info.needs if need not in NEEDS]
    if unknown:
        raise ConfigError(f"plot '{info.name}' needs {unknown[0]!r}; a plot can need: {', '.join(NEEDS)}")


PLOTS: Registry[PlotInfo] = Registry("plot", "dvae.plots", _check)


def register_plot(info: PlotInfo, replace: bool = False) -> PlotInfo:
    """Make a plot known to ``dvae plot``, its ``all`` and the browser's Images tab (see `dvae_cli.plugins`).

    Raises:
        ConfigError: for a name already registered (without `replace`), or a file another plot writes.
    """
    return PLOTS.register(info, replace)


def plot_info(name: str) -> PlotInfo:
    """The `PlotInfo` of `name` (raises `UnknownNameError` with the choices)."""
    return PLOTS.get(name)


def plot_names() -> tuple[str, ...]:
    """Every plot, in the order ``all`` draws them (the built-ins first)."""
    return PLOTS.names()


def plot_figures() -> list[tuple[str, tuple[str, ...], str]]:
    """Every figure a plot writes: (file, the arguments of ``dvae plot NAME`` that write it, what it shows)."""
    return [figure for info in PLOTS.values() for figure in info.figures()]


_DRAW = "dvae_cli.viz.run_figures:"
for _info in (
    PlotInfo("generate-samples", (PlotFile(layout.SAMPLES),), _DRAW + "generate_samples", "samples from the prior",
             ("model",)),
    PlotInfo("data-samples", (PlotFile(layout.DATA_SAMPLES),), _DRAW + "data_samples", "images of the dataset",
             ("images",)),
    PlotInfo("reconstruct", (PlotFile(layout.RECONSTRUCT),), _DRAW + "reconstruct",
             "test images and their reconstructions", ("model", "images")),
    PlotInfo("traversals", (PlotFile(layout.PRIOR_TRAVERSALS, description="latent traversals from the prior"),
                            PlotFile(layout.POSTERIOR_TRAVERSALS, ("--posterior",), (("posterior", True),),
                                     "latent traversals around a test image's posterior")),
             _DRAW + "traversals", "latent traversals, from the prior or (--posterior) around a test image's "
             "posterior", ("model",)),
    PlotInfo("reconstruct-traverse", (PlotFile(layout.RECONSTRUCT_TRAVERSE),), _DRAW + "reconstruct_traverse",
             "reconstructions, then traversals", ("model", "images")),
    PlotInfo("gif-traversals", (PlotFile(layout.POSTERIOR_GIF),), _DRAW + "gif_traversals", "animated traversals",
             ("model", "images")),
    PlotInfo("losses", (PlotFile(layout.LOSSES),), _DRAW + "losses", "the training curves", ("train_log",)),
    PlotInfo("kl-per-dim", (PlotFile(layout.KL_PER_DIM),), _DRAW + "kl_per_dim", "KL of each latent per epoch",
             ("train_log",)),
    PlotInfo("mutual-info", (PlotFile(layout.MUTUAL_INFO),), _DRAW + "mutual_info",
             "factors x latents mutual information", ("metrics_detail",)),
):
    register_plot(_info)
