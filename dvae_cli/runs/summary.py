"""What a run folder holds, read without torch and without ever raising.

`summarize_run` is what `dvae compare` tabulates and `dvae browse` lists: the spec,
the training progress and status, the last value of every loss term, the test
losses, the metrics and the figures present. A folder that cannot be read is
summarised as ``broken`` with the reason.

A folder written by ``dvae score`` (``scored.json``, the scores of an encoder dvae did
not train, and no ``specs.json``) is summarised too, as kind ``scored`` with status
``scored``: its dataset and scores, no losses, no training.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dvae_cli.config import RunSpec
from dvae_cli.errors import CorruptFileError, DvaeError
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.jsonfile import as_float, read_json
from dvae_cli.runs.layout import (
    FIGURE_SUFFIXES,
    METRICS_LOG,
    RUN_MARKERS,
    SCORED,
    SPECS,
    TRACKERS_FILE,
    TRAINING_LOCK,
)
from dvae_cli.runs.logs import LossHistory, kl_per_latent, last_epoch_values
from dvae_cli.runs.metrics_detail import read_metrics_detail
from dvae_cli.runs.outcome import read_outcome
from dvae_cli.runs.tracker_links import tracker_links
from dvae_cli.runs.training_lock import lock_alive
from dvae_cli.wording import plural

#: A latent whose KL (nats) in the last epoch exceeds this is "active".
ACTIVE_KL = 0.1

__all__ = ["ACTIVE_KL", "KINDS", "LISTED_MARKERS", "STATUSES", "MetricsLog", "RunSummary", "read_metrics",
           "read_metrics_detail", "read_metrics_log", "run_status", "scan_runs", "spec_keys", "summarize_run"]

STATUSES = ("finished", "training", "interrupted", "diverged", "crashed", "broken", "scored")
#: ``trained``: a run folder of ``dvae train`` (or disentangling-vae); ``scored``: a folder of ``dvae score``.
KINDS = ("trained", "scored")
#: Files any of which makes a folder listed: a run's (`RUN_MARKERS`) or a scored folder's ``scored.json``.
LISTED_MARKERS = (*RUN_MARKERS, SCORED)
#: The entries ``scored.json`` must have (``dvae score`` writes them).
SCORED_KEYS = ("encoder", "format", "dataset", "latent_dim", "images", "created", "dvae_version")


@dataclass
class RunSummary:
    """One run folder at a glance.

    Attributes:
        name: The folder name.
        path: The folder.
        status: ``finished``, ``training``, ``interrupted``, ``diverged``, ``crashed`` or ``broken``;
            ``scored`` for a readable scored folder.
        reason: How it stopped or why it is broken ('' for a finished run), from
            ``outcome.json`` when the run recorded one.
        spec: The parsed ``specs.json`` (None when broken).
        origin: ``dvae`` or ``disentangling-vae`` (from the spec's keys).
        epochs_done: Epochs logged in ``train_losses.log``.
        epochs_planned: The spec's ``epochs``.
        history: Every term of ``train_losses.log``.
        last_train: The last logged value of every term.
        test_losses: ``test_losses.log`` or None.
        metrics: The numbers of ``metrics.log`` (no protocols, no null scores) or None.
        protocols: How each score was computed (``metrics.log``'s ``protocols``).
        not_computed: Each null score of ``metrics.log`` -> why (its protocol's ``not_computed``,
            or ``not recorded``).
        metrics_dataset: The dataset the scores were computed on (``metrics.log``'s ``dataset``).
        kind: ``trained`` or ``scored`` (a folder of ``dvae score``: no spec, no losses).
        scored: The content of ``scored.json`` (empty for a trained run).
        kl_per_latent: The last epoch's ``kl_loss_<j>`` terms, by latent index.
        figures: The PNG and GIF files in the folder, by name.
        modified: Newest modification time of the folder's files (Unix time).
        trackers: Each experiment tracker the run is mirrored into, with its link.
    """

    name: str
    path: Path
    status: str = "broken"
    reason: str = ""
    spec: RunSpec | None = None
    origin: str = "dvae"
    epochs_done: int = 0
    epochs_planned: int | None = None
    history: LossHistory = field(default_factory=dict)
    last_train: dict[str, float] = field(default_factory=dict)
    test_losses: dict[str, float] | None = None
    metrics: dict[str, float] | None = None
    protocols: dict[str, dict[str, object]] = field(default_factory=dict)
    not_computed: dict[str, str] = field(default_factory=dict)
    metrics_dataset: str | None = None
    kind: str = "trained"
    scored: dict[str, object] = field(default_factory=dict)
    kl_per_latent: list[float] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    modified: float = 0.0
    #: Tracker name -> link of the run in it (``trackers.json``; `dvae_cli.runs.tracker_links`).
    trackers: dict[str, str] = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        if self.spec:
            return self.spec.dataset
        dataset = self.scored.get("dataset")
        return dataset if isinstance(dataset, str) else "-"

    @property
    def scores_dataset(self) -> str | None:
        """The dataset the scores were computed on: ``metrics.log``'s, else (older files) the run's own."""
        return self.metrics_dataset or (self.dataset if self.dataset != "-" else None)

    @property
    def loss(self) -> str:
        return self.spec.loss if self.spec else "-"

    @property
    def active_latents(self) -> int | None:
        """Latents whose last-epoch KL exceeds `ACTIVE_KL` (None if not logged)."""
        if not self.kl_per_latent:
            return None
        return sum(1 for value in self.kl_per_latent if value > ACTIVE_KL)


def summarize_run(path: Path, read_history: Callable[[Path], LossHistory] | None = None) -> RunSummary:
    """Summarise the run folder at `path`; never raises for a bad folder.

    Args:
        path: The run folder.
        read_history: Reads ``train_losses.log`` (default: the whole history;
            `dvae_cli.runs.watch` passes a reader of the last epoch only).
    """
    path = Path(path)
    summary = RunSummary(name=path.name, path=path)
    folder = RunFolder(path)
    try:
        entries = list(path.iterdir())
    except OSError as exc:
        summary.reason = f"cannot list the folder: {exc.strerror or exc}"
        return summary
    summary.figures = sorted(e.name for e in entries if e.suffix.lower() in FIGURE_SUFFIXES and e.is_file())
    summary.modified = max((_mtime(e) for e in entries), default=_mtime(path))
    names = {entry.name for entry in entries}
    if SCORED in names and SPECS not in names:
        return _summarize_scored(path, summary)
    try:
        summary.spec = folder.read_spec()
        summary.origin = "dvae" if "dvae_version" in spec_keys(folder.specs_path) else "disentangling-vae"
        summary.epochs_planned = summary.spec.epochs
        if read_history is None:
            summary.history = folder.train_losses()
        else:
            summary.history = read_history(folder.train_log_path) if folder.train_log_path.is_file() else {}
        summary.test_losses = folder.test_losses()
        _read_scores(path, summary)
    except DvaeError as exc:
        summary.reason = str(exc)
        return summary
    summary.last_train = last_epoch_values(summary.history)
    summary.epochs_done = 1 + max((e for points in summary.history.values() for e, _ in points), default=-1)
    summary.kl_per_latent = kl_per_latent(summary.last_train)
    summary.status, summary.reason = run_status(path, folder, summary)
    if any(entry.name == TRACKERS_FILE for entry in entries):

        summary.trackers = tracker_links(path)
    return summary


def scan_runs(results_dir: Path) -> list[RunSummary]:
    """Summaries of every sub-folder of `results_dir` that looks like a run, by name.

    A sub-folder counts if it holds ``specs.json``, a ``model.pt`` or a loss log, so
    that a run missing its spec is listed as broken rather than hidden.
    """
    results_dir = Path(results_dir)
    try:
        children = sorted(p for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []
    return [summarize_run(child) for child in children if any((child / m).exists() for m in LISTED_MARKERS)]


def _summarize_scored(path: Path, summary: RunSummary) -> RunSummary:
    """A folder of ``dvae score``: ``scored.json`` and the scores (broken if either is unreadable)."""
    summary.kind, summary.origin = "scored", "dvae score"
    try:
        data = read_json(path / SCORED)
        if not isinstance(data, dict):
            raise CorruptFileError(f"{path / SCORED}: expected a JSON object")
        missing = [key for key in SCORED_KEYS if key not in data]
        if missing:
            raise CorruptFileError(f"{path / SCORED}: missing {', '.join(missing)}")
        summary.scored = data
        _read_scores(path, summary)
    except DvaeError as exc:
        summary.reason = str(exc)
        return summary
    summary.status = "scored"
    return summary


def _read_scores(path: Path, summary: RunSummary) -> None:
    """`summary`'s scores, protocols, null scores and dataset from ``metrics.log``."""
    log = read_metrics_log(path / METRICS_LOG)
    if log is not None:
        summary.metrics, summary.protocols = log.scores, log.protocols
        summary.not_computed, summary.metrics_dataset = log.not_computed, log.dataset


@dataclass
class MetricsLog:
    """A ``metrics.log``: its numbers, null scores with the reason, protocols and dataset."""

    scores: dict[str, float]
    not_computed: dict[str, str]
    protocols: dict[str, dict[str, object]]
    dataset: str | None


def read_metrics_log(path: Path) -> MetricsLog | None:
    """The ``metrics.log`` at `path` (None if there is none).

    Raises:
        CorruptFileError: if the file exists but is not a JSON object.
    """
    data = _read_log(path)
    if data is None:
        return None
    numbers = {str(k): as_float(v) for k, v in data.items()}
    scores = {k: v for k, v in numbers.items() if v is not None}
    given = data.get("protocols")
    protocols = {str(k): v for k, v in given.items() if isinstance(v, dict)} if isinstance(given, dict) else {}
    nulls = {str(k): str(protocols.get(str(k), {}).get("not_computed") or "not recorded")
             for k, v in data.items() if v is None}
    dataset = data.get("dataset")
    return MetricsLog(scores, nulls, protocols, dataset if isinstance(dataset, str) else None)


def read_metrics(path: Path) -> dict[str, float] | None:
    """The numeric entries of a ``metrics.log`` (None if there is none).

    Raises:
        CorruptFileError: if the file exists but is not a JSON object.
    """
    log = read_metrics_log(path)
    return None if log is None else log.scores


def _read_log(path: Path) -> dict[str, object] | None:
    if not path.is_file():
        return None
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None
    if not isinstance(data, dict):
        raise CorruptFileError(f"{path}: expected a JSON object")
    return data


def run_status(path: Path, folder: RunFolder, summary: RunSummary) -> tuple[str, str]:
    """(status, reason) of a readable run folder.

    From the training lock (a live process: ``training``), then ``outcome.json`` (how
    the last training ended), then, for runs that recorded none (disentangling-vae's,
    older dvae's), from model.pt and the epochs logged.
    """
    lock = path / TRAINING_LOCK
    if lock.is_file():
        if lock_alive(lock):
            return "training", ""
        return "interrupted", "the training process is gone (killed, or the machine stopped)"
    outcome = read_outcome(path)
    if outcome is not None:
        return outcome.state, "" if outcome.state == "finished" else outcome.reason()
    if folder.model_path.is_file():
        planned = summary.epochs_planned
        if summary.origin == "dvae" and planned is not None and summary.epochs_done < planned:
            return "interrupted", f"stopped after {summary.epochs_done} of {plural(planned, 'epoch')}"
        return "finished", ""
    if summary.epochs_done:
        return "interrupted", (f"no model.pt; {summary.epochs_done} of "
                               f"{plural(summary.epochs_planned or 0, 'epoch')} logged")
    return "interrupted", "no epoch logged and no model.pt"


def spec_keys(specs: Path) -> set[str]:
    """The top-level keys of a specs.json (empty if unreadable)."""
    try:
        data = read_json(specs)
    except (OSError, DvaeError):
        return set()
    return set(data) if isinstance(data, dict) else set()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
