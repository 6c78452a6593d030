"""One run folder ``<results-dir>/<name>/`` and how to find it.

Its files are named in `dvae_cli.runs.layout` (a superset of disentangling-vae's).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from dvae_cli.config import RunSpec
from dvae_cli.errors import ConfigError, CorruptFileError, RunExistsError, RunNotFoundError
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import (
    MODEL,
    SCORED,
    SPECS,
    TEST_LOG,
    TRAIN_LOG,
    WRITE_PROBE,
    checkpoint_epoch,
    checkpoint_name,
)
from dvae_cli.runs.logs import LossHistory, read_test_log, read_train_log
from dvae_cli.runs.outcome import missing_model_message

__all__ = ["DATA_ENV", "MODEL", "RESULTS_ENV", "SPECS", "TEST_LOG", "TRAIN_LOG", "RunFolder", "check_run_name",
           "check_writable", "default_data_dir", "default_results_dir", "list_run_names", "prepare_new_run"]

RESULTS_ENV = "DVAE_RESULTS_DIR"
DATA_ENV = "DVAE_DATA_DIR"
_VALID_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+=-]*$")


def default_results_dir() -> Path:
    """``$DVAE_RESULTS_DIR`` or ``./results``."""
    return Path(os.environ.get(RESULTS_ENV) or "results")


def default_data_dir() -> Path:
    """``$DVAE_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get(DATA_ENV) or "data")


def check_run_name(name: str) -> str:
    """Return `name` if it can name a folder safely.

    Raises:
        ConfigError: for empty names, path separators or leading dots.
    """
    if not _VALID_NAME.match(name):
        raise ConfigError(f"invalid run name {name!r}: use letters, digits and . _ + = - "
                          "(no '/', not starting with '.' or '-')")
    return name


@dataclass(frozen=True)
class RunFolder:
    """A run folder on disk; reading it needs no torch."""

    path: Path

    @classmethod
    def find(cls, name: str, results_dir: Path) -> RunFolder:
        """The existing run `name` under `results_dir` (or `name` itself if it is a run path).

        Raises:
            RunNotFoundError: naming the closest existing runs.
        """
        direct = Path(name)
        folder = cls(Path(results_dir) / name)
        try:
            if _is_listed(direct) and not _is_listed(folder.path):   # a path, not a name under results_dir
                return cls(direct)
            found = folder.path.is_dir()
        except OSError:  # e.g. a name too long for the file system
            found = False
        if not found:
            runs = list_run_names(results_dir, scored=True)
            from dvae_cli.errors import UnknownNameError

            shown = name if name.isprintable() else repr(name)[1:-1]  # one line, whatever was typed
            if runs:
                raise RunNotFoundError(str(UnknownNameError(f"run in {results_dir}", shown, runs)))
            raise RunNotFoundError(f"no run '{shown}': {results_dir} holds no runs")
        return folder

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def specs_path(self) -> Path:
        return self.path / SPECS

    @property
    def model_path(self) -> Path:
        return self.path / MODEL

    @property
    def train_log_path(self) -> Path:
        return self.path / TRAIN_LOG

    @property
    def test_log_path(self) -> Path:
        return self.path / TEST_LOG

    def checkpoint_path(self, epoch: int) -> Path:
        return self.path / checkpoint_name(epoch)

    def require_model(self) -> Path:
        """``model.pt``, which must exist.

        Raises:
            CorruptFileError: saying how the run ended (``outcome.json``) and what to run.
        """
        if not self.model_path.is_file():
            raise CorruptFileError(missing_model_message(self.path, self.name))
        return self.model_path

    def checkpoints(self) -> dict[int, Path]:
        """Epoch -> checkpoint file, sorted by epoch."""
        found = {}
        if self.path.is_dir():
            for entry in self.path.iterdir():
                epoch = checkpoint_epoch(entry.name)
                if epoch is not None:
                    found[epoch] = entry
        return dict(sorted(found.items()))

    def exists(self) -> bool:
        return self.path.is_dir() and any(self.path.iterdir())

    def read_spec(self, validate: bool = False) -> RunSpec:
        """Read ``specs.json`` (dvae's or disentangling-vae's).

        Args:
            validate: Also check every value (`RunSpec.validate`), as the commands
                that rebuild the model and its loss need.

        Raises:
            CorruptFileError: if it is missing, not JSON, has values of the wrong type
                or, with `validate`, an invalid value (the message names the file).
        """
        try:
            data = read_json(self.specs_path)
        except FileNotFoundError:
            raise CorruptFileError(f"{self.specs_path} is missing: {self.path} is not a run folder") from None
        if not isinstance(data, dict):
            raise CorruptFileError(f"{self.specs_path}: expected a JSON object")
        try:
            spec = RunSpec.from_dict(data)
            if spec.img_size is not None and (
                    not isinstance(spec.img_size, list) or len(spec.img_size) != 3
                    or not all(isinstance(v, int) and not isinstance(v, bool) for v in spec.img_size)):
                raise ConfigError(f"'img_size' must be [channels, height, width], got {spec.img_size!r}")
            if validate:
                spec.validate()
        except (ConfigError, TypeError) as exc:
            raise CorruptFileError(f"{self.specs_path}: {exc}") from None
        return spec

    def train_losses(self) -> LossHistory:
        """The training history (empty if no epoch has been logged yet)."""
        if not self.train_log_path.is_file():
            return {}
        return read_train_log(self.train_log_path)

    def test_losses(self) -> dict[str, float] | None:
        """The test losses, or None if they were not computed."""
        if not self.test_log_path.is_file():
            return None
        return read_test_log(self.test_log_path)


