"""Reading what the trackers wrote, with each tracker's own reader (the tests' side only).

- TensorBoard: its `EventAccumulator`;
- MLflow: its `MlflowClient` on the file store;
- W&B: an offline run's ``run-<id>.wandb`` is W&B's transaction log (LevelDB's log format
  behind a 7-byte ``:W&B`` header), each record one of W&B's own protobuf ``Record``
  messages; wandb >= 0.2x no longer ships a Python scanner for it, so `wandb_records`
  splits the blocks and leaves the decoding to W&B's protobuf classes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: LevelDB log format: 32 KiB blocks, records with a 7-byte header (CRC32C, length, type).
_BLOCK = 32 * 1024
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def tensorboard_events(logdir: Path) -> Any:
    """TensorBoard's `EventAccumulator` over `logdir`, loaded (scalars, images, tensors, hparams)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def tensorboard_hparams(accumulator: Any) -> dict[str, Any]:
    """The hyper-parameters of the session-start summary, by name."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = accumulator.PluginTagToContent("hparams")
    values: dict[str, Any] = {}
    for blob in content.values():
        data = plugin_data_pb2.HParamsPluginData.FromString(blob)
        if data.HasField("session_start_info"):
            for key, value in data.session_start_info.hparams.items():
                values[key] = getattr(value, value.WhichOneof("kind"))
    return values


def wandb_records(path: Path) -> list[Any]:
    """Every record of a W&B transaction log (``run-<id>.wandb``), as W&B's protobuf ``Record``."""
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    records, pending, pos = [], b"", _HEADER
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:          # a block's tail too short for a header is padding
            pos += left
            continue
        length = int.from_bytes(data[pos + 4:pos + 6], "little")
        kind = data[pos + 6]
        if kind == 0:               # zero padding (a block that ended early)
            pos += left
            continue
        chunk = data[pos + _HEADER:pos + _HEADER + length]
        pos += _HEADER + length
        if kind == _FIRST:
            pending = chunk
            continue
        if kind == _MIDDLE:
            pending += chunk
            continue
        payload = pending + chunk if kind == _LAST else chunk
        pending = b""
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        records.append(record)
    return records


def wandb_run(folder: Path) -> dict[str, Any]:
    """What the offline runs under ``<folder>/wandb`` hold: run ids, config, history rows, image files."""
    out: dict[str, Any] = {"ids": [], "config": {}, "history": [], "images": []}
    for log in sorted((Path(folder) / "wandb").glob("offline-run-*/run-*.wandb")):
        for record in wandb_records(log):
            kind = record.WhichOneof("record_type")
            if kind == "run":   # the run record carries the config given to wandb.init
                out["ids"].append(record.run.run_id)
                out["project"] = record.run.project
                out["config"].update({item.key: json.loads(item.value_json) for item in record.run.config.update})
            elif kind == "config":
                out["config"].update({item.key: json.loads(item.value_json) for item in record.config.update})
            elif kind == "history":
                out["history"].append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                                       for item in record.history.item})
        out["images"] += sorted((log.parent / "files" / "media" / "images").glob("*.png"))
    return out


def mlflow_run(tracking_uri: str, run_id: str) -> Any:
    """MLflow's client on `tracking_uri` and the run `run_id` (`mlflow.entities.Run`)."""
    import os

    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    return client, client.get_run(run_id)
