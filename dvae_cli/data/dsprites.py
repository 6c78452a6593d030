"""``dsprites``: DeepMind's official dSprites file, with its ground-truth factors.

Matthey, L., Higgins, I., Hassabis, D., Lerchner, A. "dSprites: Disentanglement
testing Sprites dataset." https://github.com/deepmind/dsprites-dataset (2017).

File: ``<data-dir>/dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`` with the
arrays ``imgs`` (N, 64, 64) uint8 in {0, 1}, ``latents_values`` (N, 6) and
``latents_classes`` (N, 6). It is read without unpickling anything (its pickled
``metadata`` entry is never touched), bit-packed once into
``dsprites-packed.npy`` (+ ``dsprites-factors.npz``) and loaded like ``sprites``.
No checksum is published; the arrays' names, shapes and values are checked instead.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from numpy.lib.npyio import NpzFile

from dvae_cli.data.cache import NPY_ERRORS
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, download
from dvae_cli.data.in_memory import Factors, ImageData, pack_binary
from dvae_cli.data.sprites import FACTOR_NAMES
from dvae_cli.errors import DatasetUnavailableError
from dvae_cli.runs.atomic import write_with

FILENAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
URL = f"https://github.com/deepmind/dsprites-dataset/raw/master/{FILENAME}"
IMG = 64
CHUNK = 65_536


def folder(data_dir: Path) -> Path:
    return Path(data_dir) / "dsprites"


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
        raise DatasetUnavailableError(f"dataset 'dsprites' is not in {folder(data_dir)} and could not be "
                                      f"downloaded ({exc}); place {FILENAME} (from "
                                      f"https://github.com/deepmind/dsprites-dataset) in {folder(data_dir)}/") from None


def read_official(path: Path, progress: Callable[[int, int], None] | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(packed images (N, 512), latents_classes (N, 6), latents_values (N, 6)) of the official file.

    Raises:
        DatasetUnavailableError: if the file is not a dSprites archive.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = {"imgs", "latents_values", "latents_classes"} - set(archive.files)
            if missing:
                raise DatasetUnavailableError(f"{path} lacks the arrays {sorted(missing)}")
            imgs, classes, values = archive["imgs"], archive["latents_classes"], archive["latents_values"]
    except zipfile.BadZipFile:
        raise DatasetUnavailableError(f"cannot read {path}: not an .npz (zip) archive; delete it to download it "
                                      "again") from None
    except NPY_ERRORS as exc:
        reason = str(exc).split(". ")[0] or type(exc).__name__
        raise DatasetUnavailableError(f"cannot read {path}: {reason}; delete it to download it again") from None
    if imgs.ndim != 3 or imgs.shape[1:] != (IMG, IMG) or classes.shape != (len(imgs), 6) \
            or values.shape != classes.shape:
        raise DatasetUnavailableError(f"{path}: unexpected shapes imgs {imgs.shape}, latents {classes.shape}")
    if imgs.dtype.kind not in "biu" or classes.dtype.kind not in "biu" or values.dtype.kind not in "biuf":
        raise DatasetUnavailableError(f"{path}: unexpected types imgs {imgs.dtype}, latents_classes "
                                      f"{classes.dtype}, latents_values {values.dtype}")
    if not len(imgs):
        raise DatasetUnavailableError(f"{path} holds no images")
    if classes.min() < 0 or classes.max() > 255:
        raise DatasetUnavailableError(f"{path}: latents_classes outside 0..255 ({classes.min()}..{classes.max()})")
    classes, values = classes.astype(np.int64), values.astype(np.float64)
    packed = np.empty((len(imgs), IMG * IMG // 8), dtype=np.uint8)
    for start in range(0, len(imgs), CHUNK):
        packed[start:start + CHUNK] = pack_binary(imgs[start:start + CHUNK])
        if progress is not None:
            progress(min(start + CHUNK, len(imgs)), len(imgs))
    return packed, classes, values


def factors_from_latents(classes: np.ndarray, values: np.ndarray) -> Factors:
    """dSprites' factors: sizes from the classes, each class's value from the values."""
    sizes = tuple(int(classes[:, k].max()) + 1 for k in range(classes.shape[1]))
    grids = []
    for k, size in enumerate(sizes):
        grid = np.full(size, np.nan)
        grid[classes[:, k]] = values[:, k]
        grids.append(grid)
    return Factors(FACTOR_NAMES, sizes, tuple(grids), classes.astype(np.uint8))


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageData:
    """The official dSprites images and factors (prepared once into a packed cache)."""
    cache = Path(data_dir) / dataset_info("dsprites").prepared
    factor_cache = folder(data_dir) / "dsprites-factors.npz"
    prepared = read_prepared(cache, factor_cache)
    if prepared is None:
        source = fetch(data_dir, progress=progress, log=log)
        if log:
            log(f"packing {source} into {cache}")
        packed, classes, values = read_official(source, progress=progress)
        write_with(factor_cache, lambda handle: np.savez(handle, classes=classes.astype(np.uint8), values=values))
        write_with(cache, lambda handle: np.save(handle, packed))
        prepared = packed, classes, values
    packed, classes, values = prepared
    return ImageData(name, torch.from_numpy(packed), (1, IMG, IMG), packed=True,
                     factors=factors_from_latents(classes, values))


def read_prepared(cache: Path, factor_cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(packed images, classes, values) of the prepared files; None if either is missing or damaged."""
    try:
        packed = np.load(cache, allow_pickle=False)
        if isinstance(packed, NpzFile):  # a zip where the .npy should be
            packed.close()
            return None
        stored = np.load(factor_cache, allow_pickle=False)
        if not isinstance(stored, NpzFile):
            return None
        with stored:
            classes, values = stored["classes"], stored["values"]
    except NPY_ERRORS:
        return None
    except KeyError:  # not the arrays dvae writes
        return None
    if packed.dtype != np.uint8 or packed.ndim != 2 or packed.shape[1] != IMG * IMG // 8 or not len(packed) \
            or classes.dtype != np.uint8 or classes.shape != (len(packed), 6) or values.shape != classes.shape \
            or values.dtype.kind != "f":
        return None
    return packed, classes.astype(np.int64), values.astype(np.float64)
