"""``dvae eval NAME``: test losses and disentanglement metrics of a run (dvae's or disentangling-vae's).

The command parses its options into an `EvaluateRequest` and prints what
`dvae_cli.workflows.evaluate.evaluate` reports (`EvaluationView`); the rules are the workflow's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dvae_cli.catalogue.metrics import default_metrics, metric_names
from dvae_cli.cli.output import make_console
from dvae_cli.cli.registry_help import listing_command
from dvae_cli.runs.folder import DATA_ENV, RESULTS_ENV
from dvae_cli.views.evaluate import EvaluationView, print_tracker_links
from dvae_cli.workflows.evaluate import EvaluateRequest, evaluate

METRICS = "Metrics"


def metric_help() -> str:
    """The help of ``--metric``: the registered metrics and the defaults."""
    return (f"Comma-separated metrics: {', '.join(metric_names())}, or all. Implies --metrics. "
            f"Default: {', '.join(default_metrics())}.")


#: The command class that writes `metric_help` when the help is shown (plugins registered since included).
EvalCommand = listing_command(metric=metric_help)


def eval_command(
    name: Annotated[str, typer.Argument(help="Run name under the results dir, or the path of a run folder.")],
    dataset: Annotated[Optional[str], typer.Option("-d", "--dataset",
                                                   help="Evaluate on another dataset with the same image "
                                                        "size (default: the run's).")] = None,
    no_test: Annotated[bool, typer.Option("--no-test", help="Skip the test losses.")] = False,
    metrics: Annotated[bool, typer.Option("--metrics", help="Compute disentanglement metrics (on a dataset "
                                                            "without factors: those that need none).",
                                                       rich_help_panel=METRICS)] = False,
    metric: Annotated[Optional[str], typer.Option(
        "--metric", help="Comma-separated metrics, or all. Implies --metrics.",  # see metric_help
        rich_help_panel=METRICS)] = None,
    factors: Annotated[Optional[str], typer.Option(
        "--factors", help="Comma-separated factors to score (default: every factor with more than one value; "
                          "MIG/AAM on dSprites: scale, orientation, posX, posY).", rich_help_panel=METRICS)] = None,
    n_samples: Annotated[Optional[int], typer.Option("--n-samples", help="Posterior samples per entropy (MIG, "
                                                                        "AAM).", show_default="10000",
                                                     rich_help_panel=METRICS)] = None,
    max_images: Annotated[Optional[int], typer.Option("--max-images", help="Score this many images, chosen "
                                                                          "with balanced factor values "
                                                                          "(default: all; 10,000 with --fast).",
                                                      rich_help_panel=METRICS)] = None,
    fast: Annotated[bool, typer.Option("--fast", help="A quick look (under a minute on 2 CPU cores): 10,000 "
                                                      "images with balanced factor values, 2,000 samples per "
                                                      "entropy, 1,000/500 classifier points (README: its noise).",
                                       rich_help_panel=METRICS)] = False,
    seed: Annotated[Optional[int], typer.Option("--seed", "-s", help="Seed of the metrics (default: the run's).",
                                                rich_help_panel=METRICS)] = None,
    eval_batchsize: Annotated[Optional[int], typer.Option("--eval-batchsize",
                                                          help="Batch size (default: the run's).")] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    tracker: Annotated[Optional[str], typer.Option(
        "--tracker", metavar="NAMES", help="Log the test losses and scores into these experiment trackers "
                                           "(comma-separated; default: the run's own, continuing its tracker "
                                           "runs; none: no tracker).")] = None,
    results_dir: Annotated[Optional[Path], typer.Option("--results-dir", envvar=RESULTS_ENV,
                                                        show_default="./results")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", envvar=DATA_ENV,
                                                     show_default="./data")] = None,
) -> None:
    """Compute a run's test losses over its whole test set (test_losses.log) and, with --metrics,
    its disentanglement metrics (metrics.log, metrics_detail.json)."""
    request = EvaluateRequest(
        name, metrics=metric if metric is not None and (metrics or metric) else metrics, test=not no_test,
        dataset=dataset, factors=[f.strip() for f in factors.split(",") if f.strip()] if factors else None,
        n_samples=n_samples, max_images=max_images, fast=fast, seed=seed, batch_size=eval_batchsize,
        device=device, trackers=tracker, results_dir=results_dir, data_dir=data_dir)
    console = make_console()
    result = evaluate(request, EvaluationView(console))
    print_tracker_links(console, result)
