"""Datasets laid out as a full factor grid, and their caches written a chunk at a time.

The benchmark datasets of disentanglement_lib (``shapes3d``, ``mpi3d-*``, ``cars3d``,
``smallnorb``) hold one image per combination of their factors, in row-major order
(the last factor varies fastest), so image i has the factor classes
``numpy.unravel_index(i, sizes)``. Their official files can be larger than memory
(MPI3D: 12.7 GB of uint8), so the uint8 (N, C, H, W) cache is written through a
memory map, one chunk of images at a time, never as one array (let alone a float one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.data.cache import NPY_ERRORS
from dvae_cli.data.in_memory import Factors
from dvae_cli.errors import DatasetUnavailableError


def grid_factors(names: Sequence[str], sizes: Sequence[int], values: Sequence[np.ndarray] | None = None
                 ) -> Factors:
    """The factors of a full grid in row-major order (image i has classes ``unravel_index(i, sizes)``).

    Args:
        names: Factor names, in the grid's order.
        sizes: Number of values of each factor.
        values: The value of each class of each factor (default: the class indices 0..size-1).

    Returns:
        `Factors` with ``classes`` of shape (prod(sizes), K), uint8.
    """
    sizes = tuple(int(s) for s in sizes)
    if values is None:
        values = tuple(np.arange(size, dtype=np.float64) for size in sizes)
    classes = np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1).astype(np.uint8)
    return Factors(tuple(names), sizes, tuple(np.asarray(v, dtype=np.float64) for v in values), classes)


def write_cache(path: Path, n: int, img_size: tuple[int, int, int], chunks: Iterable[np.ndarray],
                progress: Callable[[int, int], None] | None = None) -> None:
    """Write `n` uint8 images, given as consecutive (B, C, H, W) chunks, to the ``.npy`` file `path`.

    The file is written through a memory map beside `path` and renamed when complete,
    so a crash leaves no half-written cache and memory holds one chunk at a time.

    Raises:
        DatasetUnavailableError: if the chunks do not add up to `n` images of `img_size`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.writing")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, *img_size))
    try:
        done = 0
        for chunk in chunks:
            if chunk.dtype != np.uint8 or tuple(chunk.shape[1:]) != tuple(img_size) or done + len(chunk) > n:
                raise DatasetUnavailableError(f"preparing {path}: got a chunk of {chunk.dtype} {chunk.shape} "
                                              f"after {done} of {n} images of {tuple(img_size)}")
            out[done:done + len(chunk)] = chunk
            done += len(chunk)
            if progress is not None:
                progress(done, n)
        if done != n:
            raise DatasetUnavailableError(f"preparing {path}: the source gave {done} of {n} images")
        out.flush()
        del out
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_values(path: Path, values: Sequence[np.ndarray]) -> None:
    """Save the value grid of each factor (``values0``, ``values1``, ...) beside a cache."""
    from dvae_cli.runs.atomic import write_with

    arrays: dict[str, Any] = {f"values{k}": np.asarray(v, dtype=np.float64) for k, v in enumerate(values)}
    write_with(path, lambda handle: np.savez(handle, **arrays))


def read_values(path: Path, count: int) -> tuple[np.ndarray, ...] | None:
    """The `count` value grids saved by `save_values`; None if missing or damaged."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            values = tuple(np.asarray(stored[f"values{k}"], dtype=np.float64) for k in range(count))
    except NPY_ERRORS + (KeyError, TypeError, AttributeError):
        return None
    return values if all(v.ndim == 1 and len(v) for v in values) else None
