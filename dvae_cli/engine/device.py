"""Choosing the device and seeding the random number generators."""

from __future__ import annotations

import random

import numpy as np
import torch

from dvae_cli.errors import ConfigError


def resolve_device(device: str = "auto", no_cuda: bool = False) -> torch.device:
    """``auto`` -> CUDA if available (and not `no_cuda`), else CPU.

    Raises:
        ConfigError: if ``cuda`` is asked for and none is available.
    """
    if device == "cpu" or (device == "auto" and (no_cuda or not torch.cuda.is_available())):
        return torch.device("cpu")
    if device in ("auto", "cuda"):
        if no_cuda:
            raise ConfigError("--device cuda contradicts --no-cuda")
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device is available; use --device cpu or auto")
        return torch.device("cuda")
    raise ConfigError(f"unknown device '{device}'; choose from: auto, cpu, cuda")


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
