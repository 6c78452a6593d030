"""The root `dvae` app and the edge where errors become one line.

Commands import torch (and matplotlib, textual) inside their function bodies, so
``dvae --help`` and the commands that do not train stay fast.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from dvae_cli.cli import browse, compare, data, experiments, plot, study, train
from dvae_cli.cli import eval as eval_command
from dvae_cli.cli import export as export_command
from dvae_cli.cli import score as score_command
from dvae_cli.cli.output import safe_streams
from dvae_cli.errors import EXIT_USAGE, DvaeError
from dvae_cli.version import __version__

DEBUG_ENV = "DVAE_DEBUG"

app = typer.Typer(
    name="dvae",
    help="Train, evaluate, inspect and compare disentangled variational autoencoders.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("train", no_args_is_help=True)(train.train_command)
app.command("eval", no_args_is_help=True, cls=eval_command.EvalCommand)(eval_command.eval_command)
app.command("compare")(compare.compare_command)
app.command("plot", no_args_is_help=True, cls=plot.PlotCommand)(plot.plot_command)
app.command("browse")(browse.browse_command)
app.command("export", no_args_is_help=True)(export_command.export_command)
app.command("score", no_args_is_help=True, cls=score_command.ScoreCommand)(score_command.score_command)
app.add_typer(experiments.app, name="experiments")
app.add_typer(data.app, name="data")
app.add_typer(study.app, name="study")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dvae {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Train, evaluate, inspect and compare disentangled variational autoencoders."""


def error_line(message: str, label: str = "error") -> None:
    """Print ``<label>: <message>`` on stderr (first line only; in a distributed run, rank 0 only)."""
    if os.environ.get("RANK", "0") != "0":
        return
    first = str(message).strip().splitlines()[0] if str(message).strip() else "unknown error"
    sys.stderr.write(f"{label}: {first}\n")
    sys.stderr.flush()


def plain_flags(command: Any) -> Any:
    """Show flags (``--overwrite``) in ``--help`` without a ``<bool>`` type, as flags take no value."""
    for sub in getattr(command, "commands", {}).values():
        plain_flags(sub)
    for param in getattr(command, "params", []):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    make_help_option = getattr(command, "get_help_option", None)
    if make_help_option is not None:   # -h/--help is made on demand: give it the same treatment
        def help_option(ctx: object, make: object = make_help_option) -> object:
            option = make(ctx)  # type: ignore[operator]
            if option is not None and option.metavar is None:
                option.metavar = ""
            return option
        command.get_help_option = help_option  # type: ignore[attr-defined]
    return command


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map user errors to one ``error:`` line and a non-zero exit code.

    ``DVAE_DEBUG=1`` shows the traceback of any error instead.
    """
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    safe_streams()   # a path or name the terminal's encoding lacks is printed with '?', never a crash
    train.refresh_signature()   # the options of every loss registered by now (plugins included)
    command = plain_flags(typer.main.get_command(app))
    try:
        result = command.main(args=argv, prog_name="dvae", standalone_mode=False)
    except DvaeError as exc:
        if debug:
            raise
        error_line(str(exc), exc.label)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    except Exception as exc:  # usage errors of the parser (click's exception classes)
        if debug or not hasattr(exc, "format_message"):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]
            sys.exit(0)
        error_line(exc.format_message())  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE)
    sys.exit(result if isinstance(result, int) else 0)