def list_run_names(results_dir: Path, scored: bool = False) -> list[str]:
    """Names of the sub-folders of `results_dir` that hold a ``specs.json`` (with `scored`, or a ``scored.json``)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        return []
    return sorted(p.name for p in results_dir.iterdir() if (p / SPECS).is_file() or scored and _is_listed(p))


def _is_listed(path: Path) -> bool:
    """Whether `path` is a run folder (``specs.json``) or a folder of ``dvae score`` (``scored.json``)."""
    return (path / SPECS).is_file() or (path / SCORED).is_file()


def check_writable(results_dir: Path, what: str = "results dir") -> None:
    """Check that `results_dir` (or, if missing, the folder it would be created in) can be written.

    Nothing is left behind: a probe file is created and removed. Commands call it
    before their work, so that a read-only folder fails in one line, not after hours.

    Args:
        results_dir: The folder to write into.
        what: How the message names it (``results dir``, ``run folder``, ``data dir``, ...).

    Raises:
        ConfigError: naming the folder and the system's reason.
    """
    existing = Path(results_dir)
    while not existing.exists() and existing != existing.parent:  # creating it is the training's job
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, f"{existing} is not a directory")
        probe = existing / f"{WRITE_PROBE}-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to {what} {results_dir}: {exc.strerror or exc}") from None


def prepare_new_run(results_dir: Path, name: str, overwrite: bool) -> RunFolder:
    """Create the folder for a new run.

    Args:
        results_dir: The parent folder (created if missing).
        name: The run name.
        overwrite: Replace an existing run of that name (its folder is removed).

    Raises:
        RunExistsError: if the run exists and `overwrite` is False.
        ConfigError: if the folder cannot be created.
    """
    check_run_name(name)
    folder = RunFolder(Path(results_dir) / name)
    if folder.exists():
        if not overwrite:
            raise RunExistsError(f"run '{name}' already exists in {results_dir}; "
                                 "use --overwrite to replace it or choose another name")
        shutil.rmtree(folder.path)
    try:
        folder.path.mkdir(parents=True, exist_ok=True)
        probe = folder.path / WRITE_PROBE
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write to results dir {results_dir}: {exc.strerror or exc}") from None
    return folder
