"""``mpi3d-toy``, ``mpi3d-realistic``, ``mpi3d-real``: the MPI3D robot-arm datasets, 64x64 RGB.

Gondal, M. W., Wuthrich, M., Miladinovic, D., Locatello, F., Breidt, M., Volchkov, V.,
Akpo, J., Bachem, O., Scholkopf, B., Bauer, S. "On the Transfer of Inductive Bias from
Simulation to the Real World: a New Disentanglement Dataset." NeurIPS 2019.
https://github.com/rr-learning/disentanglement_dataset (CC BY 4.0).

Files: ``<data-dir>/mpi3d/mpi3d_<variant>.npz`` with one array ``images``
(1036800, 64, 64, 3) uint8: the full grid of object_color (6), object_shape (6),
object_size (2), camera_height (3), background_color (3), horizontal_axis (40) and
vertical_axis (40) in row-major order (the MPI3D README's reshape). The earlier
challenge file that disentanglement_lib downloads for ``mpi3d_toy`` (460,800 images,
4 colours x 4 shapes) is read too, with that grid. Factor values are the README's
class numbers. The 12.7 GB array is read from the archive a chunk at a time into
``mpi3d_<variant>-64-v1.npy`` (uint8 (N, 3, 64, 64)), which is memory-mapped and
streamed when it exceeds the memory budget (`dvae_cli.data.cache.open_images`): no
float copy of the dataset is ever made.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from dvae_cli.data.cache import NPY_ERRORS, cached_shape, open_images
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, download
from dvae_cli.data.factor_grid import grid_factors, write_cache
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.errors import DatasetUnavailableError

VARIANTS = {"mpi3d-toy": "mpi3d_toy", "mpi3d-realistic": "mpi3d_realistic", "mpi3d-real": "mpi3d_real"}
BASE_URL = "https://storage.googleapis.com/disentanglement_dataset/Final_Dataset"
HOME = "https://github.com/rr-learning/disentanglement_dataset"
FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height", "background_color",
                "horizontal_axis", "vertical_axis")
#: Factor sizes by number of images: the published datasets, and the 4x4 challenge
#: subset (a test may add a tiny grid).
GRIDS: dict[int, tuple[int, ...]] = {1_036_800: (6, 6, 2, 3, 3, 40, 40), 460_800: (4, 4, 2, 3, 3, 40, 40)}
IMG = 64
CHUNK = 8_192


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "mpi3d"


def filename(name: str) -> str:
    return f"{VARIANTS[name]}.npz"


def fetch(name: str, data_dir: Path, progress: Callable[[int, int], None] | None = None,
          log: Callable[[str], None] | None = None) -> Path:
    """The official file of variant `name`, downloaded if missing.

    Raises:
        DatasetUnavailableError: naming the file to place and where.
    """
    path = folder(data_dir) / filename(name)
    if path.is_file():
        return path
    url = f"{BASE_URL}/{filename(name)}"
    try:
        if log:
            log(f"downloading {url} (12.7 GB of images)")
        return download(url, path, progress=progress)
    except DownloadError as exc:
        raise DatasetUnavailableError(f"dataset '{name}' is not in {folder(data_dir)} and could not be downloaded "
                                      f"({exc}); place {filename(name)} (from {url}, see {HOME}) in "
                                      f"{folder(data_dir)}/") from None


def _chunks(member: IO[bytes], n: int) -> Iterator[np.ndarray]:
    row = IMG * IMG * 3
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        block = member.read(count * row)
        if len(block) != count * row:
            raise DatasetUnavailableError(f"the images array ends after {start + len(block) // row} of {n} images")
        yield np.frombuffer(block, dtype=np.uint8).reshape(count, IMG, IMG, 3).transpose(0, 3, 1, 2).copy()


def read_official(path: Path, cache: Path, progress: Callable[[int, int], None] | None = None) -> int:
    """Copy the ``images`` array of the official ``.npz`` into the cache `cache`, a chunk at a time.

    Returns:
        The number of images.

    Raises:
        DatasetUnavailableError: if the file is not an ``.npz`` holding ``images`` as a
            C-ordered uint8 (N, 64, 64, 3) array with N a known MPI3D grid.
    """
    try:
        with zipfile.ZipFile(path) as archive, archive.open("images.npy") as member:
            version = np.lib.format.read_magic(member)
            shape, fortran, dtype = (np.lib.format.read_array_header_1_0(member) if version == (1, 0)
                                     else np.lib.format.read_array_header_2_0(member))
            n = shape[0] if shape else 0
            if tuple(shape[1:]) != (IMG, IMG, 3) or dtype != np.uint8 or fortran:
                raise DatasetUnavailableError(f"{path}: images is {dtype} {shape}"
                                              f"{' (Fortran order)' if fortran else ''}, expected C-ordered "
                                              "uint8 (N, 64, 64, 3)")
            if n not in GRIDS:
                raise DatasetUnavailableError(f"{path} holds {n:,} images; an MPI3D grid has "
                                              f"{' or '.join(f'{k:,}' for k in GRIDS)}")
            write_cache(cache, n, (3, IMG, IMG), _chunks(member, n), progress)
    except KeyError:
        raise DatasetUnavailableError(f"{path} holds no array 'images'; delete it and place the official "
                                      "file again") from None
    except NPY_ERRORS as exc:
        reason = str(exc).split(". ")[0] or type(exc).__name__
        raise DatasetUnavailableError(f"cannot read {path}: {reason}; delete it and place the official file "
                                      "again") from None
    return n


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """The images of MPI3D variant `name` with their factors (prepared once; streamed if too large)."""
    cache = Path(data_dir) / dataset_info(name).prepared
    shape = cached_shape(cache)
    if shape is None or shape[0] not in GRIDS:
        source = fetch(name, data_dir, progress=progress, log=log)
        if log:
            log(f"copying the images of {source} into {cache}")
        n = read_official(source, cache, progress=progress)
    else:
        n = shape[0]
    return open_images(name, cache, (3, IMG, IMG), factors=grid_factors(FACTOR_NAMES, GRIDS[n]), log=log)
