"""A third-party package adds a loss, a dataset, a metric and a plot, and every command uses them.

The package is written by the test into a folder on ``PYTHONPATH``, with a
``dist-info`` that declares its entry points (``dvae.losses``, ``dvae.datasets``,
``dvae.metrics``, ``dvae.plots``), as ``pip install`` would leave it. Nothing in dvae
is edited. The commands run as subprocesses, so they discover the plugin as a user's
installation would; the browser runs in this process, with the same descriptions
registered by explicit calls (the other way to extend dvae).
"""

from __future__ import annotations

import json
import re
import os
import sys
from pathlib import Path

import pytest

from conftest import run_dvae

PACKAGE = '''"""toy_dvae: a third-party extension of dvae (torch-free at import, as entry points must be)."""
from dvae_cli.catalogue import DatasetInfo, LossInfo, MetricInfo, Param, PlotFile, PlotInfo

TOY_LOSS = LossInfo("toyloss", "Toy-VAE", "Nobody, A toy objective, 2026", "toy_dvae.impl:ToyLoss",
                    (Param("toy_W", float, 2.0, "Weight of the toy term.", "w", minimum=0),),
                    terms=(("toy_loss", "toy term"),))
TOY_DATA = DatasetInfo("toyset", (1, 32, 32), 256, "bars at 16 positions x 4 widths", "generated",
                       "toy_dvae.impl:load", has_factors=True)
TOY_METRIC = MetricInfo("toymetric", ("TOY",), "toy score", "Nobody 2026", "the mean |z| of the posterior means",
                        "toy_dvae.impl:score")
TOY_PLOT = PlotInfo("toy-plot", (PlotFile("toy.png"),), "toy_dvae.impl:draw", "the mean of 8 test images",
                    ("images",))
'''

IMPL = '''"""The implementations, imported only when used."""
import numpy as np
import torch

from dvae_cli.data.in_memory import Factors, ImageData
from dvae_cli.engine.losses.base import LossResult, PosteriorLoss, base_terms


class ToyLoss(PosteriorLoss):
    """rec + KL + toy_W * mean(mu^2)."""

    name = "toyloss"

    def __init__(self, toy_W=2.0, rec_dist="bernoulli", reg_anneal=0):
        super().__init__(rec_dist=rec_dist, reg_anneal=reg_anneal)
        self.weight = float(toy_W)

    def compute(self, x, output, step):
        terms = base_terms(x, output, self.rec_dist)
        toy = output.mean.float().pow(2).mean()
        loss = terms["recon_loss"] + terms["kl_loss"] + self.weight * toy
        return LossResult(loss=loss, terms={"loss": loss, **terms, "toy_loss": toy}, batch_size=x.shape[0])


def load(name, data_dir, log=None, progress=None):
    """A vertical bar: position (16 values) x width (4 values), 4 copies each."""
    classes = np.array([(p, w) for p in range(16) for w in range(4) for _ in range(4)])
    pixels = np.zeros((len(classes), 1, 32, 32), dtype=np.uint8)
    for i, (p, w) in enumerate(classes):
        pixels[i, 0, 4:28, 2 * p:2 * p + w + 1] = 255
    factors = Factors(("position", "width"), (16, 4), (np.arange(16.0), np.arange(4.0)), classes)
    return ImageData(name, torch.from_numpy(pixels), (1, 32, 32), factors=factors)


def score(inputs, report):
    report.add("TOY", float(np.abs(inputs.codes).mean()), {"images": len(inputs.codes)})


def draw(context, path):
    from dvae_cli.viz.grid import write_png

    mean = context.images(8).mean(dim=0).permute(1, 2, 0)
    write_png(path, (mean.numpy() * 255).round().astype(np.uint8))
'''

ENTRY_POINTS = """[dvae.losses]
toyloss = toy_dvae:TOY_LOSS

[dvae.datasets]
toyset = toy_dvae:TOY_DATA

[dvae.metrics]
toymetric = toy_dvae:TOY_METRIC

[dvae.plots]
toy-plot = toy_dvae:TOY_PLOT
"""

EXPERIMENTS = """[defaults]
dataset = "toyset"
loss = "toyloss"

[experiments.toy]
description = "the toy loss on the toy bars"
dataset = "toyset"
loss = "toyloss"
toy_W = 3.0
epochs = 2
batch_size = 32
latent_dim = 3
lr = 1e-3
test_fraction = 0.25
eval_batchsize = 32
device = "cpu"
"""


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> dict[str, str]:
    """A site folder holding the installed plugin, and the environment that sees it."""
    site = tmp_path_factory.mktemp("site")
    (site / "toy_dvae").mkdir()
    (site / "toy_dvae" / "__init__.py").write_text(PACKAGE)
    (site / "toy_dvae" / "impl.py").write_text(IMPL)
    info = site / "toy_dvae-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-dvae\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    experiments = site / "experiments.toml"
    experiments.write_text(EXPERIMENTS)
    return {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "DVAE_EXPERIMENTS": str(experiments), "SITE": str(site)}


