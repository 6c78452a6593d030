"""Errors that dvae reports to the user as one line.

Every error a user can cause (a mistyped name, a bad value, a broken file) is a
`DvaeError` subclass whose message names the bad value and the valid choices. The
CLI catches them at its edge and prints ``error: <message>`` with no traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Exit codes shared by the CLI and the engine.
EXIT_USAGE = 2
EXIT_NONFINITE = 3


class DvaeError(Exception):
    """Base class of every error meant for the user (one line, exit code 2)."""

    exit_code: int = EXIT_USAGE
    #: How the CLI starts the line it prints.
    label: str = "error"


class ConfigError(DvaeError):
    """A parameter value or an experiments file is invalid."""


class UnknownNameError(ConfigError):
    """A name (experiment, dataset, loss, ...) is not one of the valid choices."""

    def __init__(self, kind: str, value: str, choices: Iterable[str]) -> None:
        choices = list(choices)
        self.kind, self.value, self.choices = kind, value, choices
        folded = {str(choice).lower(): str(choice) for choice in choices}   # 'mig' finds 'MIG'
        close = [folded[match] for match in difflib.get_close_matches(str(value).lower(), list(folded), n=1,
                                                                      cutoff=0.6)]
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        shown = str(value) if str(value).isprintable() else repr(str(value))[1:-1]  # keep the message one line
        super().__init__(f"unknown {kind} '{shown}'{hint}; choose from: {', '.join(choices)}")


class DatasetUnavailableError(DvaeError):
    """The files of a dataset are not on disk and cannot be fetched."""


class RunExistsError(DvaeError):
    """A run folder exists and the user did not ask to overwrite it."""


class RunNotFoundError(DvaeError):
    """No run folder with the given name."""


class CorruptFileError(DvaeError):
    """A file of a run folder (or the experiments file) cannot be read."""


class InputError(DvaeError, ValueError):
    """A tensor or value given to the Python API (`dvae_cli.load_run`) does not fit the run.

    Also a `ValueError`, so ``except ValueError`` catches it as Python users expect.
    """


class MissingExtraError(DvaeError):
    """An optional dependency is not installed; the message names the extra to install."""


class ExportError(DvaeError):
    """An export would replace existing files, or the exported graph does not reproduce the model."""


class NonFiniteLossError(DvaeError):
    """Training produced NaN or inf in a loss term (or in the weights).

    Attributes:
        term: The first non-finite term (None if it was found in the weights).
        step: The global step where it first appeared.
        epoch: The epoch of that step, counted from 1.
        exploded: Whether the gradient norm grew by orders of magnitude before it
            (a learning rate too high) rather than jumping to NaN (a bug).
    """

    exit_code = EXIT_NONFINITE

    def __init__(self, message: str, term: str | None = None, step: int | None = None,
                 epoch: int | None = None, exploded: bool = False) -> None:
        super().__init__(message)
        self.term, self.step, self.epoch, self.exploded = term, step, epoch, exploded


class TrainingInterrupted(DvaeError):
    """Training stopped on SIGINT or SIGTERM after saving its state.

    The exit code is the shell's: 130 for SIGINT, 143 for SIGTERM.
    """

    label = "interrupted"

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
