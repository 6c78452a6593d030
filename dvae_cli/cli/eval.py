"""``dvae eval NAME``: test losses of a run (dvae's or disentangling-vae's)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dvae_cli.errors import ConfigError
from dvae_cli.runs.folder import DATA_ENV, RESULTS_ENV, RunFolder, default_data_dir, default_results_dir


def eval_command(
    name: Annotated[str, typer.Argument(help="Run name under the results dir, or the path of a run folder.")],
    dataset: Annotated[Optional[str], typer.Option("-d", "--dataset",
                                                   help="Evaluate on another dataset with the same image "
                                                        "size (default: the run's).")] = None,
    metrics: Annotated[bool, typer.Option("--metrics", help="Also compute disentanglement metrics.")] = False,
    eval_batchsize: Annotated[Optional[int], typer.Option("--eval-batchsize",
                                                          help="Batch size (default: the run's).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    results_dir: Annotated[Optional[Path], typer.Option("--results-dir", envvar=RESULTS_ENV,
                                                        show_default="./results")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", envvar=DATA_ENV,
                                                     show_default="./data")] = None,
) -> None:
    """Compute a run's test losses over its whole test set and write test_losses.log."""
    if metrics:
        raise ConfigError("--metrics is not available yet: disentanglement metrics arrive with the "
                          "metrics issue; run without --metrics for the test losses")
    if eval_batchsize is not None and eval_batchsize <= 0:
        raise ConfigError(f"--eval-batchsize must be a positive integer, got {eval_batchsize}")
    folder = RunFolder.find(name, results_dir or default_results_dir())
    folder.read_spec()  # a broken specs.json fails here, before torch is imported
    from rich.console import Console
    from rich.table import Table

    from dvae_cli.engine.evaluate import evaluate_run  # imports torch

    console = Console(highlight=False)
    result = evaluate_run(folder, data_dir or default_data_dir(), dataset=dataset, device=device,
                          batch_size=eval_batchsize,
                          log=lambda message: console.print(message, style="dim", markup=False))
    table = Table(title=f"{folder.name}: test losses on {result.dataset} ({result.n_images:,} images)",
                  title_justify="left")
    table.add_column("term")
    table.add_column("value", justify="right")
    for key, value in result.losses.items():
        table.add_row(key, f"{value:.6g}")
    console.print(table)
    for note in result.notes:
        console.print(f"note: {note}", markup=False)
    if result.written is not None:
        console.print(f"wrote {result.written}", markup=False)
    if result.backup is not None:
        console.print(f"kept the previous test losses as {result.backup}", markup=False)
