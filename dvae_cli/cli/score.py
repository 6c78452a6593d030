"""``dvae score ENCODER -d DATASET``: the disentanglement scores of an encoder dvae did not train.

The command parses its options into a `ScoreRequest` and prints what
`dvae_cli.workflows.score.score` reports (`ScoreView`); the rules are the workflow's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dvae_cli.cli.eval import METRICS, metric_help
from dvae_cli.cli.output import make_console
from dvae_cli.cli.registry_help import listing_command
from dvae_cli.runs.folder import DATA_ENV, RESULTS_ENV
from dvae_cli.views.score import ScoreView
from dvae_cli.workflows.score import ScoreRequest, score

#: The command class that writes `metric_help` when the help is shown (plugins registered since included).
ScoreCommand = listing_command(metric=metric_help)


def score_command(
    encoder: Annotated[str, typer.Argument(help="An .onnx file, a TorchScript file (.pt), a folder dvae export "
                                                "wrote, an .npz of codes ('codes' or 'mean', optional 'logvar' "
                                                "and 'indices'), or package.module:callable (float32 images "
                                                "(B, C, H, W) in [0, 1] -> codes, or (mean, logvar)).",
                                           show_default=False)],
    dataset: Annotated[str, typer.Option("-d", "--dataset", help="The dataset whose images are encoded and whose "
                                                                 "factors score the codes.", show_default=False)],
    metric: Annotated[Optional[str], typer.Option(
        "--metric", help="Comma-separated metrics, or all.",  # see metric_help
        rich_help_panel=METRICS)] = None,
    factors: Annotated[Optional[str], typer.Option(
        "--factors", help="Comma-separated factors to score (default: every factor with more than one value).",
        rich_help_panel=METRICS)] = None,
    n_samples: Annotated[Optional[int], typer.Option("--n-samples", help="Posterior samples per entropy (MIG, "
                                                                        "AAM).", show_default="10000",
                                                     rich_help_panel=METRICS)] = None,
    max_images: Annotated[Optional[int], typer.Option("--max-images", help="Score this many images, chosen with "
                                                                          "balanced factor values (default: all; "
                                                                          "10,000 with --fast).",
                                                      rich_help_panel=METRICS)] = None,
    fast: Annotated[bool, typer.Option("--fast", help="A quick look: 10,000 images with balanced factor values, "
                                                      "2,000 samples per entropy, 1,000/500 classifier points.",
                                       rich_help_panel=METRICS)] = False,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of the image selection and the metrics.",
                                      rich_help_panel=METRICS)] = 0,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="The folder to write.",
                                                show_default="<results dir>/<encoder name>-scored")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the scores already in the output "
                                                                "folder.")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per call of the encoder.")] = 256,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda (a TorchScript or ONNX "
                                                         "encoder).")] = "auto",
    results_dir: Annotated[Optional[Path], typer.Option("--results-dir", envvar=RESULTS_ENV,
                                                        show_default="./results")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", envvar=DATA_ENV,
                                                     show_default="./data")] = None,
) -> None:
    """Score an encoder dvae did not train (ONNX, TorchScript, module:callable, or an .npz of codes) on a
    dataset's factors, as dvae eval scores a run: metrics.log, metrics_detail.json and scored.json in one
    folder that compare and browse list."""
    request = ScoreRequest(
        encoder, dataset, metrics=metric,
        factors=[f.strip() for f in factors.split(",") if f.strip()] if factors else None, n_samples=n_samples,
        max_images=max_images, fast=fast, seed=seed, batch_size=batch_size, device=device, out=out,
        overwrite=overwrite, results_dir=results_dir, data_dir=data_dir)
    score(request, ScoreView(make_console()))
