"""Every figure of a run folder, by name: `make_plots(run, ["traversals", ...])`.

Which plots exist, the file each writes and what draws it is the registry
`dvae_cli.catalogue.plots`; the built-in drawings are `dvae_cli.viz.run_figures`, and
every drawing function is handed a `dvae_cli.viz.plot_context.PlotContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from dvae_cli.catalogue.plots import PLOTS, plot_info, plot_names
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.plugins import resolve
from dvae_cli.runs.folder import RunFolder, check_writable, default_data_dir, default_results_dir
from dvae_cli.viz.plot_context import Log, PlotContext, PlotOptions, PlotSkipped
from dvae_cli.viz.run_figures import GIF_FPS, GIF_FRAMES

__all__ = ["GIF_FPS", "GIF_FRAMES", "PLOTS", "PlotContext", "PlotOptions", "PlotSkipped", "make_plots",
           "output_name", "parse_plot_names", "plot_run"]

#: A drawing function: ``draw(context, path)``.
Draw = Callable[[PlotContext, Path], None]


def parse_plot_names(names: Sequence[str]) -> list[str]:
    """Validate plot names and expand ``all`` (every registered plot).

    Raises:
        UnknownNameError: naming the closest plot.
    """
    known = (*plot_names(), "all")
    if not names:
        raise ConfigError(f"name at least one plot: {', '.join(known)}")
    chosen: list[str] = []
    for name in names:
        if name not in known:
            raise UnknownNameError("plot", name, known)
        for plot in (plot_names() if name == "all" else [name]):
            if plot not in chosen:
                chosen.append(plot)
    return chosen


def output_name(plot: str, options: PlotOptions) -> str:
    """The file a plot writes in the run folder (`dvae_cli.catalogue.plots.PlotInfo.file_for`)."""
    return plot_info(plot).file_for(options)


def make_plots(run_path: Path, names: Sequence[str], data_dir: Path | None = None, log: Log | None = None,
               options: PlotOptions | None = None) -> list[Path]:
    """Draw the named plots of the run folder `run_path` into it.

    Args:
        run_path: A run folder (dvae's or disentangling-vae's).
        names: Registered plot names (``all`` = every plot whose data exists).
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
    context = PlotContext(RunFolder(Path(run_path)), options, data_dir, log)
    infos = [plot_info(plot) for plot in plots]
    if any("model" in info.needs for info in infos) and context.folder.model_path.is_file():
        context.model()  # a broken model.pt fails before any figure is written
    written = []
    for info in infos:
        path = context.folder.path / info.file_for(options)
        draw: Draw = resolve(info.draw)
        try:
            draw(context, path)
        except PlotSkipped as exc:
            if not skip_missing:
                raise
            log(f"skipped {info.name}: {exc}")
            continue
        written.append(path)
        log(f"wrote {path}")
    return written


def plot_run(run: str | Path, names: Sequence[str], results_dir: Path | None = None, data_dir: Path | None = None,
             options: PlotOptions | None = None, log: Log | None = None) -> list[Path]:
    """What ``dvae plot RUN PLOT...`` does: check everything that can be checked, then `make_plots`.

    The plot names, the options and the dataset are checked before the run is looked up,
    its ``specs.json`` read and its folder checked writable, all before anything is drawn.

    Args:
        run: A run name under `results_dir`, or the path of a run folder.
        names: Registered plot names (``all`` = every plot whose data exists).
        results_dir: Where run names are looked up (default ``$DVAE_RESULTS_DIR`` or ``./results``).
        data_dir: Where datasets are (default ``$DVAE_DATA_DIR`` or ``./data``).
        options: `PlotOptions` (defaults: the reference's).
        log: Called with one line per file written or plot skipped.

    Returns:
        The files written.

    Raises:
        UnknownNameError, ConfigError: bad names or options, an unknown dataset, an unwritable folder.
        RunNotFoundError: no such run.
        PlotSkipped: a plot named explicitly whose data does not exist.
        CorruptFileError: unreadable run files.
    """
    parse_plot_names(names)   # bad names fail before anything is loaded
    options = (options or PlotOptions()).validate()
    if options.dataset is not None:
        from dvae_cli.data.catalog import dataset_info

        dataset_info(options.dataset)
    folder = RunFolder.find(str(run), results_dir or default_results_dir())
    folder.read_spec()
    check_writable(folder.path, "run folder")   # the figures go there: refuse before drawing them
    return make_plots(folder.path, names, data_dir=data_dir or default_data_dir(), log=log, options=options)
