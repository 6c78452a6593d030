"""Preprocessed datasets cached as one uint8 ``.npy`` file, and the memory budget.

A dataset is preprocessed once (decoded, cropped, resized) into an array of shape
(N, C, H, W) saved atomically. Loading reads it into one tensor, or, when it does not
fit the memory budget, memory-maps it for the streaming loader.
"""

from __future__ import annotations

import os
import re
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dvae_cli.data.in_memory import Factors, ImageData
from dvae_cli.data.streaming import StreamedImages
from dvae_cli.errors import ConfigError, DatasetUnavailableError
from dvae_cli.runs.atomic import write_with

#: Bytes of images allowed in memory (e.g. "8G"); default: half of the available memory.
MAX_MEMORY_ENV = "DVAE_MAX_MEMORY"
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
#: What ``numpy.load`` raises for a damaged .npy or .npz file (its header is parsed
#: as a Python literal; an .npz is a zip archive, possibly deflated).
NPY_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, ValueError, OverflowError, SyntaxError,
                                               tokenize.TokenError, zipfile.BadZipFile, zlib.error,
                                               NotImplementedError)


def parse_bytes(text: str) -> int:
    """``"512M"`` -> 536870912.

    Raises:
        ConfigError: if the text is not a number with an optional K/M/G/T suffix.
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*", text.upper())
    if not match:
        raise ConfigError(f"${MAX_MEMORY_ENV}={text!r} is not a size like 512M or 8G")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def available_memory() -> int:
    """Available physical memory in bytes (MemAvailable; total memory if unknown)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def memory_budget() -> int:
    """How many bytes of images may be held in memory."""
    text = os.environ.get(MAX_MEMORY_ENV)
    return parse_bytes(text) if text else available_memory() // 2


def save_images(path: Path, images: np.ndarray) -> None:
    """Save a uint8 (N, C, H, W) array atomically."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError("expected a uint8 array of shape (N, C, H, W)")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_with(path, lambda handle: np.save(handle, images))


def cached_shape(path: Path) -> tuple[int, ...] | None:
    """The shape of a cached uint8 array, read from its header (None if missing or unreadable)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except NPY_ERRORS:
        return None
    return tuple(array.shape) if array.dtype == np.uint8 and array.ndim == 4 else None


def open_images(name: str, path: Path, img_size: tuple[int, int, int], factors: Factors | None = None,
                log: Callable[[str], None] | None = None) -> ImageData | StreamedImages:
    """The cached images in memory, or memory-mapped for streaming if they exceed the budget.

    Raises:
        DatasetUnavailableError: if `path` is not a uint8 array of (N, *img_size) images.
    """
    shape = cached_shape(path)
    if shape is None or tuple(shape[1:]) != tuple(img_size):
        found = "cannot be read as a uint8 (N, C, H, W) array" if shape is None else f"holds shape {shape}"
        raise DatasetUnavailableError(f"{path} is not a cache of {'x'.join(map(str, img_size))} images ({found}); "
                                      "delete it to prepare the dataset again")
    size = int(np.prod(shape))
    if size > memory_budget():
        if log:
            log(f"{name}: {size / 2**30:.1f} GiB of images exceed the memory budget; streaming from {path}")
        return StreamedImages(name, path, img_size, factors=factors)
    pixels = torch.from_numpy(np.load(path))
    return ImageData(name, pixels, img_size, factors=factors)
