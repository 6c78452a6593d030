"""``dvae experiments list|show``: the experiment catalogue (no torch)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from dvae_cli.catalogue.losses import loss_info, loss_names
from dvae_cli.cli.output import (
    LIST_FORMATS,
    check_list_format,
    make_console,
    make_table,
    render_rows,
)
from dvae_cli.config import load_catalogue, resolve_run
from dvae_cli.data.catalog import dataset_info
from dvae_cli.errors import UnknownNameError
from dvae_cli.spec import DOUBLED

app = typer.Typer(help="The experiment catalogue (experiments.toml).", no_args_is_help=True)


@app.command("list")
def list_command(
    dataset: Annotated[Optional[str], typer.Option("--dataset", "-d", help="Only this dataset.")] = None,
    loss: Annotated[Optional[str], typer.Option("--loss", "-l", help="Only this loss.")] = None,
    fmt: Annotated[str, typer.Option("--format", "-F", help=f"{', '.join(LIST_FORMATS)}.")] = "table",
) -> None:
    """Table of the experiments: name, dataset, loss, epochs and the loss's key weights."""
    check_list_format(fmt)
    if dataset is not None:
        dataset_info(dataset)   # an unknown name fails naming the choices
    if loss is not None and loss not in loss_names():
        raise UnknownNameError("loss", loss, loss_names())
    catalogue = load_catalogue()
    rows = []
    for name in catalogue.names:
        spec = resolve_run(name, name, catalogue=catalogue).spec
        if (dataset and spec.dataset != dataset) or (loss and spec.loss != loss):
            continue
        rows.append({"name": name, "dataset": spec.dataset, "loss": spec.loss, "epochs": spec.epochs,
                     "batch": spec.batch_size, "lr": spec.lr, **spec.key_params(),
                     "description": catalogue.description(name)})
    if fmt != "table":
        sys.stdout.write(render_rows(rows, fmt))
        return
    table = make_table(("name", "dataset", "loss", "epochs", "batch", "lr", "key weights", "description"),
                       title=f"Experiments ({catalogue.path})", right=("epochs", "batch", "lr"))
    for row in rows:
        weights = " ".join(f"{key.split('_', 1)[1] if '_' in key else key}={row[key]}"
                           for key in loss_info(row["loss"]).key_params)
        table.add_row(row["name"], row["dataset"], row["loss"], str(row["epochs"]), str(row["batch"]),
                      f"{row['lr']:g}", weights, row["description"])
    console = make_console()
    console.print(table)
    console.print(f"{len(rows)} experiments. Train one with: dvae train NAME   Details: dvae experiments show NAME",
                  markup=False)


@app.command("show")
def show_command(name: Annotated[str, typer.Argument(help="Experiment name.")]) -> None:
    """Every parameter of an experiment, fully resolved, with where each value comes from."""
    catalogue = load_catalogue()
    if name not in catalogue.experiments:
        raise UnknownNameError("experiment", name, catalogue.names)
    resolution = resolve_run(name, name, catalogue=catalogue)
    spec = resolution.spec
    table = make_table(("parameter", "value", "from"), right=("value",),
                       title=f"{name}: {catalogue.description(name) or spec.loss + ' on ' + spec.dataset}")
    for key, value in spec.to_dict().items():
        if key in ("name", "n_train", "n_test", "dvae_version"):
            continue
        source = resolution.sources.get(key, "built-in default")
        if key in DOUBLED and spec.per_step > 1:   # stored multiplied by the loss's batches per step
            source += f" (x{spec.per_step} for {spec.loss})"
        if key in ("img_size",):
            source = f"dataset {spec.dataset}"
        table.add_row(key, str(value), source)
    make_console().print(table)
