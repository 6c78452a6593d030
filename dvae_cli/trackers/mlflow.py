"""MLflow: one MLflow run per dvae run, through `MlflowClient` (``$MLFLOW_TRACKING_URI``, default ``./mlruns``)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.trackers.base import TrackedRun, Tracker

#: The MLflow experiment when ``$MLFLOW_EXPERIMENT_NAME`` is not set.
DEFAULT_EXPERIMENT = "dvae"
#: MLflow's limit on a parameter's value (older servers: 500 characters).
MAX_PARAM_CHARS = 500


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI``, or a file store in ``./mlruns`` (MLflow's own default location)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or (Path.cwd() / "mlruns").resolve().as_uri()


#: MLflow's HTTP settings when the user has not set them: a server that is down costs seconds, not minutes
#: of retries (MLflow's defaults: 7 retries with exponential back-off, 120 s per request).
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
#: Seconds the tracking server has to answer its health check when the tracker starts.
HEALTH_TIMEOUT = 5.0


def check_server(uri: str) -> None:
    """For an MLflow server (http/https), bound MLflow's retries and check that it answers, before training.

    Raises:
        ConnectionError: if the server does not answer its ``/health`` endpoint within `HEALTH_TIMEOUT`.
    """
    if not uri.startswith(("http://", "https://")):
        return
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=HEALTH_TIMEOUT):
            pass
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConnectionError(f"the MLflow server at {uri} does not answer ({reason})") from None


def allow_file_store(uri: str) -> None:
    """MLflow >= 3.7 refuses a file store unless ``MLFLOW_ALLOW_FILE_STORE`` is set: a file URI asks for one."""
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


class MlflowTracker(Tracker):
    """Logs metrics, parameters and images (as artifacts under ``images/``) to one MLflow run.

    Uses a client of its own, never MLflow's global active run, so a script that
    already has an MLflow run open is left alone. The run id is kept in
    ``trackers.json``: ``--resume`` and ``dvae eval`` reopen that run.
    """

    name = "mlflow"

    def __init__(self) -> None:
        self.client: Any = None
        self.run_id = ""

    def start(self, run: TrackedRun) -> dict[str, Any]:
        from mlflow import MlflowClient
        from mlflow.entities import Param

        previous = run.previous or {}
        # a run continues where it was tracked, unless $MLFLOW_TRACKING_URI says where to now
        uri = (None if os.environ.get("MLFLOW_TRACKING_URI") else previous.get("tracking_uri")) or tracking_uri()
        allow_file_store(uri)
        check_server(uri)
        if os.environ.get("MLFLOW_TRACKING_URI") and previous.get("tracking_uri") not in (None, uri):
            previous = {}   # another server: its own run
        self.client = MlflowClient(tracking_uri=uri)
        if previous.get("id"):
            self.run_id = previous["id"]
            self.client.update_run(self.run_id, status="RUNNING")
            experiment_id = self.client.get_run(self.run_id).info.experiment_id
        else:
            name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
            experiment = self.client.get_experiment_by_name(name)
            experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
            self.run_id = self.client.create_run(experiment_id, run_name=run.name).info.run_id
            params = [Param(key, str(value)[:MAX_PARAM_CHARS]) for key, value in sorted(run.params.items())]
            for start in range(0, len(params), 100):   # MLflow takes at most 100 parameters a batch
                self.client.log_batch(self.run_id, params=params[start:start + 100])
        return {"id": self.run_id, "experiment_id": experiment_id, "tracking_uri": uri,
                "url": _run_url(uri, experiment_id, self.run_id)}

    def log_scalars(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(key.replace(" ", "_"), float(value), now, step) for key, value in values.items()]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(self.run_id, metrics=metrics[start:start + 1000])

    def log_image(self, key: str, image: np.ndarray, step: int) -> None:
        self.client.log_image(self.run_id, image, key=key, step=step)

    def finish(self, status: str) -> None:
        if self.client is not None and self.run_id:
            self.client.set_terminated(self.run_id, {"finished": "FINISHED", "interrupted": "KILLED"}.get(
                status, "FAILED"))


def _run_url(uri: str, experiment_id: str, run_id: str) -> str | None:
    """The run's page on an MLflow server (None for a file or database store: ``mlflow ui`` shows it)."""
    if uri.startswith(("http://", "https://")):
        return f"{uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"
    return None
