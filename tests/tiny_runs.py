"""A tiny trained run (256 sprites, one epoch, three latents) for the API and export tests."""

from __future__ import annotations

from pathlib import Path

TINY = {"subsample": 256, "epochs": 1, "batch_size": 32, "latent_dim": 3, "device": "cpu", "no_test": True}


def train_tiny(results_dir: Path, data_dir: Path, name: str = "tiny") -> Path:
    """Train the run `name` into `results_dir` in this process; return its folder."""
    from dvae_cli.config import resolve_run
    from dvae_cli.engine.run import train_run

    train_run(resolve_run(name, None, TINY).spec, results_dir, data_dir, handle_signals=False)
    return Path(results_dir) / name
