"""``cars3d``: Reed et al.'s renderings of 183 car models, 4 elevations x 24 azimuths, 64x64 RGB.

Reed, S., Zhang, Y., Zhang, Y., Lee, H. "Deep Visual Analogy-Making." NIPS 2015.
http://www.scottreed.info/ (the data is offered for research use; no licence is stated).
The CAD models come from Fidler, S., Dickinson, S., Urtasun, R. "3D Object Detection
and Viewpoint Estimation with a Deformable 3D Cuboid Model." NIPS 2012.

Files: ``<data-dir>/cars3d/cars/*.mat`` (the folder ``data/cars`` of the official
``nips2015-analogy-data.tar.gz``, which is extracted if it is there instead). Each
MATLAB file (read with scipy.io.loadmat) holds ``im``, uint8 (128, 128, 3, 24, 4):
height, width, channel, azimuth, elevation. As in disentanglement_lib's ``Cars3D``,
the files in name order are the objects, each image is resized to 64x64 with a
Lanczos filter, and the images are in row-major order of elevation (4), azimuth (24)
and object (183), whose values are their class numbers. Prepared once into
``cars3d-64-v1.npy`` (uint8 (17568, 3, 64, 64), 216 MB). No checksum is published.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from dvae_cli.data.cache import cached_shape, open_images, save_images
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, download, extract
from dvae_cli.data.factor_grid import grid_factors
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.errors import DatasetUnavailableError

TAR = "nips2015-analogy-data.tar.gz"
URL = f"http://www.scottreed.info/files/{TAR}"
FACTOR_NAMES = ("elevation", "azimuth", "object")
ELEVATIONS, AZIMUTHS = 4, 24
SOURCE, IMG = 128, 64
#: Where the .mat files may be, under the data dir's cars3d/ folder.
FOLDERS = ("cars", "data/cars")


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "cars3d"


def _mat_folder(data_dir: Path) -> Path | None:
    for name in FOLDERS:
        candidate = folder(data_dir) / name
        if candidate.is_dir() and any(candidate.glob("*.mat")):
            return candidate
    return None


def fetch(data_dir: Path, progress: Callable[[int, int], None] | None = None,
          log: Callable[[str], None] | None = None) -> Path:
    """The folder of the cars' .mat files, from the tar or downloaded.

    Raises:
        DatasetUnavailableError: naming the files to place and where.
    """
    found = _mat_folder(data_dir)
    if found is not None:
        return found
    archive = folder(data_dir) / TAR
    if not archive.is_file():
        try:
            if log:
                log(f"downloading {URL}")
            download(URL, archive, progress=progress)
        except DownloadError as exc:
            raise DatasetUnavailableError(
                f"dataset 'cars3d' is not in {folder(data_dir)} and could not be downloaded ({exc}); place {TAR} "
                f"(from {URL}) or the car_*_mesh.mat files of its data/cars/ folder in "
                f"{folder(data_dir) / 'cars'}/") from None
    if log:
        log(f"extracting {archive}")
    extract(archive, folder(data_dir))
    found = _mat_folder(data_dir)
    if found is None:
        raise DatasetUnavailableError(f"{archive} holds no data/cars/*.mat files; delete it and place the official "
                                      f"{TAR} again")
    return found


def read_mesh(path: Path, size: int = IMG) -> np.ndarray:
    """The 96 views of one car, resized: uint8 (4 elevations, 24 azimuths, 3, size, size) (128: as rendered).

    Raises:
        DatasetUnavailableError: if the file is not a MATLAB file holding ``im`` as
            uint8 (128, 128, 3, 24, 4).
    """
    import scipy.io
    from PIL import Image

    try:
        im = scipy.io.loadmat(path)["im"]
    except (OSError, ValueError, TypeError, NotImplementedError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DatasetUnavailableError(f"cannot read {path} as a Cars3D MATLAB file ({reason}); place the "
                                      f"official files again") from None
    if im.shape != (SOURCE, SOURCE, 3, AZIMUTHS, ELEVATIONS) or im.dtype != np.uint8:
        raise DatasetUnavailableError(f"{path}: 'im' is {im.dtype} {im.shape}, expected uint8 (128, 128, 3, 24, 4)")
    pixels = im
    out = np.empty((ELEVATIONS, AZIMUTHS, 3, size, size), dtype=np.uint8)
    for elevation in range(ELEVATIONS):
        for azimuth in range(AZIMUTHS):
            image = Image.fromarray(np.ascontiguousarray(pixels[:, :, :, azimuth, elevation]))
            resized = np.asarray(image if size == SOURCE else image.resize((size, size), Image.Resampling.LANCZOS))
            out[elevation, azimuth] = resized.transpose(2, 0, 1)
    return out


def read_official(mats: Path, progress: Callable[[int, int], None] | None = None, size: int = IMG) -> np.ndarray:
    """All cars' images in grid order (elevation, azimuth, object): uint8 (4 * 24 * n_objects, 3, size, size)."""
    files = sorted(mats.glob("*.mat"))
    grid = np.empty((ELEVATIONS, AZIMUTHS, len(files), 3, size, size), dtype=np.uint8)
    for k, path in enumerate(files):
        grid[:, :, k] = read_mesh(path, size)
        if progress is not None:
            progress(k + 1, len(files))
    return grid.reshape(-1, 3, size, size)


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """Cars3D's images with their factors (prepared once): ``cars3d`` at 64x64, ``cars3d-128`` as rendered."""
    info = dataset_info(name)
    size = info.img_size[-1]
    cache = Path(data_dir) / info.prepared
    shape = cached_shape(cache)
    if shape is None or shape[0] % (ELEVATIONS * AZIMUTHS):
        mats = fetch(data_dir, progress=progress, log=log)
        if log:
            log(f"{'resizing' if size != SOURCE else 'packing'} {mats}/*.mat into {cache}")
        images = read_official(mats, progress=progress, size=size)
        save_images(cache, images)
        n = len(images)
    else:
        n = shape[0]
    factors = grid_factors(FACTOR_NAMES, (ELEVATIONS, AZIMUTHS, n // (ELEVATIONS * AZIMUTHS)))
    return open_images(name, cache, (3, size, size), factors=factors, log=log)
