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
             timeout: float = 600, read_only: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a subprocess (``python -m dvae_cli``).

    Args:
        read_only: A folder the command sees as a read-only mount (a private mount
            namespace, so nothing changes for anyone else); as root this is the only
            way to make a folder unwritable, otherwise its mode is set to 0o555.
    """
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    full_env.pop("DVAE_DEBUG", None)
    command = [sys.executable, "-m", "dvae_cli", *args]
    if read_only is not None:
        if os.geteuid() == 0:
            remount = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" "$0" && exec "$@"'
            command = ["unshare", "-m", "sh", "-c", remount, str(read_only), *command]
        else:
            read_only.chmod(0o555)
    try:
        return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
    finally:
        if read_only is not None and os.geteuid() != 0:
            read_only.chmod(0o755)
