"""Shared fixtures: the reference's results folders, a sprites cache, tiny trained runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "disvae-results"
REFERENCE_RUNS = ("VAE_mnist", "betaB_celeba", "btcvae_dsprites", "factor_chairs")


@pytest.fixture(scope="session")
def disvae_results() -> Path:
    """Results folders written by disentangling-vae (with its pretrained model.pt)."""
    return FIXTURES


@pytest.fixture(scope="session")
def sprites_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the generated sprites cache (made once per session)."""
    from dvae_cli.data import sprites

    data_dir = tmp_path_factory.mktemp("data")
    sprites.load_packed(data_dir)
    return data_dir


def run_dvae(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (``python -m dvae_cli``)."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("DVAE_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "dvae_cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
