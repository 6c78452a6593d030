"""The experiment trackers dvae mirrors runs into: one torch-free `TrackerInfo` each, `register_tracker` for more.

A tracker is optional: each built-in one is an extra of the package
(``pip install "dvae[tensorboard]"``), and ``--tracker`` is refused before any work
when its package is missing. The run folder stays the source of truth; a tracker
mirrors it (`dvae_cli.trackers`).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.plugins import Registry


@dataclass(frozen=True)
class TrackerInfo:
    """An experiment tracker, described without importing it.

    Attributes:
        name: Its ``--tracker`` key (lower case).
        title: What it is, in a few words.
        package: The module its backend imports (checked with `importlib.util.find_spec`).
        extra: The package extra that installs it (``pip install "dvae[<extra>]"``).
        backend: ``"module:Class"`` of its `dvae_cli.trackers.base.Tracker` (or the class).
        where: Where it writes, and the environment variables it honours (``--help``, README).
    """

    name: str
    title: str
    package: str
    extra: str
    backend: str | Callable[..., Any]
    where: str


def _check(info: TrackerInfo) -> None:
    if not info.name.isidentifier() or info.name != info.name.lower():
        raise ConfigError(f"a tracker name must be a lower-case identifier, got '{info.name}'")


TRACKERS: Registry[TrackerInfo] = Registry("tracker", "dvae.trackers", _check)


def register_tracker(info: TrackerInfo, replace: bool = False) -> TrackerInfo:
    """Make a tracker known to ``--tracker`` (see `dvae_cli.plugins`)."""
    return TRACKERS.register(info, replace)


def tracker_names() -> tuple[str, ...]:
    return TRACKERS.names()


def parse_trackers(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``"tensorboard,wandb"`` (or a list of names) as a list of known tracker names, duplicates dropped.

    Raises:
        UnknownNameError: for a name that is not a tracker, naming the choices.
        ConfigError: for a value that is neither a string nor a list of strings.
    """
    if value is None:
        return []
    if isinstance(value, str):
        items = [part.strip().lower() for part in value.split(",")]
    elif isinstance(value, (list, tuple)) and all(isinstance(part, str) for part in value):
        items = [part.strip().lower() for part in value]
    else:
        raise ConfigError(f"tracker must be a name or a list of names ({', '.join(tracker_names())}), "
                          f"got {value!r}")
    if "none" in items and any(item not in ("", "none") for item in items):
        raise ConfigError(f"tracker 'none' means no tracker: it cannot be combined with others, got {value!r}")
    names: list[str] = []
    for item in items:
        if not item or item == "none":
            continue
        if item not in TRACKERS:
            raise UnknownNameError("tracker", item, tracker_names())
        if item not in names:
            names.append(item)
    return names


def is_installed(name: str) -> bool:
    """Whether the package of tracker `name` (a registered one) can be imported here (nothing is imported)."""
    return importlib.util.find_spec(TRACKERS.get(name).package) is not None


def check_installed(names: list[str]) -> None:
    """Refuse, before any work, trackers whose package is not installed.

    Raises:
        ConfigError: naming the tracker and the ``pip install`` that adds it.
    """
    for name in names:
        info = TRACKERS.get(name)
        if not is_installed(name):
            raise ConfigError(f"--tracker {name} needs the '{info.package}' package: "
                              f"pip install \"dvae[{info.extra}]\"")


_BUILT_IN = (
    TrackerInfo("tensorboard", "TensorBoard event files", "tensorboard", "tensorboard",
                "dvae_cli.trackers.tensorboard:TensorBoardTracker",
                "the run folder's tb/ (tensorboard --logdir results)"),
    TrackerInfo("wandb", "Weights & Biases", "wandb", "wandb", "dvae_cli.trackers.wandb:WandbTracker",
                "project $WANDB_PROJECT (default dvae); WANDB_MODE=offline and W&B's other variables apply"),
    TrackerInfo("mlflow", "MLflow", "mlflow", "mlflow", "dvae_cli.trackers.mlflow:MlflowTracker",
                "$MLFLOW_TRACKING_URI (default: a file store in ./mlruns), experiment $MLFLOW_EXPERIMENT_NAME "
                "(default dvae)"),
)
for _info in _BUILT_IN:
    register_tracker(_info)

__all__ = ["TRACKERS", "TrackerInfo", "UnknownNameError", "check_installed", "is_installed", "parse_trackers",
           "register_tracker", "tracker_names"]
