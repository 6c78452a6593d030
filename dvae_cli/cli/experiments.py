"""``dvae experiments list|show``: the experiment catalogue (no torch)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dvae_cli.config import LOSS_KEY_PARAMS, LOSSES, load_catalogue, resolve_run
from dvae_cli.data.catalog import DATASET_NAMES
from dvae_cli.errors import UnknownNameError

app = typer.Typer(help="The experiment catalogue (experiments.toml).", no_args_is_help=True)


@app.command("list")
def list_command(
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="Only this dataset.")] = None,
    loss: Annotated[Optional[str], typer.Option("--loss", "-l", help="Only this loss.")] = None,
) -> None:
    """Table of the experiments: name, dataset, loss, epochs and the loss's key weights."""
    if dataset is not None and dataset not in DATASET_NAMES:
        raise UnknownNameError("dataset", dataset, DATASET_NAMES)
    if loss is not None and loss not in LOSSES:
        raise UnknownNameError("loss", loss, LOSSES)
    catalogue = load_catalogue()
    table = Table(title=f"Experiments ({catalogue.path})", title_justify="left")
    for column in ("name", "dataset", "loss", "epochs", "batch", "lr", "key weights", "description"):
        table.add_column(column, justify="right" if column in ("epochs", "batch", "lr") else "left")
    shown = 0
    for name in catalogue.names:
        spec = resolve_run(name, name, catalogue=catalogue).spec
        if (dataset and spec.dataset != dataset) or (loss and spec.loss != loss):
            continue
        weights = " ".join(f"{key.split('_', 1)[1]}={getattr(spec, key)}" for key in LOSS_KEY_PARAMS[spec.loss])
        table.add_row(name, spec.dataset, spec.loss, str(spec.epochs), str(spec.batch_size), f"{spec.lr:g}",
                      weights, catalogue.description(name))
        shown += 1
    console = Console()
    console.print(table)
    console.print(f"{shown} experiments. Train one with: dvae train NAME   Details: dvae experiments show NAME",
                  markup=False, highlight=False)


@app.command("show")
def show_command(name: Annotated[str, typer.Argument(help="Experiment name.")]) -> None:
    """Every parameter of an experiment, fully resolved, with where each value comes from."""
    catalogue = load_catalogue()
    if name not in catalogue.experiments:
        raise UnknownNameError("experiment", name, catalogue.names)
    resolution = resolve_run(name, name, catalogue=catalogue)
    spec = resolution.spec
    table = Table(title=f"{name}: {catalogue.description(name) or spec.loss + ' on ' + spec.dataset}",
                  title_justify="left")
    table.add_column("parameter")
    table.add_column("value", justify="right")
    table.add_column("from")
    for key, value in spec.to_dict().items():
        if key in ("name", "n_train", "n_test", "dvae_version"):
            continue
        source = resolution.sources.get(key, "built-in default")
        if key in ("batch_size", "epochs") and spec.factor_doubled:
            source += " (x2 for factor)"
        if key in ("img_size",):
            source = f"dataset {spec.dataset}"
        table.add_row(key, str(value), source)
    Console().print(table)
