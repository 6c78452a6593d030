"""Experiment trackers: a tiny real training mirrored into TensorBoard, W&B (offline) and MLflow (file store),
read back with each tracker's own reader; a resumed run continues the same tracker runs; ``dvae eval`` logs
its scores into them; a failing tracker warns once and training goes on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_dvae
from tiny_runs import tiny_flags
from tracker_readers import (
    mlflow_run,
    tensorboard_events,
    tensorboard_hparams,
    wandb_run,
)

from dvae_cli.catalogue.trackers import (
    TRACKERS,
    TrackerInfo,
    check_installed,
    parse_trackers,
    register_tracker,
)
from dvae_cli.errors import ConfigError, CorruptFileError, UnknownNameError


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory, sprites_data_dir: Path) -> dict:
    """One run trained 1 epoch with all three trackers, resumed to 2, then evaluated with a metric."""
    root = tmp_path_factory.mktemp("tracked")
    env = {"WANDB_MODE": "offline", "WANDB_PROJECT": "dvae-tests", "MLFLOW_TRACKING_URI": (root / "mlruns").as_uri(),
           "WANDB_CACHE_DIR": str(root / "wb-cache"),
           "WANDB_CONFIG_DIR": str(root / "wb-config")}
    common = ["--results-dir", str(root / "results"), "--data-dir", str(sprites_data_dir)]
    first = run_dvae("train", "tracked", *tiny_flags(checkpoint_every=1), "--tracker", "tensorboard,wandb,mlflow",
                     *common, env=env)
    assert first.returncode == 0, first.stderr
    folder = root / "results" / "tracked"
    ids_first = json.loads((folder / "trackers.json").read_text())
    resumed = run_dvae("train", "tracked", "--resume", "-e", "2", *common, env=env)
    assert resumed.returncode == 0, resumed.stderr
    ids_resumed = json.loads((folder / "trackers.json").read_text())
    evaluated = run_dvae("eval", "tracked", "--no-test", "--metric", "mig_discrete", "--max-images", "2000",
                         *common, env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    return {"folder": folder, "root": root, "first": first, "resumed": resumed, "evaluated": evaluated,
            "ids_first": ids_first, "ids_resumed": ids_resumed, "env": env, "common": common}


def test_names_are_parsed_and_bad_ones_refused():
    assert parse_trackers("TensorBoard, mlflow,tensorboard") == ["tensorboard", "mlflow"]
    assert parse_trackers(["wandb"]) == ["wandb"] and parse_trackers(None) == [] and parse_trackers("none") == []
    with pytest.raises(UnknownNameError, match="tensorboard, wandb, mlflow"):
        parse_trackers("tensorbord")
    with pytest.raises(ConfigError, match="tracker must be"):
        parse_trackers(3)
    with pytest.raises(ConfigError, match="'none' means no tracker"):
        parse_trackers("none,tensorboard")


def test_a_tracker_whose_package_is_missing_is_refused_with_its_extra():
    register_tracker(TrackerInfo("toymissing", "a tracker nobody installed", "dvae_no_such_package_x",
                                 "toymissing", "dvae_no_such_package_x:Tracker", "nowhere"))
    try:
        with pytest.raises(ConfigError, match=r'pip install "dvae\[toymissing\]"'):
            check_installed(["tensorboard", "toymissing"])
    finally:
        TRACKERS.unregister("toymissing")


def test_bad_tracker_is_one_error_line_before_any_work(tmp_path, sprites_data_dir):
    out = run_dvae("train", "t", *tiny_flags(), "--tracker", "tensorbord", "--results-dir", str(tmp_path),
                   "--data-dir", str(sprites_data_dir))
    assert out.returncode == 2 and out.stderr.count("error:") == 1 and "Traceback" not in out.stderr
    assert "did you mean 'tensorboard'" in out.stderr and not (tmp_path / "t").exists()


@pytest.mark.slow
def test_tensorboard_holds_every_term_the_spec_and_images(tracked):
    events = tensorboard_events(tracked["folder"] / "tb")
    tags = events.Tags()
    for term in ("loss", "recon_loss", "kl_loss", "kl_loss_0"):
        assert f"epoch/{term}" in tags["scalars"] and f"train/{term}" in tags["scalars"]
    assert {"epoch/lr", "epoch/img_per_s", "train/lr", "metrics/MIG_discrete"} <= set(tags["scalars"])
    assert [e.value for e in events.Scalars("epoch/epoch")] == [1.0, 2.0]   # the resumed epoch continues
    steps = [e.step for e in events.Scalars("epoch/loss")]
    assert len(steps) == 2 and steps[1] == 2 * steps[0]                       # one epoch's steps each
    assert events.Scalars("epoch/lr")[0].value == pytest.approx(5e-4)
    assert {"reconstructions", "traversals"} <= set(tags["images"])
    image = events.Images("traversals")[-1]
    assert max(image.width, image.height) <= 512 and image.width > 64
    hparams = tensorboard_hparams(events)
    assert hparams["latent_dim"] == 3 and hparams["loss"] == "betaB" and hparams["subsample"] == 256
    history = json.loads((tracked["folder"] / "metrics.log").read_text())
    assert events.Scalars("metrics/MIG_discrete")[-1].value == pytest.approx(history["MIG_discrete"], rel=1e-6)


@pytest.mark.slow
def test_mlflow_run_is_continued_on_resume_and_by_eval(tracked):
    record = tracked["ids_first"]["mlflow"]
    assert tracked["ids_resumed"]["mlflow"]["id"] == record["id"]
    client, run = mlflow_run(record["tracking_uri"], record["id"])
    assert run.data.params["latent_dim"] == "3" and run.data.params["name"] == "tracked"
    assert run.info.status == "FINISHED" and run.info.run_name == "tracked"
    epochs = client.get_metric_history(record["id"], "epoch/epoch")
    assert sorted(m.value for m in epochs) == [1.0, 2.0]
    losses = {m.step: m.value for m in client.get_metric_history(record["id"], "epoch/loss")}
    logged = [float(line.split(",")[2]) for line in (tracked["folder"] / "train_losses.log").read_text().splitlines()
              if line.split(",")[1:2] == ["loss"]]
    assert [losses[step] for step in sorted(losses)] == pytest.approx(logged, rel=1e-6)  # the run folder's
    assert client.get_metric_history(record["id"], "metrics/MIG_discrete")
    images = [f.path for f in client.list_artifacts(record["id"], "images")]
    assert any("traversals" in path for path in images) and any("reconstructions" in path for path in images)


@pytest.mark.slow
def test_wandb_offline_run_is_continued_with_the_same_id(tracked):
    record = tracked["ids_first"]["wandb"]
    assert tracked["ids_resumed"]["wandb"]["id"] == record["id"]
    stored = wandb_run(tracked["folder"])
    assert set(stored["ids"]) == {record["id"]} and len(stored["ids"]) == 3   # train, resume, eval
    assert stored["project"] == "dvae-tests"
    assert stored["config"]["latent_dim"] == 3 and stored["config"]["loss"] == "betaB"
    epochs = [row["epoch/epoch"] for row in stored["history"] if "epoch/epoch" in row]
    assert epochs == [1, 2]
    assert any("metrics/MIG_discrete" in row for row in stored["history"])
    assert any("traversals" in path.name for path in stored["images"])


@pytest.mark.slow
def test_links_are_shown_by_train_compare_and_browse(tracked):
    from dvae_cli.runs.summary import summarize_run
    from dvae_cli.tui.widgets.run_overview import status_line

    assert "Tracker tensorboard: tensorboard --logdir" in tracked["first"].stdout
    assert "logged to tracker mlflow" in tracked["evaluated"].stdout
    summary = summarize_run(tracked["folder"])
    assert set(summary.trackers) == {"tensorboard", "wandb", "mlflow"}
    assert "tracker wandb: offline run" in status_line(summary).plain
    out = run_dvae("compare", "--results-dir", str(tracked["root"] / "results"), "--columns", "name,trackers",
                   "--format", "json")
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)[0]
    assert "mlflow: MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri file:" in row["trackers"]


@pytest.mark.slow
def test_eval_logs_into_a_tracker_the_run_was_not_trained_with(tmp_path, tiny_run, sprites_data_dir):
    import shutil

    folder = tmp_path / "results" / "plain"
    shutil.copytree(tiny_run, folder)
    uri = (tmp_path / "mlruns").as_uri()
    out = run_dvae("eval", "plain", "--results-dir", str(tmp_path / "results"), "--data-dir", str(sprites_data_dir),
                   "--tracker", "mlflow", env={"MLFLOW_TRACKING_URI": uri})
    assert out.returncode == 0, out.stderr
    record = json.loads((folder / "trackers.json").read_text())["mlflow"]
    _, run = mlflow_run(uri, record["id"])
    test_losses = json.loads((folder / "test_losses.log").read_text())
    assert run.data.metrics["test/loss"] == pytest.approx(test_losses["loss"], rel=1e-6)


class _Exploding:
    """A tracker backend whose scalars always fail (a server that went down)."""

    calls = 0

    def start(self, run):
        return {"id": "x"}

    def log_scalars(self, values, step):
        type(self).calls += 1
        raise ConnectionError("server down")

    def log_image(self, key, image, step):
        pass

    def finish(self, status):
        pass


@pytest.mark.slow
def test_a_failing_tracker_warns_once_and_training_goes_on(tmp_path, sprites_data_dir):
    from dvae_cli.config import resolve_run
    from dvae_cli.engine.run import train_run
    from dvae_cli.trackers.callback import Tracking

    register_tracker(TrackerInfo("toyexploding", "fails", "json", "toy", _Exploding, "nowhere"))
    warnings: list[str] = []
    try:
        spec = resolve_run("boom", None, {"subsample": 256, "epochs": 2, "batch_size": 32, "latent_dim": 3,
                                             "device": "cpu", "no_test": True}).spec
        tracking = Tracking(["toyexploding", "tensorboard"], warn=warnings.append)
        result = train_run(spec, tmp_path, sprites_data_dir, callbacks=[tracking], handle_signals=False)
        tracking.finish(result.test_losses)
    finally:
        TRACKERS.unregister("toyexploding")
    assert len(result.history["loss"]) == 2 and _Exploding.calls == 1
    assert len(warnings) == 1 and "toyexploding failed to log scalars (ConnectionError: server down)" in warnings[0]
    events = tensorboard_events(tmp_path / "boom" / "tb")   # the other tracker carried on
    assert len(events.Scalars("epoch/loss")) == 2


def test_images_are_bounded_and_rgb():
    from dvae_cli.trackers.callback import bounded

    big = np.zeros((1400, 700, 1), dtype=np.uint8)
    small = bounded(big)
    assert small.shape == (512, 256, 3) and small.dtype == np.uint8
    assert bounded(np.ones((64, 64, 3), dtype=np.uint8)).shape == (64, 64, 3)


def test_an_experiment_names_its_trackers_and_a_bad_one_is_refused(tmp_path, monkeypatch):
    from dvae_cli.config import resolve_run

    catalogue = tmp_path / "experiments.toml"
    catalogue.write_text('[experiments.tracked]\nloss = "betaH"\ntracker = ["tensorboard", "mlflow"]\n')
    monkeypatch.setenv("DVAE_EXPERIMENTS", str(catalogue))
    spec = resolve_run("tracked", None, {}).spec
    assert spec.tracker == ["tensorboard", "mlflow"] and spec.to_dict()["tracker"] == ["tensorboard", "mlflow"]
    assert resolve_run("tracked", None, {"tracker": []}).spec.tracker == []   # the flag wins
    catalogue.write_text('[experiments.typo]\ntracker = "tensorbaord"\n')
    with pytest.raises(CorruptFileError, match=r"\[experiments.typo\] unknown tracker 'tensorbaord' \(did you mean"):
        resolve_run("typo", None, {})


def test_window_means_are_the_mean_of_the_steps_since_the_last_point():
    from dvae_cli.trackers.callback import window_means

    losses = [9.0, 7.0, 5.0, 3.0, 2.0]   # one epoch's steps
    at = {n: {"loss": float(np.mean(losses[:n]))} for n in range(1, 6)}
    assert window_means(None, 0, 2, at[2]) == {"loss": 8.0}
    assert window_means((0, 2, at[2]), 0, 5, at[5])["loss"] == pytest.approx(np.mean(losses[2:]))
    assert window_means((0, 5, at[5]), 1, 1, {"loss": 1.5}) == {"loss": 1.5}   # a new epoch starts afresh


def test_an_mlflow_server_that_is_down_costs_seconds_not_minutes(tmp_path, monkeypatch):
    """A closed port (nothing listens on 9): the tracker gives up at once, warns once, the others go on."""
    import time

    from dvae_cli.trackers.session import TrackerSession

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    for key in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(key, raising=False)
    warnings: list[str] = []
    started = time.perf_counter()
    session = TrackerSession(["mlflow", "tensorboard"], tmp_path, "down", {"name": "down"}, warn=warnings.append)
    seconds = time.perf_counter() - started
    session.finish()
    assert list(session.active) == [] and len(warnings) == 1
    assert "the MLflow server at http://127.0.0.1:9 does not answer" in warnings[0]
    assert seconds < 30, seconds   # MLflow's own retries took about 4 minutes
    assert set(json.loads((tmp_path / "trackers.json").read_text())) == {"tensorboard"}
