"""``dvae plot NAME PLOT...``: figures of a run (dvae's or disentangling-vae's) into its folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dvae_cli.catalogue.plots import plot_names
from dvae_cli.cli.registry_help import listing_command
from dvae_cli.runs.folder import DATA_ENV, RESULTS_ENV


def plot_help() -> str:
    """The help of the PLOTS argument: every registered plot, or all."""
    return f"{', '.join(plot_names())}, or all (every plot whose data exists)."


#: The command class that writes `plot_help` when the help is shown (plugins registered since included).
PlotCommand = listing_command(plots=plot_help)


def _indices(value: Optional[str]) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        return tuple(int(part) for part in value.replace(",", " ").split())
    except ValueError:
        raise typer.BadParameter(f"expected image indices like '0,15,300', got {value!r}") from None


def plot_command(
    name: Annotated[str, typer.Argument(help="Run name under the results dir, or the path of a run folder.")],
    plots: Annotated[list[str], typer.Argument(help="Plot names, or all.", show_default=False)],  # see plot_help
    n_rows: Annotated[int, typer.Option("-r", "--n-rows", help="Rows (traversals: latents, most "
                                                               "informative first).")] = 6,
    n_cols: Annotated[int, typer.Option("-c", "--n-cols", help="Columns (traversals: steps).")] = 7,
    max_traversal: Annotated[float, typer.Option("-t", "--max-traversal",
                                                 help=">= 0.5: half-width of the sweep; < 0.5: the sweep covers "
                                                      "the central 2t of the distribution's mass.")] = 2.0,
    idcs: Annotated[Optional[str], typer.Option("-i", "--idcs", help="Dataset indices of the images to show "
                                                                     "first, e.g. '0,15,300'.")] = None,
    upsample: Annotated[int, typer.Option("-u", "--upsample-factor", help="Integer upsampling of every "
                                                                          "image.")] = 1,
    show_loss: Annotated[bool, typer.Option("--show-loss", help="Add each traversal row's last-epoch KL to "
                                                                "its label (with --no-title: label the rows).")
                         ] = False,
    posterior: Annotated[bool, typer.Option("--posterior", help="Traverse around an image's posterior "
                                                                "instead of the prior.")] = False,
    seed: Annotated[Optional[int], typer.Option("-s", "--seed", help="Seed of the images and samples "
                                                                     "(default: the run's).")] = None,
    dataset: Annotated[Optional[str], typer.Option("-d", "--dataset", help="Images from another dataset of "
                                                                           "the same size.")] = None,
    no_title: Annotated[bool, typer.Option("--no-title", help="No title band, row labels or separators on image "
                                                              "grids (the reference's exact layout).")] = False,
    results_dir: Annotated[Optional[Path], typer.Option("--results-dir", envvar=RESULTS_ENV,
                                                        show_default="./results")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", envvar=DATA_ENV,
                                                     show_default="./data")] = None,
) -> None:
    """Draw figures of a run into its folder (samples.png, posterior_traversals.gif, losses.png, ...)."""
    from dvae_cli.viz.plots import PlotOptions, parse_plot_names, plot_run  # imports torch lazily, per plot

    parse_plot_names(plots)   # bad names fail before the options are read
    options = PlotOptions(n_rows=n_rows, n_cols=n_cols, max_traversal=max_traversal, idcs=_indices(idcs),
                          upsample=upsample, show_loss=show_loss, posterior=posterior, seed=seed, dataset=dataset,
                          title=not no_title)
    plot_run(name, plots, results_dir=results_dir, data_dir=data_dir, options=options,
             log=lambda message: typer.echo(message))
