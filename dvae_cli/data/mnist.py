"""``mnist`` and ``fashion``: the idx-ubyte files, read by torchvision, resized to 32x32.

LeCun, Y., Cortes, C., Burges, C. J. C. "The MNIST database of handwritten digits" (1998).
Xiao, H., Rasul, K., Vollgraf, R. "Fashion-MNIST." arXiv:1708.07747 (2017).

Files (torchvision's layout, as the official archives name them)::

    <data-dir>/MNIST/raw/train-images-idx3-ubyte.gz ... t10k-labels-idx1-ubyte.gz
    <data-dir>/FashionMNIST/raw/train-images-idx3-ubyte.gz ...

The .gz files or their extracted versions both work. The 60,000 + 10,000 images
are resized once from 28x28 to 32x32 (bilinear, as disentangling-vae's
``Resize(32)``) and cached as ``<data-dir>/<name>/<name>-32.npy``; dvae's own seeded
split then holds out the test set.
"""

from __future__ import annotations

import gzip
import math
import shutil
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from dvae_cli.data.cache import cached_shape, open_images, save_images
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, download
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.errors import DatasetUnavailableError

SIZE = 32
#: Magic numbers of the idx files: unsigned bytes in 3 dimensions (images) or 1 (labels).
IDX_IMAGES, IDX_LABELS = 0x0803, 0x0801
SOURCE_SIZE = 28


def _torchvision_class(name: str) -> Any:
    from torchvision import datasets

    return datasets.MNIST if name == "mnist" else datasets.FashionMNIST


def raw_folder(name: str, data_dir: Path) -> Path:
    """Where torchvision (and dvae) look for the idx files."""
    return Path(data_dir) / ("MNIST" if name == "mnist" else "FashionMNIST") / "raw"


def cache_path(name: str, data_dir: Path) -> Path:
    return Path(data_dir) / dataset_info(name).prepared


def raw_files(name: str) -> list[tuple[str, str]]:
    """(file name, MD5) of the four official archives."""
    return list(_torchvision_class(name).resources)


def _extracted(name: str, data_dir: Path) -> bool:
    folder = raw_folder(name, data_dir)
    return all((folder / file[:-3]).is_file() for file, _ in raw_files(name))


def fetch(name: str, data_dir: Path, progress: Callable[[int, int], None] | None = None,
          log: Callable[[str], None] | None = None) -> None:
    """Make sure the extracted idx files are in `raw_folder`, downloading what is missing.

    Raises:
        DatasetUnavailableError: naming the files to place and where, if they are
            missing and cannot be downloaded.
    """
    folder = raw_folder(name, data_dir)
    cls = _torchvision_class(name)
    for file, md5 in raw_files(name):
        target = folder / file[:-3]
        if target.is_file():
            continue
        archive = folder / file
        if not archive.is_file():
            errors = []
            for mirror in cls.mirrors:
                try:
                    if log:
                        log(f"downloading {mirror}{file}")
                    download(f"{mirror}{file}", archive, md5=md5, progress=progress)
                    break
                except DownloadError as exc:
                    errors.append(str(exc))
            else:
                files = ", ".join(f for f, _ in raw_files(name))
                raise DatasetUnavailableError(
                    f"dataset '{name}' is not in {folder} and could not be downloaded ({errors[-1]}); "
                    f"place {files} (from {cls.mirrors[0]}) in {folder}/")
        _gunzip(archive, target)


def _gunzip(archive: Path, target: Path) -> None:
    part = target.with_name(target.name + ".part")
    try:
        with gzip.open(archive, "rb") as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst)
    except (OSError, EOFError, zlib.error) as exc:
        part.unlink(missing_ok=True)
        raise DatasetUnavailableError(f"{archive} is damaged ({exc}); delete it and run again") from None
    part.replace(target)


def check_idx(path: Path, labels: bool) -> int:
    """The number of items of an extracted idx file, checked before torchvision reads it.

    Raises:
        DatasetUnavailableError: naming the file, if it is not an idx file of 28x28
            uint8 images (or of uint8 labels), or its size differs from its header's.
    """
    magic, dims, what = (IDX_LABELS, 1, "labels") if labels else (IDX_IMAGES, 3, "images")
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            header = handle.read(4 * (dims + 1))
    except OSError as exc:
        raise DatasetUnavailableError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(header) < 4 * (dims + 1):
        raise DatasetUnavailableError(f"{path} is not an idx file of {what}: only {size} bytes; "
                                      "delete it and run again")
    found, *shape = struct.unpack(f">{dims + 1}I", header)
    if found != magic:
        raise DatasetUnavailableError(f"{path} is not an idx file of {what} (magic number {found:#x}, expected "
                                      f"{magic:#x}); delete it and run again")
    if not labels and shape[1:] != [SOURCE_SIZE, SOURCE_SIZE]:
        raise DatasetUnavailableError(f"{path} holds {shape[1]}x{shape[2]} images, not {SOURCE_SIZE}x{SOURCE_SIZE}")
    expected = len(header) + math.prod(shape)
    if size != expected:
        raise DatasetUnavailableError(f"{path} has {size} bytes but its header announces {expected}: it is damaged "
                                      "or cut short; delete it and run again")
    return shape[0]


def preprocess(name: str, data_dir: Path) -> np.ndarray:
    """Read train + test with torchvision and resize to 32x32: uint8 (N, 1, 32, 32).

    Raises:
        DatasetUnavailableError: naming the file, if an idx file is not in the official format.
    """
    cls = _torchvision_class(name)
    root = str(Path(data_dir))
    folder = raw_folder(name, data_dir)
    for prefix in ("train", "t10k"):
        n_images = check_idx(folder / f"{prefix}-images-idx3-ubyte", labels=False)
        n_labels = check_idx(folder / f"{prefix}-labels-idx1-ubyte", labels=True)
        if n_images != n_labels:
            raise DatasetUnavailableError(f"{folder / f'{prefix}-labels-idx1-ubyte'} holds {n_labels} labels for "
                                          f"{n_images} images; delete the {prefix} files and run again")
    parts = []
    for train in (True, False):
        try:
            parts.append(cls(root, train=train, download=False).data)
        except (RuntimeError, ValueError, OSError) as exc:
            raise DatasetUnavailableError(f"cannot read the {name} idx files in {raw_folder(name, data_dir)}: "
                                          f"{str(exc).splitlines()[0]}") from None
    images = torch.cat(parts).unsqueeze(1).float()
    resized = F.interpolate(images, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8).numpy()


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """The 70,000 images of `name` (``mnist`` or ``fashion``), 32x32."""
    path = cache_path(name, data_dir)
    if cached_shape(path) is None:
        fetch(name, data_dir, progress=progress, log=log)
        if log:
            log(f"resizing {name} to {SIZE}x{SIZE} into {path}")
        save_images(path, preprocess(name, data_dir))
    return open_images(name, path, (1, SIZE, SIZE), log=log)