@pytest.fixture(scope="module")
def trained(plugin, tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("plugin-results")
    out = run_dvae("train", "toy", "--results-dir", str(results), "--data-dir", str(results / "data"), env=plugin)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Using experiment 'toy' from experiments.toml: toyloss (toy_W=3.0) on toyset")
    return results


def test_the_plugins_options_datasets_and_experiments_are_listed(plugin):
    helped = run_dvae("train", "--help", env=plugin)
    assert "toyloss loss" in helped.stdout and "--toy-W" in helped.stdout and "Weight of the toy term" in helped.stdout
    listed = run_dvae("experiments", "list", "--loss", "toyloss", "--format", "json", env=plugin)
    assert listed.returncode == 0, listed.stderr
    assert [(row["name"], row["toy_W"]) for row in json.loads(listed.stdout)] == [("toy", 3.0)]
    data = json.loads(run_dvae("data", "list", "--format", "json", env=plugin).stdout)
    assert {"name": "toyset", "images": 256, "factors": True} in [
        {k: row[k] for k in ("name", "images", "factors")} for row in data]
    assert "toymetric" in run_dvae("eval", "--help", env=plugin).stdout
    assert "toy-plot" in run_dvae("plot", "--help", env=plugin).stdout
    refused = run_dvae("train", "x", "-l", "toyloss", "--toy-W", "-1", env=plugin)
    assert refused.returncode == 2 and "--toy-W must be >= 0, got -1.0" in refused.stderr


def test_a_real_run_of_the_plugin_loss_on_the_plugin_dataset(trained):
    folder = trained / "toy"
    spec = json.loads((folder / "specs.json").read_text())
    assert (spec["loss"], spec["dataset"], spec["toy_W"]) == ("toyloss", "toyset", 3.0)
    log = (folder / "train_losses.log").read_text()
    assert ",toy_loss," in log and (folder / "model.pt").is_file()
    assert "toy_loss" in json.loads((folder / "test_losses.log").read_text())


@pytest.mark.slow
def test_eval_plot_and_compare_use_the_plugins(plugin, trained):
    args = ("--results-dir", str(trained), "--data-dir", str(trained / "data"))
    scored = run_dvae("eval", "toy", "--metric", "toymetric,mig_discrete", "--no-test", *args, env=plugin)
    assert scored.returncode == 0, scored.stderr
    metrics = json.loads((trained / "toy" / "metrics.log").read_text())
    assert metrics["TOY"] > 0 and "MIG_discrete" in metrics and metrics["dataset"] == "toyset"
    drawn = run_dvae("plot", "toy", "toy-plot", *args, env=plugin)
    assert drawn.returncode == 0, drawn.stderr
    assert (trained / "toy" / "toy.png").stat().st_size > 0
    table = run_dvae("compare", "--format", "json", "--results-dir", str(trained), env=plugin)
    (row,) = json.loads(table.stdout)
    assert row["loss"] == "toyloss" and row["TOY"] == metrics["TOY"] and "train.toy_loss" in row
    figures = run_dvae("compare", "--plot", str(trained / "figures"), "--results-dir", str(trained), env=plugin)
    assert figures.returncode == 0, figures.stderr
    assert {"loss_curves.png", "metrics.png"} <= {p.name for p in (trained / "figures").iterdir()}


def test_the_browser_shows_the_plugin_run(plugin, trained):
    from dvae_cli.catalogue import LOSSES, register_dataset, register_loss
    from dvae_cli.data.catalog import DATASETS
    from dvae_cli.catalogue.plots import PLOTS, register_plot

    sys.path.insert(0, plugin["SITE"])
    try:
        import toy_dvae

        register_loss(toy_dvae.TOY_LOSS)
        register_dataset(toy_dvae.TOY_DATA)
        register_plot(toy_dvae.TOY_PLOT)
        from browse_helpers import browse, overview_text, select, table_rows

        async def scenario(pilot, screen) -> None:
            await select(pilot, screen, "toy")
            assert table_rows(screen)["toy"][2:] == ["finished", "2/2", "toyset", "toyloss"]
            text = overview_text(screen)
            assert re.search(r"toy_W\s+3\b", text), text   # the loss group lists its parameter
            await pilot.press("4")
            from dvae_cli.tui.widgets.figure_viewer import FigureViewer

            files = [entry.file for entry in screen.query_one(FigureViewer).entries]
            assert "toy.png" in files

        browse(trained, scenario)
    finally:
        sys.path.remove(plugin["SITE"])
        for registry, name in ((LOSSES, "toyloss"), (DATASETS, "toyset"), (PLOTS, "toy-plot")):
            registry.unregister(name)
        sys.modules.pop("toy_dvae", None)
        sys.modules.pop("toy_dvae.impl", None)
