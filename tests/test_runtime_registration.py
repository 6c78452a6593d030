"""A dataset, a metric and a plot registered at run time are listed and used by the real code paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dvae_cli.catalogue import DatasetInfo, register_dataset
from dvae_cli.cli.app import app
from dvae_cli.data.catalog import DATASETS, dataset_names
from dvae_cli.data.in_memory import Factors, ImageData
from dvae_cli.data.loading import load_dataset

N_TOY = 64


def load_toy(name: str, data_dir: Path, log=None, progress=None) -> ImageData:
    """64 random 1x32x32 images; factor ``a`` takes 2 values, ``b`` 4 (every pair 8 times)."""
    rng = np.random.default_rng(0)
    pixels = torch.from_numpy(rng.integers(0, 256, (N_TOY, 1, 32, 32), dtype=np.uint8))
    classes = np.stack([np.arange(N_TOY) % 2, np.arange(N_TOY) // 2 % 4], axis=1)
    factors = Factors(("a", "b"), (2, 4), (np.arange(2.0), np.arange(4.0)), classes)
    return ImageData(name, pixels, (1, 32, 32), factors=factors)


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
