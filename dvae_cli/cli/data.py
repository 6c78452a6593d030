"""``dvae data list|prepare|info``: the datasets, where they are, and getting them ready."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dvae_cli.data.catalog import DATASETS, dataset_info
from dvae_cli.runs.folder import DATA_ENV, default_data_dir

app = typer.Typer(help="Datasets: list them, download or generate them, look at them.", no_args_is_help=True)

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", envvar=DATA_ENV, show_default="./data",
                                                 help="Where datasets are cached and looked for.")]


@app.command("list")
def list_command(data_dir: DataDir = None) -> None:
    """Table of the datasets: size, shape, factors, source, and whether they are here."""
    data_dir = data_dir or default_data_dir()
    table = Table(title=f"Datasets (data dir: {data_dir})", title_justify="left")
    for column in ("name", "images", "shape", "factors", "source", "local"):
        table.add_column(column, justify="right" if column == "images" else "left")
    from urllib.parse import urlparse

    for info in DATASETS.values():
        state, where = info.status(data_dir)
        source = urlparse(info.source).netloc or info.source
        style = {"prepared": "green", "official files": "yellow", "missing": "red"}.get(state, "")
        table.add_row(info.name, f"{info.n_images:,}", "x".join(map(str, info.img_size)),
                      "yes" if info.has_factors else "-", source,
                      f"[{style}]{state}[/]: {where}" if style else f"{state}: {where}")
    Console().print(table)


@app.command("prepare")
def prepare_command(name: Annotated[str, typer.Argument(help="Dataset name.")], data_dir: DataDir = None) -> None:
    """Download (or generate) and preprocess a dataset once, with a progress bar."""
    info = dataset_info(name)
    data_dir = data_dir or default_data_dir()
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from dvae_cli.data.loading import load_dataset  # imports torch

    console = Console()
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"preparing {name}", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        def log(message: str) -> None:
            progress.update(task, description=message[:80], completed=0, total=None)
            console.print(message, style="dim", markup=False, highlight=False)

        data = load_dataset(name, data_dir, log=log, progress=step)
    state, where = info.status(data_dir)
    console.print(f"{name}: {len(data):,} images of {'x'.join(map(str, data.img_size))}, {state} in {where}",
                  markup=False, highlight=False)


@app.command("info")
def info_command(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    data_dir: DataDir = None,
    samples: Annotated[int, typer.Option("--samples", "-n", help="Sample images in the PNG.")] = 36,
    output: Annotated[Optional[Path], typer.Option("--output", "-o",
                                                   help="PNG to write (default: <data-dir>/<name>-samples.png)."
                                                   )] = None,
    seed: Annotated[int, typer.Option("--seed", "-s")] = 0,
) -> None:
    """Details of a dataset (factors included) and a grid of sample images written to a PNG."""
    info = dataset_info(name)
    data_dir = data_dir or default_data_dir()
    if samples <= 0:
        from dvae_cli.errors import ConfigError

        raise ConfigError(f"--samples must be a positive integer, got {samples}")
    import numpy as np
    import torch

    from dvae_cli.data.loading import load_dataset
    from dvae_cli.viz.grid import save_grid

    console = Console(highlight=False)
    data = load_dataset(name, data_dir, log=lambda m: console.print(m, style="dim", markup=False))
    state, where = info.status(data_dir)
    table = Table(show_header=False, title=f"{name}: {info.description}", title_justify="left")
    table.add_row("images", f"{len(data):,}")
    table.add_row("shape", "x".join(map(str, data.img_size)))
    table.add_row("source", info.source)
    table.add_row("local", f"{state}: {where}")
    table.add_row("loader", "streamed from disk" if data.streaming else "in memory (one uint8 tensor)")
    if data.factors is not None:
        for k, factor in enumerate(data.factors.names):
            values = data.factors.values[k]
            table.add_row(f"factor {k}: {factor}", f"{data.factors.sizes[k]} values in "
                                                   f"[{np.nanmin(values):.3g}, {np.nanmax(values):.3g}]")
    console.print(table)
    rng = np.random.default_rng(seed)
    index = torch.from_numpy(np.sort(rng.choice(len(data), size=min(samples, len(data)), replace=False)))
    path = output or Path(data_dir) / f"{name}-samples.png"
    save_grid(path, data.batch(index), nrow=int(np.ceil(np.sqrt(len(index)))))
    console.print(f"wrote {len(index)} samples to {path}", markup=False)
