"""Everything the detail tabs show about one run, read in one go (no Textual).

`load_details` is called from a thread worker each time a run is selected or changes
on disk; it never raises for a bad folder.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvae_cli.catalogue.losses import LOSSES
from dvae_cli.errors import DvaeError
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import METRICS_DETAIL, METRICS_LOG, SPECS
from dvae_cli.runs.metrics_detail import MutualInfo, mutual_info, read_metrics_detail
from dvae_cli.runs.summary import RunSummary, summarize_run
from dvae_cli.spec import display_groups

__all__ = ["SPEC_GROUPS", "FileInfo", "MutualInfo", "RunDetails", "format_size", "format_time",
           "format_value", "list_files", "load_details", "loss_keys", "mutual_info", "spec_groups"]

#: Spec keys shown in each group of the Overview, in order (each `RunSpec` field's ``group``).
SPEC_GROUPS: dict[str, tuple[str, ...]] = display_groups()


def loss_keys() -> dict[str, tuple[str, ...]]:
    """The hyper-parameters each registered loss reads (the other losses' ones are listed as unused).

    A loss that takes several batches per step reads ``factor_doubled`` too (`RunSpec.typed`).
    """
    return {info.name: tuple(p.name for p in info.params) + (("factor_doubled",) if info.batches_per_step > 1 else ())
            for info in LOSSES.values()}


@dataclass(frozen=True)
class FileInfo:
    """One file of a run folder."""

    name: str
    size: int
    modified: float


@dataclass
class RunDetails:
    """The selected run: its full summary, raw spec, files and metric details."""

    summary: RunSummary
    raw_spec: dict[str, Any] = field(default_factory=dict)
    files: list[FileInfo] = field(default_factory=list)
    protocols: dict[str, Any] = field(default_factory=dict)
    metrics_dataset: str | None = None
    mutual_info: MutualInfo | None = None

    @property
    def name(self) -> str:
        return self.summary.name


def load_details(path: Path) -> RunDetails:
    """Read everything the detail tabs show about the run folder `path`."""
    path = Path(path)
    details = RunDetails(summary=summarize_run(path))
    details.files = list_files(path)
    details.raw_spec = _read_json_object(path / SPECS) or {}
    metrics_log = _read_json_object(path / METRICS_LOG) or {}
    protocols = metrics_log.get("protocols")
    details.protocols = protocols if isinstance(protocols, dict) else {}
    dataset = metrics_log.get("dataset")
    details.metrics_dataset = dataset if isinstance(dataset, str) else None
    details.mutual_info = mutual_info(read_metrics_detail(path / METRICS_DETAIL))
    return details


def list_files(path: Path) -> list[FileInfo]:
    """The files of `path` (not hidden ones), by name; empty if it cannot be listed."""
    try:
        entries = sorted(Path(path).iterdir())
    except OSError:
        return []
    files = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            info = entry.stat()
        except OSError:
            continue
        if entry.is_file():
            files.append(FileInfo(entry.name, info.st_size, info.st_mtime))
    return files


def spec_groups(raw: dict[str, Any]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """The keys of a ``specs.json`` in the groups data, model, loss, training, other.

    Only keys present in the file are listed; the hyper-parameters of the other
    losses go to "unused by <loss>".
    """
    loss = raw.get("loss")
    keys_of = loss_keys()
    used = set(keys_of.get(loss, ())) if isinstance(loss, str) else set()
    groups: list[tuple[str, list[tuple[str, Any]]]] = []
    placed: set[str] = set()
    for group, keys in SPEC_GROUPS.items():
        wanted = keys + tuple(k for k in keys_of.get(str(loss), ()) if group == "loss")
        items = [(key, raw[key]) for key in wanted if key in raw]
        placed.update(key for key, _ in items)
        groups.append((group, items))
    unused = sorted(k for keys in keys_of.values() for k in keys if k in raw and k not in used)
    placed.update(unused)
    groups.append(("other", [(key, raw[key]) for key in sorted(raw) if key not in placed]))
    if unused:
        groups.append((f"unused by {loss}", [(key, raw[key]) for key in unused]))
    return [(group, items) for group, items in groups if items]


def format_size(size: float) -> str:
    """Bytes in B, KB, MB or GB (decimal)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def format_time(timestamp: float) -> str:
    """A local date and time, to the minute."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def format_value(value: Any) -> str:
    """A spec or metric value, compact (4 significant digits for floats)."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if isinstance(value, bool) else "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value) if all(isinstance(v, int) for v in value) else json.dumps(value)
    return str(value)


def _read_json_object(path: Path) -> dict[str, Any] | None:
    try:
        data = read_json(path)
    except (OSError, DvaeError):
        return None
    return data if isinstance(data, dict) else None
