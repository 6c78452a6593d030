"""``dvae data list|prepare|info``: the datasets, where they are, and getting them ready."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from dvae_cli.cli.output import LIST_FORMATS, check_list_format, make_console, make_table, render_rows
from dvae_cli.data.catalog import DATASETS, dataset_info
from dvae_cli.data.user_folder import is_folder
from dvae_cli.runs.folder import DATA_ENV, check_writable, default_data_dir

app = typer.Typer(help="Datasets: list them, download or generate them, look at them.", no_args_is_help=True)

DataDir = Annotated[Optional[Path], typer.Option("--data-dir", envvar=DATA_ENV, show_default="./data",
                                                 help="Where datasets are cached and looked for.")]


@app.command("list")
def list_command(
    data_dir: DataDir = None,
    fmt: Annotated[str, typer.Option("--format", "-F", help=f"{', '.join(LIST_FORMATS)}.")] = "table",
) -> None:
    """Table of the datasets: size, shape, factors, source, and whether they are here."""
    check_list_format(fmt)
    data_dir = data_dir or default_data_dir()
    rows: list[dict[str, Any]] = []
    for info in DATASETS.values():
        state, where = info.status(data_dir)
        rows.append({"name": info.name, "images": info.n_images, "shape": "x".join(map(str, info.img_size)),
                     "factors": info.has_factors, "source": info.source,
                     "state": state, "where": str(where)})
    if fmt != "table":
        import sys

        sys.stdout.write(render_rows(rows, fmt))
        return
    from urllib.parse import urlparse

    table = make_table(("name", "images", "shape", "factors", "source", "local"),
                       title=f"Datasets (data dir: {data_dir})", right=("images",))
    for row in rows:
        style = {"prepared": "green", "official files": "yellow", "missing": "red"}.get(row["state"], "")
        local = f"{row['state']}: {row['where']}"
        table.add_row(row["name"], f"{row['images']:,}", row["shape"], "yes" if row["factors"] else "-",
                      urlparse(row["source"]).netloc or row["source"],
                      f"[{style}]{escape(local)}[/]" if style else escape(local))
    make_console().print(table)


@app.command("prepare")
def prepare_command(name: Annotated[str, typer.Argument(help="Dataset name.")], data_dir: DataDir = None) -> None:
    """Download (or generate) and preprocess a dataset once, with a progress bar."""
    info = dataset_info(name)
    data_dir = data_dir or default_data_dir()
    if info.status(data_dir)[0] != "prepared":   # downloading or caching writes there: check it first
        check_writable(data_dir, "data dir")
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    from dvae_cli.data.loading import load_dataset  # imports torch

    console = make_console()
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
                                                   help="PNG to write (default: ./<name>-samples.png, in the "
                                                        "current directory, not the data dir).")] = None,
    seed: Annotated[int, typer.Option("--seed", "-s")] = 0,
) -> None:
    """Details of a dataset (factors included) and a titled grid of sample images written to a PNG."""
    info = dataset_info(name)
    data_dir = data_dir or default_data_dir()
    if samples <= 0:
        from dvae_cli.errors import ConfigError

        raise ConfigError(f"--samples must be a positive integer, got {samples}")
    stem = f"folder-{Path(info.source).name}" if is_folder(name) else name
    path = output or Path.cwd() / f"{stem}-samples.png"   # the data dir holds datasets only
    check_writable(path.parent, "folder")
    import numpy as np
    import torch

    from dvae_cli.data.loading import load_dataset
    from dvae_cli.viz.grid import write_png
    from dvae_cli.viz.sections import compose

    console = make_console()
    data = load_dataset(name, data_dir, log=lambda m: console.print(m, style="dim", markup=False))
    state, where = info.status(data_dir)
    table = make_table(("property", "value"), title=f"{name}: {info.description}", show_header=False)
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
    if is_folder(name):
        _add_folder_rows(table, name)
    console.print(table)
    rng = np.random.default_rng(seed)
    index = torch.from_numpy(np.sort(rng.choice(len(data), size=min(samples, len(data)), replace=False)))
    title = f"{name}: {len(index)} random images of {len(data):,} (seed {seed})"
    pad = 1.0 if info.background == "black" else 0.0
    images = data.batch(index).float()
    write_png(path, compose([(images, ())], int(np.ceil(np.sqrt(len(index)))), pad, title=title))
    console.print(f"wrote {len(index)} samples to {path.resolve()}", markup=False)


#: Skipped files `data info` lists by name (the rest are counted).
SKIPPED_SHOWN = 20


def _add_folder_rows(table: Any, name: str) -> None:
    """What a ``folder:PATH`` dataset found: image modes and sizes, each skipped file and why."""
    from collections import Counter

    from dvae_cli.data.user_folder import resize_text, scan

    found = scan(name)
    modes = Counter(found.modes)
    table.add_row("image modes", ", ".join(f"{mode} {count:,}" for mode, count in modes.most_common()))
    widths, heights = [w for w, _ in found.sizes], [h for _, h in found.sizes]
    table.add_row("image sizes", f"{min(widths)}-{max(widths)} x {min(heights)}-{max(heights)} pixels")
    table.add_row("resize", resize_text(found.side))
    factors = found.factors_file
    table.add_row("factors file", str(factors) if factors else "none (factors.csv or factors.npz in the folder)")
    table.add_row("skipped", f"{len(found.skipped):,} files")
    for relative, reason in found.skipped[:SKIPPED_SHOWN]:
        table.add_row(f"  {relative}", reason)
    if len(found.skipped) > SKIPPED_SHOWN:
        table.add_row("  ...", f"and {len(found.skipped) - SKIPPED_SHOWN:,} more")
