"""`TrackerSession`: the trackers of one run for one command, each guarded so that its failure never stops dvae."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.catalogue.trackers import TRACKERS
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.layout import TRACKERS_FILE
from dvae_cli.runs.tracker_links import read_records
from dvae_cli.trackers.base import TrackedRun, Tracker


def flat_params(spec: dict[str, Any]) -> dict[str, Any]:
    """A ``specs.json`` dict as tracker hyper-parameters: scalars kept, lists and dicts as JSON text."""
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if value is None or isinstance(value, (bool, int, float, str)):
            out[key] = value
        else:
            out[key] = json.dumps(value, sort_keys=True)
    return out


def _backend(name: str) -> Tracker:
    target = TRACKERS.get(name).backend
    if isinstance(target, str):
        module, _, attribute = target.partition(":")
        target = getattr(import_module(module), attribute)
    return target()


class TrackerSession:
    """The trackers `names` mirroring the run in `folder`, for one command (a training or an evaluation).

    Each tracker is started with the id ``trackers.json`` keeps for it (so a resumed
    run, or an evaluation, continues the same tracker run), and the ids are written
    back. A tracker that raises (at start or later: a server down, a full disk) is
    reported once on `warn` and not called again; the others and the command go on.

    Args:
        names: Tracker names (`dvae_cli.catalogue.trackers.parse_trackers`).
        folder: The run folder.
        name: The run's name.
        spec: The run's ``specs.json`` dict (hyper-parameters).
        first_step: The step logging starts from (a resumed run's step).
        warn: Called with each warning line (default: standard error).
    """

    def __init__(self, names: list[str], folder: Path, name: str, spec: dict[str, Any], first_step: int = 0,
                 warn: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.warn = warn or (lambda line: print(line, file=sys.stderr))
        self.active: dict[str, Tracker] = {}
        records = read_records(self.folder)
        params = flat_params(spec)
        for tracker_name in names:
            try:
                backend = _backend(tracker_name)
                record = backend.start(TrackedRun(self.folder, name, params, records.get(tracker_name), first_step))
            except Exception as exc:  # noqa: BLE001 - a tracker must never stop training
                self._warn(tracker_name, "could not start", exc)
                continue
            self.active[tracker_name] = backend
            records[tracker_name] = {key: value for key, value in record.items() if value is not None}
        if self.active:
            try:
                write_json(self.folder / TRACKERS_FILE, records)
            except (OSError, ValueError) as exc:
                self.warn(f"warning: could not record the tracker runs in {self.folder / TRACKERS_FILE}: {exc}")

    def _warn(self, name: str, what: str, exc: BaseException) -> None:
        first = str(exc).splitlines()[0] if str(exc) else ""
        first = first if len(first) <= 160 else first[:157] + "..."
        self.warn(f"warning: tracker {name} {what} ({type(exc).__name__}: {first}); training goes on without it")

    def _each(self, what: str, call: Callable[[Tracker], None]) -> None:
        for tracker_name, backend in list(self.active.items()):
            try:
                call(backend)
            except Exception as exc:  # noqa: BLE001 - warn once, then leave this tracker out
                del self.active[tracker_name]
                self._warn(tracker_name, f"failed to {what}", exc)

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        """Log the finite ones of `values` (keys like ``train/loss``) at `step`."""
        finite = {key: float(value) for key, value in values.items() if np.isfinite(value)}
        if finite:
            self._each("log scalars", lambda backend: backend.log_scalars(finite, step))

    def log_image(self, key: str, image: np.ndarray, step: int) -> None:
        """Log an (H, W, 3) uint8 image at `step`."""
        self._each("log an image", lambda backend: backend.log_image(key, image, step))

    def finish(self, status: str = "finished") -> None:
        """Close every tracker (``finished``, ``interrupted`` or ``failed``)."""
        self._each("finish", lambda backend: backend.finish(status))
        self.active.clear()
