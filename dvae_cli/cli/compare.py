"""``dvae compare [RUN ...]``: runs side by side as a table, CSV, Markdown, JSON or LaTeX, and figures.

A thin shell over `dvae_cli.compare.compare_runs` and `render`; the figures
(``--plot``) import matplotlib inside `dvae_cli.viz.compare_figures`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dvae_cli.cli.output import make_console
from dvae_cli.compare.comparison import compare_runs
from dvae_cli.compare.formats import FORMATS, SUFFIXES, check_format, render, terminal_tables
from dvae_cli.errors import ConfigError
from dvae_cli.runs.folder import DATA_ENV, RESULTS_ENV, check_writable, default_data_dir, default_results_dir
from dvae_cli.wording import plural

OUTPUT = "Output"
FIGURES = "Figures"


def compare_command(
    runs: Annotated[Optional[list[str]], typer.Argument(
        help="Run names, glob patterns ('btcvae_*') or run folder paths. Default: every run in the results dir.",
        show_default=False)] = None,
    results_dir: Annotated[Optional[Path], typer.Option("--results-dir", envvar=RESULTS_ENV,
                                                        show_default="./results")] = None,
    filters: Annotated[Optional[list[str]], typer.Option(
        "--filter", "-f", help="Keep the runs where KEY=VALUE (also !=, <, <=, >, >=; a|b; globs), "
                               "comma-separated or repeated; KEY: a column or a specs.json field. "
                               "E.g. dataset=sprites,loss=btcvae|factor or 'MIG>0.1'.")] = None,
    sort: Annotated[Optional[str], typer.Option(
        "--sort", "-s", help="Columns to sort by, comma-separated; -COLUMN for descending "
                             "(e.g. dataset,-MIG). Missing values go last.")] = None,
    reverse: Annotated[bool, typer.Option("--reverse", "-r", help="Reverse the sort.")] = False,
    columns: Annotated[Optional[str], typer.Option(
        "--columns", "-c", help="Columns to show, in order, comma-separated; globs allowed (test.*). "
                                "Hidden unless named: origin, status, latent_dim, epochs_planned, and each "
                                "key parameter alone (btcvae_B, ...).")] = None,
    group_seeds: Annotated[bool, typer.Option(
        "--group-seeds", help="One row per group of runs differing only by seed: mean ± std.")] = False,
    fmt: Annotated[Optional[str], typer.Option(
        "--format", "-F", help=f"{', '.join(FORMATS)}. Default: from the --output suffix "
                               "(.csv .md .json .tex), else table.", rich_help_panel=OUTPUT)] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write the table to this file instead of the terminal.",
        rich_help_panel=OUTPUT)] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", help="Write figures into this folder: loss_curves.png, metrics.png and grid_posteriors.gif "
                       "(drawing the runs' missing posterior_traversals.gif first).",
        rich_help_panel=FIGURES)] = None,
    gif_cell: Annotated[int, typer.Option(
        "--gif-cell", help="Largest side of a cell of grid_posteriors.gif, in pixels.",
        rich_help_panel=FIGURES)] = 400,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", envvar=DATA_ENV, show_default="./data", help="Datasets, to draw missing traversal GIFs.",
        rich_help_panel=FIGURES)] = None,
) -> None:
    """Compare runs side by side: one row per run with its dataset, loss, key hyper-parameters, epochs,
    final training terms, test losses, metrics and active latents (KL > 0.1). Folders of dvae score are
    rows too (kind: scored). Marked columns are explained below the table: ~ a minibatch estimate
    (biased, can be negative), † a score computed with different protocols in different runs."""
    fmt = check_format(fmt) if fmt is not None else SUFFIXES.get(output.suffix.lower(), "table") if output else "table"
    if gif_cell <= 0:
        raise ConfigError(f"--gif-cell must be a positive number of pixels, got {gif_cell}")
    if output is not None and not output.parent.is_dir():
        raise ConfigError(f"cannot write {output}: the folder {output.parent} does not exist")
    if output is not None:
        check_writable(output.parent, "output folder")
    if plot is not None:
        check_writable(plot, "figures folder")
    results = results_dir or default_results_dir()
    table = compare_runs(runs or [], results, filters=filters or [], sort=sort, reverse=reverse, columns=columns,
                         group_seeds=group_seeds)
    err = make_console(stderr=True)
    if not table.rows:
        err.print(f"no run matches --filter {','.join(filters or [])}", markup=False)
    if output is not None:
        from dvae_cli.runs.atomic import write_text

        write_text(output, render(table, fmt))
        err.print(f"wrote {output} ({plural(len(table.rows), 'row')}, {fmt})", markup=False)
    elif fmt == "table" and table.rows:
        what = plural(len(table.rows), "group of seeds", "groups of seeds") if group_seeds else \
            plural(len(table.rows), "run")
        where = "" if runs else f" in {results}"
        console = make_console()
        for view in terminal_tables(table, console.width, title=f"{what}{where}"):
            console.print(view)
    elif fmt != "table":
        sys.stdout.write(render(table, fmt))
    if plot is not None:
        from dvae_cli.viz.compare_figures import write_figures

        write_figures(table, plot, data_dir=data_dir or default_data_dir(), max_cell=gif_cell,
                      log=lambda message: err.print(message, style="dim", markup=False))
