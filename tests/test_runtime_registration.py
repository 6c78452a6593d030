"""A dataset, a metric and a plot registered at run time are listed and used by the real code paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dvae_cli.catalogue import DatasetInfo, MetricInfo, register_dataset, register_metric
from dvae_cli.catalogue.metrics import METRICS
from dvae_cli.cli.app import app
from dvae_cli.config import RunSpec
from dvae_cli.data.catalog import DATASETS, dataset_names
from dvae_cli.data.in_memory import Factors, ImageData
from dvae_cli.data.loading import load_dataset
from dvae_cli.engine.checkpoint import save_weights
from dvae_cli.engine.disentanglement import evaluate_metrics
from dvae_cli.engine.models import build_model
from dvae_cli.metrics.runner import MetricInputs, MetricsReport
from dvae_cli.runs.folder import RunFolder

N_TOY = 64


def load_toy(name: str, data_dir: Path, log=None, progress=None) -> ImageData:
    """64 random 1x32x32 images; factor ``a`` takes 2 values, ``b`` 4 (each pair 8 times); ``toy-plain``: none."""
    rng = np.random.default_rng(0)
    pixels = torch.from_numpy(rng.integers(0, 256, (N_TOY, 1, 32, 32), dtype=np.uint8))
    classes = np.stack([np.arange(N_TOY) % 2, np.arange(N_TOY) // 2 % 4], axis=1)
    factors = Factors(("a", "b"), (2, 4), (np.arange(2.0), np.arange(4.0)), classes)
    return ImageData(name, pixels, (1, 32, 32), factors=None if name == "toy-plain" else factors)


TOY = DatasetInfo("toy", (1, 32, 32), N_TOY, "64 random images", "generated", load_toy, has_factors=True)


@pytest.fixture
def toy_dataset():
    register_dataset(TOY)
    yield TOY
    DATASETS.unregister(TOY.name)


def test_a_registered_dataset_is_listed_and_loaded(toy_dataset, tmp_path):
    assert "toy" in dataset_names()
    data = load_dataset("toy", tmp_path)
    assert (len(data), data.img_size) == (N_TOY, (1, 32, 32))
    assert data.factors is not None and data.factors.names == ("a", "b")
    listed = CliRunner().invoke(app, ["data", "list", "--format", "json", "--data-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert {"name": "toy", "images": N_TOY, "factors": True} in [
        {k: row[k] for k in ("name", "images", "factors")} for row in json.loads(listed.stdout)]


def test_a_loader_that_disagrees_with_its_entry_is_refused(tmp_path):
    from dvae_cli.errors import ConfigError

    register_dataset(DatasetInfo("toy-rgb", (3, 32, 32), N_TOY, "says RGB, loads gray", "generated", load_toy))
    try:
        with pytest.raises(ConfigError, match=r"gave \[1, 32, 32\] images; its catalogue entry says \[3, 32, 32\]"):
            load_dataset("toy-rgb", tmp_path)
    finally:
        DATASETS.unregister("toy-rgb")
    assert "toy-rgb" not in dataset_names()


def run_constant(inputs: MetricInputs, report: MetricsReport) -> None:
    """A metric that scores every representation 0.5, and records what it was given."""
    report.add("TOY", 0.5, {"images": len(inputs.codes), "factors": inputs.names_of})
    report.details["toy_constant"] = {"classes_shape": list(inputs.classes.shape)}


def run_latent_count(inputs: MetricInputs, report: MetricsReport) -> None:
    """A metric of the latents alone: how many there are."""
    report.add("LATENTS", inputs.codes.shape[1], {"images": len(inputs.codes)})


@pytest.fixture
def toy_run(tmp_path):
    """A run folder of an untrained model of the toy images (datasets and metrics registered, then removed)."""
    added = [register_dataset(TOY), register_dataset(DatasetInfo("toy-plain", (1, 32, 32), N_TOY, "no factors",
                                                                 "generated", load_toy)),
             register_metric(MetricInfo("toy_constant", ("TOY",), "a constant", "none", "0.5 whatever the model",
                                        run_constant, min_factors=2)),
             register_metric(MetricInfo("latent_count", ("LATENTS",), "latents", "none", "counts the latents",
                                        run_latent_count, needs_factors=False))]
    spec = RunSpec(name="toy", dataset="toy", img_size=[1, 32, 32], latent_dim=3, test_fraction=0.5)
    folder = RunFolder(tmp_path / "results" / "toy")
    folder.path.mkdir(parents=True)
    folder.specs_path.write_text(json.dumps(spec.to_dict()))
    save_weights(folder.model_path, build_model(spec.img_size, spec.latent_dim))
    yield folder
    for info in added:
        (METRICS if isinstance(info, MetricInfo) else DATASETS).unregister(info.name)


def test_a_registered_metric_is_listed_checked_and_written_to_metrics_log(toy_run, tmp_path):
    from dvae_cli.errors import ConfigError
    from dvae_cli.metrics.names import parse_metric_names

    assert parse_metric_names("all")[-2:] == ("toy_constant", "latent_count")
    helped = CliRunner().invoke(app, ["eval", "--help"], env={"COLUMNS": "250"})
    assert "toy_constant" in helped.stdout and "latent_count" in helped.stdout
    result = evaluate_metrics(toy_run, tmp_path, metrics=("toy_constant", "mig_discrete"))
    assert result.report.scores["TOY"] == 0.5 and result.n_images == N_TOY
    written = json.loads((toy_run.path / "metrics.log").read_text())
    assert written["TOY"] == 0.5 and written["protocols"]["TOY"]["factors"] == ["a", "b"]
    assert "MIG_discrete" in written and written["dataset"] == "toy"
    with pytest.raises(ConfigError, match="--metric toy_constant tells factors apart and needs at least 2"):
        evaluate_metrics(toy_run, tmp_path, metrics=("toy_constant",), factors=("a",))
    # a metric that needs no factors scores a dataset that has none
    plain = evaluate_metrics(toy_run, tmp_path, dataset="toy-plain", metrics=("latent_count",), max_images=10)
    assert plain.report.scores == {"LATENTS": 3.0} and plain.n_images == 10
    with pytest.raises(ConfigError, match="has no ground-truth factors"):
        evaluate_metrics(toy_run, tmp_path, dataset="toy-plain", metrics=("toy_constant",))


def draw_mean_image(context, path: Path) -> None:
    """The mean of 8 test images of the run, as a grayscale PNG."""
    from dvae_cli.viz.grid import write_png

    mean = context.images(8).mean(dim=0).permute(1, 2, 0)
    write_png(path, (mean.numpy() * 255).round().astype(np.uint8))


def test_a_registered_plot_is_listed_offered_and_drawn(toy_run, tmp_path):
    from dvae_cli.catalogue import PlotFile, PlotInfo, register_plot
    from dvae_cli.catalogue.plots import PLOTS
    from dvae_cli.tui.data.figures import figure_entries
    from dvae_cli.viz.plots import make_plots

    register_plot(PlotInfo("mean-image", (PlotFile("mean_image.png"),), draw_mean_image, "the mean test image",
                           ("images",)))
    try:
        helped = CliRunner().invoke(app, ["plot", "--help"], env={"COLUMNS": "250"})
        assert "mean-image" in helped.stdout
        offered = {entry.file: entry for entry in figure_entries([])}
        assert offered["mean_image.png"].plot_args == ("mean-image",) and offered["mean_image.png"].can_generate
        (path,) = make_plots(toy_run.path, ["mean-image"], data_dir=tmp_path)
        assert path == toy_run.path / "mean_image.png" and path.stat().st_size > 0
        path.unlink()
        drawn = CliRunner().invoke(app, ["plot", str(toy_run.path), "all", "--data-dir", str(tmp_path)])
        assert drawn.exit_code == 0, drawn.output
        assert f"wrote {path}" in drawn.stdout and "skipped losses" in drawn.stdout
    finally:
        PLOTS.unregister("mean-image")
    assert "mean_image.png" not in {entry.file for entry in figure_entries([])}
