"""``smallnorb``: NYU's small NORB toys, training and test sets together, 64x64 grayscale.

LeCun, Y., Huang, F. J., Bottou, L. "Learning Methods for Generic Object Recognition
with Invariance to Pose and Lighting." CVPR 2004.
https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/ (offered for research use).

Files: ``<data-dir>/smallnorb/smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat``
and ``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat`` (or the same
names with ``.gz``, as NYU serves them). They are not MATLAB files but NORB's binary
matrices: a little-endian int32 magic number giving the element type, the number of
dimensions, max(3, ndim) int32 sizes, then the elements. ``dat`` is (24300, 2, 96, 96)
uint8 (a stereo pair), ``cat`` (24300,) the category, ``info`` (24300, 4) the
instance, elevation, azimuth (0, 2, ..., 34) and lighting.

As in disentanglement_lib's ``SmallNORB``: both sets (48,600 images, every
combination of category 5 x instance 10 x elevation 9 x azimuth 18 x lighting 6
once), the first image of each pair, resized to 64x64 with a Lanczos filter, and
the factors category, elevation, azimuth and lighting: the instance is not a factor,
so each combination of the four has 10 images. The images are stored in the row-major
order of (category, instance, elevation, azimuth, lighting). Values: category 0..4
(animal, human, airplane, truck, car), elevation 30..70 degrees, azimuth 0..340
degrees, lighting 0..5. Prepared once into ``smallnorb-64-v1.npy`` (199 MB).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dvae_cli.data.cache import cached_shape, open_images, save_images
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, download
from dvae_cli.data.in_memory import Factors, ImageSource
from dvae_cli.errors import DatasetUnavailableError

BASE_URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small"
CHUNKS = ("smallnorb-5x46789x9x18x6x2x96x96-training", "smallnorb-5x01235x9x18x6x2x96x96-testing")
PARTS = ("dat", "cat", "info")
FACTOR_NAMES = ("category", "elevation", "azimuth", "lighting")
#: The grid of (category, instance, elevation, azimuth / 2, lighting) the two sets
#: fill together (a test may shrink it to write tiny files).
GRID = (5, 10, 9, 18, 6)
IMG = 64
#: NORB's element types by magic number (its documentation's "byte matrix" is unsigned).
MAGIC: dict[int, np.dtype[Any]] = {0x1E3D4C51: np.dtype("<f4"), 0x1E3D4C53: np.dtype("<f8"),
                                   0x1E3D4C54: np.dtype("<i4"), 0x1E3D4C55: np.dtype("u1"),
                                   0x1E3D4C56: np.dtype("<i2")}


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "smallnorb"


def filenames() -> list[str]:
    """The six official files' names (without ``.gz``)."""
    return [f"{chunk}-{part}.mat" for chunk in CHUNKS for part in PARTS]


def fetch(data_dir: Path, progress: Callable[[int, int], None] | None = None,
          log: Callable[[str], None] | None = None) -> list[Path]:
    """The six official files (each as ``.mat`` or ``.mat.gz``), downloaded if missing.

    Raises:
        DatasetUnavailableError: naming the files to place and where.
    """
    paths = []
    for name in filenames():
        plain, packed = folder(data_dir) / name, folder(data_dir) / f"{name}.gz"
        if not plain.is_file() and not packed.is_file():
            try:
                if log:
                    log(f"downloading {BASE_URL}/{name}.gz")
                download(f"{BASE_URL}/{name}.gz", packed, progress=progress)
            except DownloadError as exc:
                raise DatasetUnavailableError(
                    f"dataset 'smallnorb' is not in {folder(data_dir)} and could not be downloaded ({exc}); place "
                    f"the six files {', '.join(filenames())} (or the same names with .gz, from {BASE_URL}/) in "
                    f"{folder(data_dir)}/") from None
        paths.append(plain if plain.is_file() else packed)
    return paths


