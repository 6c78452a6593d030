"""``celeba``: CelebA's aligned faces, centre-cropped and resized to 64x64 RGB.

Liu, Z., Luo, P., Wang, X., Tang, X. "Deep Learning Face Attributes in the Wild." ICCV 2015.

Files: ``<data-dir>/celeba/img_align_celeba/*.jpg`` (178x218 JPEGs, as in the official
``img_align_celeba.zip``, which is extracted if it is there instead). The zip comes
from the official Google Drive folder with the MD5 that torchvision publishes. Each
image is centre-cropped to 178x178 and resized to 64x64 once, into
``<data-dir>/celeba/celeba-64-v1.npy`` (2.5 GB; streamed if it does not fit in memory);
``celeba-128`` (``--img-size 128``) resizes to 128x128 into ``celeba-128-v1.npy`` (10 GB).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dvae_cli.data.cache import cached_shape, open_images, save_images
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, extract, offline
from dvae_cli.data.image_folder import preprocess_folder
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.errors import DatasetUnavailableError

ZIP = "img_align_celeba.zip"
FOLDER = "img_align_celeba"
CROP = 178


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "celeba"


def cache_path(data_dir: Path, name: str = "celeba") -> Path:
    return Path(data_dir) / dataset_info(name).prepared


def _drive_file() -> tuple[str, str]:
    """(Google Drive id, MD5) of img_align_celeba.zip, as torchvision publishes them."""
    from torchvision.datasets import CelebA

    for file_id, md5, name in CelebA.file_list:
        if name == ZIP:
            return file_id, md5
    raise DownloadError("torchvision no longer lists img_align_celeba.zip")


def fetch(data_dir: Path, log: Callable[[str], None] | None = None, name: str = "celeba") -> Path:
    """The folder of aligned JPEGs, from the zip or downloaded.

    Raises:
        DatasetUnavailableError: naming the file to place and where.
    """
    images = folder(data_dir) / FOLDER
    if images.is_dir() and any(images.iterdir()):
        return images
    archive = folder(data_dir) / ZIP
    if not archive.is_file():
        try:
            if offline():
                raise DownloadError("downloads are disabled ($DVAE_OFFLINE=1)")
            from torchvision.datasets.utils import download_file_from_google_drive

            file_id, md5 = _drive_file()
            if log:
                log(f"downloading {ZIP} (1.4 GB) from Google Drive")
            part = archive.with_name(ZIP + ".part")
            download_file_from_google_drive(file_id, str(folder(data_dir)), part.name, md5)
            part.replace(archive)
        except Exception as exc:  # torchvision raises several kinds; all mean "not downloaded"
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DatasetUnavailableError(
                f"dataset 'celeba' is not in {folder(data_dir)} and could not be downloaded ({reason[:160]}); "
                f"place {ZIP} or its extracted folder {FOLDER}/ ('Align&Cropped Images' of "
                f"https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html) in {folder(data_dir)}/, then run: "
                f"dvae data prepare {name}") from None
    if log:
        log(f"extracting {archive}")
    extract(archive, folder(data_dir))
    return images


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """CelebA's 202,599 faces at 64x64, or 128x128 for ``celeba-128`` (prepared once per size)."""
    path = cache_path(data_dir, name)
    side = dataset_info(name).img_size[-1]
    if cached_shape(path) is None:
        images = fetch(data_dir, log=log, name=name)
        if log:
            log(f"cropping and resizing {images} into {path}")
        # ImageFolder wants classes: the folder that holds img_align_celeba/ is the root
        save_images(path, preprocess_folder(images.parent, CROP, side, grayscale=False, progress=progress))
    return open_images(name, path, (3, side, side), log=log)
