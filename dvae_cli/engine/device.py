"""Choosing the device, seeding the random number generators, sizing the CPU side."""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import random
import sys
from pathlib import Path
from typing import Any

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


def rng_state() -> dict[str, Any]:
    """Every random generator's state, as tensors and plain values (``weights_only``-loadable)."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    return {
        "python": [version, torch.tensor(mt, dtype=torch.int64), gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), int(pos), int(has_gauss),
                  float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned (the CUDA part only if the device count matches)."""
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(int(v) for v in mt.tolist()), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota (containers)."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def configure_threads(processes_here: int = 1) -> int:
    """Cap torch's intra-op threads at the CPUs available (shared by `processes_here` processes).

    torch counts the machine's cores, which oversubscribes a container limited to a
    few of them (and the ranks of a multi-process run on one machine). Returns the
    number of threads set.
    """
    threads = max(1, min(torch.get_num_threads(), available_cpus() // max(processes_here, 1)))
    torch.set_num_threads(threads)
    return threads


# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_ABOVE = 2**31 - 1   # the largest value mallopt takes: trim only a free top over 2 GB


@functools.cache
def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed memory for reuse instead of handing it back to the kernel.

    A CPU training step frees and re-allocates the same large activation buffers (8 MB
    for one 32x32x32 layer at batch 64). By default glibc maps blocks that large afresh
    with mmap and unmaps them on free, and trims the heap's free top, so every step
    page-faults through freshly zeroed pages again: about a third of a step's time on
    2 cores (``benchmarks/train.py``; tcmalloc and jemalloc avoid it the same way).
    With mmap off for allocations and no trimming, the buffers are reused; the process
    keeps its peak memory until it exits. Process-wide, done once and not undone; a CPU `Trainer`
    and the CPU evaluation passes (test losses, encoding for the metrics) call it: the
    test-loss pass takes half the time. Returns False (and changes nothing) where the
    C library is not glibc.
    """
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    trimmed = mallopt(_M_TRIM_THRESHOLD, _TRIM_ABOVE)
    return bool(trimmed and mallopt(_M_MMAP_MAX, 0))