def read_matrix(path: Path) -> np.ndarray:
    """One NORB binary matrix (``.mat`` or ``.mat.gz``).

    Raises:
        DatasetUnavailableError: if the header is not NORB's or the elements do not fill it.
    """
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DatasetUnavailableError(f"cannot read {path}: {exc}; place the official file again") from None
    header = np.frombuffer(raw, dtype="<i4", count=min(len(raw) // 4, 2))
    if len(header) < 2 or int(header[0]) not in MAGIC or not 0 < int(header[1]) <= 8:
        raise DatasetUnavailableError(f"{path} is not a NORB binary matrix (no known magic number)")
    dtype, ndim = MAGIC[int(header[0])], int(header[1])
    offset = 8 + 4 * max(3, ndim)
    if len(raw) < offset:
        raise DatasetUnavailableError(f"{path}: its header is cut short")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype="<i4", count=ndim, offset=8))
    count = int(np.prod(dims))
    if min(dims) < 0 or len(raw) - offset != count * dtype.itemsize:
        raise DatasetUnavailableError(f"{path}: {len(raw) - offset} bytes of data for a {dtype} matrix {dims}")
    return np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(dims)


def read_official(paths: list[Path], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Both sets' images, resized, in grid order: uint8 (prod(GRID), 1, 64, 64).

    Raises:
        DatasetUnavailableError: if a file is damaged or the two sets do not fill the
            grid once.
    """
    from PIL import Image

    images, features = [], []
    for k in range(len(CHUNKS)):
        dat, cat, info = (read_matrix(p) for p in paths[3 * k:3 * k + 3])
        n = len(dat)
        if dat.ndim != 4 or dat.shape[1] != 2 or dat.dtype != np.uint8 or cat.shape != (n,) or info.shape != (n, 4):
            raise DatasetUnavailableError(f"{paths[3 * k]}: shapes dat {dat.shape}, cat {cat.shape}, info "
                                          f"{info.shape} are not small NORB's (N, 2, H, W), (N,), (N, 4)")
        images.append(dat[:, 0].copy())   # the left camera; the file's bytes are released
        features.append(np.column_stack([cat, info[:, 0], info[:, 1], info[:, 2] // 2, info[:, 3]]))
    everything, feats = np.concatenate(images), np.concatenate(features).astype(np.int64)
    if len(everything) != int(np.prod(GRID)) or feats.min() < 0 or np.any(feats >= np.array(GRID)):
        raise DatasetUnavailableError(f"{paths[0].parent}: the two sets hold {len(everything)} images; small NORB's "
                                      f"grid {GRID} needs {int(np.prod(GRID))} with factors inside it")
    where = np.ravel_multi_index(tuple(feats.T), GRID)
    if len(np.unique(where)) != len(where):
        raise DatasetUnavailableError(f"{paths[0].parent}: a combination of the factors appears twice")
    out = np.empty((len(everything), 1, IMG, IMG), dtype=np.uint8)
    for i, image in enumerate(everything):
        out[where[i], 0] = np.asarray(Image.fromarray(image).resize((IMG, IMG), Image.Resampling.LANCZOS))
        if progress is not None and (i + 1) % 1000 == 0:
            progress(i + 1, len(everything))
    return out


def factors(n: int) -> Factors:
    """The factors of the cached images (grid order, the instance left out)."""
    grid = np.stack(np.unravel_index(np.arange(n), GRID), axis=1)
    classes = grid[:, [0, 2, 3, 4]].astype(np.uint8)
    sizes = (GRID[0], GRID[2], GRID[3], GRID[4])
    values = (np.arange(sizes[0], dtype=np.float64), 30.0 + 5.0 * np.arange(sizes[1]), 20.0 * np.arange(sizes[2]),
              np.arange(sizes[3], dtype=np.float64))
    return Factors(FACTOR_NAMES, sizes, values, classes)


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """Small NORB's 48,600 images with their factors (prepared once)."""
    cache = Path(data_dir) / dataset_info("smallnorb").prepared
    if cached_shape(cache) != (int(np.prod(GRID)), 1, IMG, IMG):
        paths = fetch(data_dir, progress=progress, log=log)
        if log:
            log(f"resizing the small NORB files of {folder(data_dir)} into {cache}")
        save_images(cache, read_official(paths, progress=progress))
    return open_images(name, cache, (1, IMG, IMG), factors=factors(int(np.prod(GRID))), log=log)
