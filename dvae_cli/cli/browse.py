"""``dvae browse [RESULTS_DIR]``: a terminal UI over the runs of a results directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dvae_cli.errors import ConfigError
from dvae_cli.runs.folder import DATA_ENV, RESULTS_ENV, default_results_dir


def browse_command(
    results_dir: Annotated[Optional[Path], typer.Argument(
        help="The results directory (default: --results-dir, $DVAE_RESULTS_DIR or ./results).",
        show_default=False, metavar="RESULTS_DIR")] = None,
    results_dir_option: Annotated[Optional[Path], typer.Option("--results-dir", envvar=RESULTS_ENV,
                                                               show_default="./results")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", envvar=DATA_ENV, show_default="./data",
        help="Data dir for the figures that need the dataset (generated with g).")] = None,
    poll: Annotated[float, typer.Option("--poll", help="Seconds between two looks for new epochs and runs "
                                                       "(0: only on r).")] = 2.0,
) -> None:
    """Browse the runs (dvae's and disentangling-vae's): status, spec, loss curves, metrics and figures,
    updated live while they train; a study folder (dvae study) as its cells and its report. Press ? in the
    browser for the keys."""
    folder = results_dir or results_dir_option or default_results_dir()
    if not folder.is_dir():
        raise ConfigError(f"results dir {folder} does not exist; give the folder that holds the run folders "
                          "(RESULTS_DIR, --results-dir or $DVAE_RESULTS_DIR)")
    if poll < 0:
        raise ConfigError(f"--poll must be 0 or a positive number of seconds, got {poll}")
    from dvae_cli.tui.app import BrowseApp  # imports textual-image, which queries the terminal

    BrowseApp(folder, poll_interval=poll, data_dir=data_dir).run()
