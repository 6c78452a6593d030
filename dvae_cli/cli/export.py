"""``dvae export NAME --format onnx|torchscript``: a run's encoder and decoder as standalone graphs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from dvae_cli.runs.folder import RESULTS_ENV, RunFolder, default_results_dir


def export_command(
    name: Annotated[str, typer.Argument(help="Run name under the results dir, or the path of a run folder.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help='onnx (needs: pip install "dvae\\[onnx]") or '
                                                            "torchscript.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder for the files.",
                                                   show_default="<run folder>/<format>")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace the files of an earlier "
                                                                "export.")] = False,
    results_dir: Annotated[Optional[Path], typer.Option("--results-dir", envvar=RESULTS_ENV,
                                                        show_default="./results")] = None,
) -> None:
    """Write the encoder (images -> mean, logvar) and the decoder (z -> pixel means in [0, 1]) with a
    dynamic batch size, and export.json describing them; each graph is checked against the model first."""
    from dvae_cli.engine.export import check_target, default_output, export_run  # torch only when exporting

    folder = RunFolder.find(name, results_dir or default_results_dir())
    folder.read_spec()
    target = output if output is not None else default_output(folder.path, fmt)
    check_target(fmt, target, overwrite)   # format, extra, folder and earlier files: before loading torch
    result = export_run(folder, fmt, target, overwrite)
    for path in result.files:
        typer.echo(f"wrote {path}")
    typer.echo(f"checked against the model: largest difference {result.max_difference:.2g}")
