"""Shared fixtures: the reference's results folders, a sprites cache, tiny trained runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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


@pytest.fixture(scope="session", autouse=True)
def _one_sprites_cache(sprites_data_dir: Path):
    """Every command a test runs without ``--data-dir`` reads the session's sprites cache.

    Without it each subprocess started in a fresh folder generated the 737,280-image
    grid again into its ``./data`` (about 20 s each). A test that needs another data
    dir passes ``--data-dir`` or sets ``DVAE_DATA_DIR`` itself.
    """
    from dvae_cli.runs.folder import DATA_ENV

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(DATA_ENV, str(sprites_data_dir))
        yield


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, sprites_data_dir: Path) -> Path:
    """The folder of `tiny_runs.TINY` trained once per session, named ``tiny``: read it, never change it
    (copy it with shutil.copytree first)."""
    from tiny_runs import train_tiny

    return train_tiny(tmp_path_factory.mktemp("tiny-results"), sprites_data_dir)


def imported_after(argv: list[str]) -> tuple[list[str], str]:
    """The heavy modules (torch, matplotlib, textual, numpy, scipy) that ``main(argv)`` imports, and its stdout."""
    code = textwrap.dedent(f"""
        import sys
        from dvae_cli.cli.app import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        heavy = [m for m in ("torch", "matplotlib", "textual", "numpy", "scipy") if m in sys.modules]
        print("HEAVY=" + ",".join(heavy), file=sys.stderr)
    """)
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    marker = [line for line in result.stderr.splitlines() if line.startswith("HEAVY=")]
    assert marker, result.stderr[-500:]
    return [m for m in marker[-1].removeprefix("HEAVY=").split(",") if m], result.stdout


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
