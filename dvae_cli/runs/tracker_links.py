"""Where a run's tracker runs are (``trackers.json``), in words: ``dvae train``'s summary, browse, compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dvae_cli.runs.layout import TRACKERS_FILE


def read_records(folder: Path) -> dict[str, dict[str, Any]]:
    """``trackers.json`` of a run folder: tracker name -> what identifies its run there ({} if none)."""
    try:
        data = json.loads((Path(folder) / TRACKERS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {name: record for name, record in data.items() if isinstance(record, dict)}


def tracker_link(name: str, record: dict[str, Any], folder: Path) -> str:
    """The link of one tracker run: its URL, or where to look at it locally."""
    if record.get("url"):
        return str(record["url"])
    if name == "tensorboard":
        return f"tensorboard --logdir {folder / str(record.get('id', 'tb'))}"
    if name == "mlflow":
        uri = record.get("tracking_uri", "")
        if not uri:
            return f"run {record.get('id', '?')}"
        # MLflow >= 3.7 serves a file store only when asked to
        allow = "MLFLOW_ALLOW_FILE_STORE=true " if uri.startswith("file:") else ""
        return f"{allow}mlflow ui --backend-store-uri {uri}  (run {record.get('id', '?')})"
    if name == "wandb":
        return f"offline run {record.get('id', '?')}: wandb sync {folder / 'wandb'}/offline-run-*"
    return f"run {record.get('id', '?')}"


def tracker_links(folder: Path) -> dict[str, str]:
    """Tracker name -> link, for every tracker ``trackers.json`` records ({} if none)."""
    return {name: tracker_link(name, record, Path(folder)) for name, record in read_records(Path(folder)).items()}


def tracker_lines(folder: Path) -> list[str]:
    """One ``Tracker <name>: <link>`` line per tracker of the run."""
    return [f"Tracker {name}: {link}" for name, link in tracker_links(folder).items()]
