"""``dvae eval NAME``: test losses and disentanglement metrics of a run (dvae's or disentangling-vae's)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

from dvae_cli.catalogue.metrics import default_metrics, factor_free_metrics, metric_names, needs_factors
from dvae_cli.catalogue.trackers import TRACKERS, check_installed, is_installed, parse_trackers
from dvae_cli.cli.output import PhaseProgress, make_console, make_table
from dvae_cli.cli.registry_help import listing_command
from dvae_cli.data.catalog import dataset_info, metrics_dataset
from dvae_cli.errors import ConfigError
from dvae_cli.metrics.names import MetricSettings, parse_metric_names
from dvae_cli.runs.layout import METRICS_LOG, METRICS_LOG_BACKUP
from dvae_cli.runs.folder import (DATA_ENV, RESULTS_ENV, RunFolder, check_writable, default_data_dir,
                                  default_results_dir)

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
    for option, value in (("--eval-batchsize", eval_batchsize), ("--n-samples", n_samples),
                          ("--max-images", max_images)):
        if value is not None and value <= 0:
            raise ConfigError(f"{option} must be a positive integer, got {value}")
    chosen = parse_metric_names(metric) if (metrics or metric) else ()
    factor_names = [f.strip() for f in factors.split(",") if f.strip()] if factors else None
    if no_test and not chosen:
        raise ConfigError("--no-test without --metrics leaves nothing to compute")
    folder = RunFolder.find(name, results_dir or default_results_dir())
    spec = folder.read_spec(validate=True)  # a broken specs.json fails here, before torch is imported
    check_writable(folder.path, "run folder")   # before minutes of scoring, not after
    folder.require_model()                     # a run that diverged or is training says so
    trackers = eval_trackers(tracker, spec.tracker)
    free_only = False
    if chosen and needs_factors(chosen) and (metric is None or metric.strip().lower() == "all"):
        # --metrics (or --metric all) on a dataset without factors: the scores that need none
        free_only = not dataset_info(dataset or spec.dataset).has_factors and bool(factor_free_metrics())
        if free_only:
            chosen = factor_free_metrics()
    if chosen and needs_factors(chosen):  # a dataset without factors fails before the test losses load anything
        metrics_dataset(dataset or spec.dataset, spec.img_size)
    elif chosen and list(dataset_info(dataset or spec.dataset).img_size) != list(spec.img_size):
        size = list(dataset_info(dataset or spec.dataset).img_size)   # the metrics that need no factors
        raise ConfigError(f"dataset '{dataset or spec.dataset}' has {size} images but the run's model takes "
                          f"{list(spec.img_size)}; choose a dataset of that size with -d")
    elif dataset is not None:
        dataset_info(dataset)
    console = make_console()
    if free_only:
        console.print(f"note: dataset '{dataset or spec.dataset}' has no ground-truth factors: computing the "
                      f"metrics that need none ({', '.join(chosen)})", markup=False)

    def log(message: str) -> None:
        console.print(message, style="dim", markup=False)

    tracked: dict[str, float | None] = {}
    if not no_test:
        from dvae_cli.engine.evaluate import evaluate_run  # imports torch

        result = evaluate_run(folder, data_dir or default_data_dir(), dataset=dataset, device=device,
                              batch_size=eval_batchsize, log=log)
        print_table(console, f"{folder.name}: test losses on {result.dataset} ({result.n_images:,} images)",
                    result.losses)
        for note in result.notes:
            console.print(f"note: {note}", markup=False)
        if result.written is not None:
            console.print(f"wrote {result.written}", markup=False)
        if result.backup is not None:
            console.print(f"kept the previous test losses as {result.backup}", markup=False)
        tracked.update({f"test/{key}": value for key, value in result.losses.items()})
    if chosen:
        from dvae_cli.engine.disentanglement import evaluate_metrics

        settings = MetricSettings.fast(seed=spec.seed) if fast else MetricSettings(seed=spec.seed)
        if seed is not None:
            settings = settings.with_seed(seed)
        if n_samples is not None:
            from dataclasses import replace

            settings = replace(settings, n_samples=n_samples)
        with PhaseProgress(console) as progress:
            scored = evaluate_metrics(folder, data_dir or default_data_dir(), dataset=dataset, metrics=chosen,
                                      settings=settings, factors=factor_names, max_images=max_images,
                                      device=device, log=log, progress=progress)
        print_table(console, f"{folder.name}: metrics on {scored.dataset} ({scored.n_images:,} images, "
                             f"{scored.seconds:.0f} s)", scored.report.scores)
        times = scored.report.details.get("seconds", {})
        if times:
            console.print("time per metric: " + ", ".join(f"{k} {v:.1f} s" for k, v in times.items()), markup=False)
        for key, value in scored.report.scores.items():
            if value is None:
                reason = scored.report.protocols.get(key, {}).get("not_computed", "")
                console.print(f"note: {key} was not computed: {reason}", markup=False)
        if scored.replaced:
            console.print("replaced the earlier " + ", ".join(
                f"{key} ({'-' if old is None else format(old, '.4g')})" for key, old in scored.replaced.items())
                + f" of {METRICS_LOG} (the first version is kept as {METRICS_LOG_BACKUP})", markup=False)
        console.print("wrote " + ", ".join(str(p) for p in scored.written), markup=False)
        tracked.update({f"metrics/{key}": value for key, value in scored.report.scores.items()})
    if trackers and tracked:
        log_to_trackers(trackers, folder.path, spec.to_dict(), tracked, console)


def eval_trackers(given: str | None, the_runs: list[str]) -> list[str]:
    """The trackers ``dvae eval`` logs into: ``--tracker`` (refused now if not installed), else the run's own.

    A tracker the run was trained with whose package is missing here is left out.
    """
    if given is not None:
        names = parse_trackers(given)
        check_installed(names)
        return names
    return [name for name in the_runs if name in TRACKERS and is_installed(name)]


def log_to_trackers(names: list[str], folder: Path, spec: dict[str, Any], values: dict[str, float | None],
                    console: Console) -> None:
    """Log `values` at the run's last training step into its tracker runs, and say where."""
    from dvae_cli.runs.outcome import read_outcome
    from dvae_cli.trackers.links import tracker_links
    from dvae_cli.trackers.session import TrackerSession

    outcome = read_outcome(folder)
    step = outcome.step if outcome else 0
    session = TrackerSession(names, folder, spec.get("name") or folder.name, spec, first_step=step,
                             warn=lambda line: console.print(line, markup=False, style="yellow"))
    session.log_scalars({key: value for key, value in values.items() if value is not None}, step)
    logged = list(session.active)
    session.finish("finished")
    links = tracker_links(folder)
    for name in logged:
        console.print(f"logged to tracker {name}: {links.get(name, '')}", markup=False)


def print_table(console: object, title: str, values: dict[str, float | None]) -> None:
    """A two-column table of named numbers (None: "not computed")."""
    table = make_table(("name", "value"), title=title, right=("value",))
    for key, value in values.items():
        table.add_row(key, "not computed" if value is None else f"{value:.4g}")
    console.print(table)  # type: ignore[attr-defined]
