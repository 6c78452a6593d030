"""``chairs``: the rendered 3D chairs of Aubry et al., cropped and resized to 64x64 grayscale.

Aubry, M., Maturana, D., Efros, A. A., Russell, B. C., Sivic, J. "Seeing 3D Chairs:
Exemplar Part-based 2D-3D Alignment using a Large Dataset of CAD Models." CVPR 2014.

Files: ``<data-dir>/chairs/rendered_chairs/<chair>/renders/*.png`` (600x600 PNGs, as in
the official ``rendered_chairs.tar``, which is extracted if it is there instead).
Every image is centre-cropped to 400x400 (disentangling-vae asks for this crop but
never applies it) and resized to 64x64 grayscale once, losslessly, into
``<data-dir>/chairs/chairs-64-v1.npy`` (the reference re-saves its PNGs as JPEG);
``chairs-128`` (``--img-size 128``) resizes to 128x128 into ``chairs-128-v1.npy``. No
checksum is published.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dvae_cli.data.cache import cached_shape, open_images, save_images
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, download, extract
from dvae_cli.data.image_folder import preprocess_folder
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.errors import DatasetUnavailableError

TAR = "rendered_chairs.tar"
URL = f"https://www.di.ens.fr/willow/research/seeing3Dchairs/data/{TAR}"
FOLDER = "rendered_chairs"
CROP = 400


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "chairs"


def cache_path(data_dir: Path, name: str = "chairs") -> Path:
    return Path(data_dir) / dataset_info(name).prepared


def fetch(data_dir: Path, progress: Callable[[int, int], None] | None = None,
          log: Callable[[str], None] | None = None) -> Path:
    """The rendered_chairs folder, from the tar or downloaded.

    Raises:
        DatasetUnavailableError: naming the file to place and where.
    """
    renders = folder(data_dir) / FOLDER
    if renders.is_dir() and any(renders.iterdir()):
        return renders
    archive = folder(data_dir) / TAR
    if not archive.is_file():
        try:
            if log:
                log(f"downloading {URL} (about 1 GB)")
            download(URL, archive, progress=progress)
        except DownloadError as exc:
            raise DatasetUnavailableError(
                f"dataset 'chairs' is not in {folder(data_dir)} and could not be downloaded ({exc}); place {TAR} "
                f"or its extracted folder {FOLDER}/ (from {URL}) in {folder(data_dir)}/") from None
    if log:
        log(f"extracting {archive}")
    extract(archive, folder(data_dir))
    return renders


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """The 86,366 chair renderings at 64x64, or 128x128 for ``chairs-128`` (prepared once per size)."""
    path = cache_path(data_dir, name)
    side = dataset_info(name).img_size[-1]
    if cached_shape(path) is None:
        renders = fetch(data_dir, progress=progress, log=log)
        if log:
            log(f"cropping and resizing {renders} into {path}")
        save_images(path, preprocess_folder(renders, CROP, side, grayscale=True, progress=progress))
    return open_images(name, path, (1, side, side), log=log)
