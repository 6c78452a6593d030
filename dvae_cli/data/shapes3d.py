"""``shapes3d``: DeepMind's 3D Shapes, 480,000 RGB 64x64 images of a full factor grid.

Burgess, C., Kim, H. "3D Shapes Dataset." https://github.com/deepmind/3d-shapes (2018),
introduced in Kim, H., Mnih, A. "Disentangling by Factorising." ICML 2018. Apache 2.0.

File: ``<data-dir>/shapes3d/3dshapes.h5`` (HDF5, read with h5py) with the datasets
``images`` (480000, 64, 64, 3) uint8 and ``labels`` (480000, 6) float64. The images
are in row-major order of the factors floor_hue (10), wall_hue (10), object_hue (10),
scale (8), shape (4), orientation (15), as disentanglement_lib's ``Shapes3D`` indexes
them; the order is checked against the labels. The factor values are the labels'
own (the README: hues spaced in [0, 1], shape 0..3, orientation in [-30, 30]
degrees). Prepared once, a chunk at a time, into ``shapes3d-64-v1.npy`` (uint8
(N, 3, 64, 64), 5.9 GB; streamed when it exceeds the memory budget) and
``shapes3d-factors.npz`` (the value grids). No checksum is published.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from dvae_cli.data.cache import cached_shape, open_images
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, download
from dvae_cli.data.factor_grid import (
    grid_factors,
    read_values,
    save_values,
    write_cache,
)
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.errors import DatasetUnavailableError

FILENAME = "3dshapes.h5"
URL = f"https://storage.googleapis.com/3d-shapes/{FILENAME}"
HOME = "https://github.com/deepmind/3d-shapes"
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
#: The grid the official file holds (a test may shrink it to write a tiny file).
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
IMG = 64
CHUNK = 10_000


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "shapes3d"


def factor_cache(data_dir: Path) -> Path:
    return folder(data_dir) / "shapes3d-factors.npz"


def fetch(data_dir: Path, progress: Callable[[int, int], None] | None = None,
          log: Callable[[str], None] | None = None) -> Path:
    """The official file, downloaded if missing.

    Raises:
        DatasetUnavailableError: naming the file to place and where.
    """
    path = folder(data_dir) / FILENAME
    if path.is_file():
        return path
    try:
        if log:
            log(f"downloading {URL}")
        return download(URL, path, progress=progress)
    except DownloadError as exc:
        raise DatasetUnavailableError(f"dataset 'shapes3d' is not in {folder(data_dir)} and could not be downloaded "
                                      f"({exc}); place {FILENAME} (from {URL}, see {HOME}) in "
                                      f"{folder(data_dir)}/") from None


def read_official(path: Path, cache: Path, progress: Callable[[int, int], None] | None = None
                  ) -> tuple[np.ndarray, ...]:
    """Convert the official file into the uint8 (N, 3, 64, 64) cache `cache`, a chunk at a time.

    Returns:
        The value grid of each factor, from the labels.

    Raises:
        DatasetUnavailableError: if the file is not 3D Shapes' HDF5 file, or its labels
            are not the factor grid in row-major order.
    """
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            missing = {"images", "labels"} - set(handle.keys())
            if missing:
                raise DatasetUnavailableError(f"{path} lacks the datasets {sorted(missing)}")
            images, labels = handle["images"], np.asarray(handle["labels"][()], dtype=np.float64)
            n = len(images)
            if images.shape != (n, IMG, IMG, 3) or images.dtype != np.uint8 or labels.shape != (n, 6) or not n:
                raise DatasetUnavailableError(f"{path}: unexpected images {images.dtype} {images.shape}, labels "
                                              f"{labels.shape}; expected (N, 64, 64, 3) uint8 and (N, 6)")
            # rounded, so a value stored with a last-bit difference is still one class
            values, classes = zip(*(np.unique(np.round(labels[:, k], 9), return_inverse=True) for k in range(6)))
            sizes = tuple(len(v) for v in values)
            if sizes != tuple(FACTOR_SIZES) or n != int(np.prod(sizes)):
                raise DatasetUnavailableError(f"{path}: its labels take {sizes} values for "
                                              f"{', '.join(FACTOR_NAMES)}, expected {tuple(FACTOR_SIZES)}")
            order = np.ravel_multi_index(tuple(np.asarray(c).ravel() for c in classes), sizes)
            if not np.array_equal(order, np.arange(n)):
                raise DatasetUnavailableError(f"{path}: the images are not in the factor grid's row-major order")

            def chunks() -> Iterator[np.ndarray]:
                for start in range(0, n, CHUNK):
                    yield np.ascontiguousarray(images[start:start + CHUNK].transpose(0, 3, 1, 2))

            write_cache(cache, n, (3, IMG, IMG), chunks(), progress)
    except OSError as exc:   # not HDF5, truncated, unreadable
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetUnavailableError(f"cannot read {path} as HDF5 ({reason}); delete it and place the official "
                                      f"{FILENAME} again") from None
    return tuple(values)


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """3D Shapes' images with their factors (prepared once)."""
    cache = Path(data_dir) / dataset_info("shapes3d").prepared
    values = read_values(factor_cache(data_dir), len(FACTOR_NAMES))
    shape = cached_shape(cache)
    if values is None or shape is None or shape[0] != int(np.prod([len(v) for v in values])):
        source = fetch(data_dir, progress=progress, log=log)
        if log:
            log(f"converting {source} into {cache}")
        values = read_official(source, cache, progress=progress)
        save_values(factor_cache(data_dir), values)
    factors = grid_factors(FACTOR_NAMES, [len(v) for v in values], values)
    return open_images(name, cache, (3, IMG, IMG), factors=factors, log=log)
