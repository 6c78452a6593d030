"""``folder:PATH``: any folder of image files as a dataset, with optional ground-truth factors.

Every file under PATH (recursively, in sorted path order) that Pillow can identify is an
image; the others are skipped with their reason (`scan`, shown by ``dvae data info``).
Each image is read by `dvae_cli.data.image_file.read_image` (EXIF orientation, 16-bit
and float images rescaled, transparency composited over white), centre-cropped to a
square of its shorter side and resized to 64x64 (Pillow's bicubic filter, antialiased;
``folder-32:PATH`` and ``folder-128:PATH``, or ``--img-size``, resize to 32x32 or
128x128 instead: `dvae_cli.data.names`): `resize_text`, recorded in the run's
``specs.json`` as ``data_preprocessing``. The images are greyscale (one channel) when
every image is a greyscale mode, RGB otherwise.

The result is cached once as ``<data-dir>/folders/<key>.npy`` (uint8 (N, C, side, side)),
the key a hash of the folder's absolute path, every file's relative path, size and
modification time, and the preprocessing: a changed folder is prepared again.

Factors: a ``factors.csv`` in PATH (a header row of names; a ``file`` column with each
image's path relative to PATH, or else one row per image in sorted path order; the
other columns integers) or a ``factors.npz`` (one integer array per factor, one row per
image in sorted path order) gives the dataset ground-truth factors: each factor's
values are its distinct integers, sorted, and the metrics take each image's own
classes (no full factor grid is needed).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.data.names import folder_name, split_folder
from dvae_cli.errors import ConfigError, DatasetUnavailableError

if TYPE_CHECKING:
    import numpy as np

    from dvae_cli.data.in_memory import Factors, ImageSource

PREFIX = "folder:"
FACTOR_FILES = ("factors.csv", "factors.npz")
GREY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
CACHE_VERSION = 1


def is_folder(name: str) -> bool:
    """Whether `name` names a folder dataset (``folder:PATH`` or ``folder-<N>:PATH``)."""
    return re.match(r"folder(-\d+)?:", name) is not None


def resize_text(side: int) -> str:
    """How a folder's images are brought to `side` x `side` pixels (recorded in ``specs.json``)."""
    return f"center-crop to the shorter side, then bicubic resize to {side}x{side}"


def folder_side(name: str) -> int:
    """The side in pixels that ``folder:PATH`` (64) or ``folder-<N>:PATH`` (N) is read at."""
    found = split_folder(name)
    if found is None:
        raise DatasetUnavailableError(f"'{name}' is not a folder dataset (folder:PATH)")
    return found[0]


def folder_path(name: str) -> Path:
    """The absolute folder of ``folder:PATH`` (``~`` expanded).

    Raises:
        DatasetUnavailableError: if PATH is empty, missing or not a folder.
    """
    found = split_folder(name)
    raw = found[1] if found is not None else ""
    if not raw:
        raise DatasetUnavailableError("folder: needs a path, e.g. -d folder:~/my-images")
    path = Path(raw).expanduser().resolve()
    if not path.is_dir():
        raise DatasetUnavailableError(f"folder {path} does not exist" if not path.exists()
                                      else f"{path} is not a folder")
    return path


@dataclass(frozen=True)
class Scan:
    """What `scan` found under a folder.

    Attributes:
        root: The folder.
        side: The side in pixels its images are resized to.
        images: Relative paths of the image files, sorted.
        modes: Pillow mode of each image.
        sizes: (width, height) of each image, in pixels.
        skipped: (relative path, reason) of every other file.
        signature: (relative path, bytes, mtime in ns) of every file, for the cache key.
    """

    root: Path
    side: int
    images: tuple[str, ...]
    modes: tuple[str, ...]
    sizes: tuple[tuple[int, int], ...]
    skipped: tuple[tuple[str, str], ...]
    signature: tuple[tuple[str, int, int], ...]

    @property
    def channels(self) -> int:
        return 1 if self.modes and all(mode in GREY_MODES for mode in self.modes) else 3

    @property
    def factors_file(self) -> Path | None:
        return next((self.root / f for f in FACTOR_FILES if (self.root / f).is_file()), None)

    @property
    def dataset_name(self) -> str:
        """``folder:ROOT`` or ``folder-<N>:ROOT``: the name ``specs.json`` records."""
        return folder_name(str(self.root), self.side)

    @property
    def img_size(self) -> tuple[int, int, int]:
        """(channels, side, side) of the prepared images."""
        return self.channels, self.side, self.side

    @property
    def prepared(self) -> str:
        """The prepared images' cache, relative to the data dir."""
        return f"folders/folder-{self.cache_key()}.npy"

    def cache_key(self) -> str:
        payload = json.dumps([CACHE_VERSION, str(self.root), resize_text(self.side), self.side, self.channels,
                              self.signature])
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _listing(root: Path) -> tuple[tuple[str, int, int], ...]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or (Path(folder) == root and name in FACTOR_FILES):
                continue
            path = Path(folder) / name
            stat = path.stat()
            found.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


@functools.lru_cache(maxsize=8)
def _scan(root: Path, side: int, signature: tuple[tuple[str, int, int], ...]) -> Scan:
    from PIL import Image, UnidentifiedImageError

    images, modes, sizes, skipped = [], [], [], []
    for relative, size, _ in signature:
        if size == 0:
            skipped.append((relative, "empty file"))
            continue
        try:
            with Image.open(root / relative) as image:
                modes.append(image.mode)
                sizes.append(image.size)
            images.append(relative)
        except UnidentifiedImageError:
            skipped.append((relative, "not an image Pillow can read"))
        except (OSError, ValueError) as exc:
            skipped.append((relative, f"unreadable ({exc})"))
    return Scan(root, side, tuple(images), tuple(modes), tuple(sizes), tuple(skipped), signature)


def scan(name: str) -> Scan:
    """The image files of ``folder:PATH`` and the files skipped, with their reasons.

    Raises:
        DatasetUnavailableError: if the folder is missing or holds no image file.
    """
    root = folder_path(name)
    found = _scan(root, folder_side(name), _listing(root))
    if not found.images:
        skipped = f" ({len(found.skipped)} other files skipped)" if found.skipped else ""
        raise DatasetUnavailableError(f"no image files under {root}{skipped}; dvae reads any file Pillow can "
                                      "open (jpg, png, webp, tiff, ...)")
    return found


def preprocessing(name: str) -> dict[str, Any]:
    """What ``specs.json`` records of a folder dataset's preparation."""
    found = scan(name)
    factors = found.factors_file
    return {"folder": str(found.root), "resize": resize_text(found.side), "channels": found.channels,
            "images": len(found.images),
            "skipped": len(found.skipped), "factors": factors.name if factors else None}


def read_factors(found: Scan) -> Factors | None:
    """The factors of `found`'s images from its factors file, or None without one.

    Raises:
        ConfigError: for a file that does not give one row of integers per image.
    """
    import numpy as np

    from dvae_cli.data.in_memory import Factors

    path = found.factors_file
    if path is None:
        return None
    columns: dict[str, list[Any]]
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            columns = {key: list(archive[key].reshape(-1)) for key in archive.files}
    else:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
        names = list(rows[0].keys()) if rows else []
        columns = {key: [row[key] for row in rows] for key in names}
        if "file" in columns:
            order = {file: i for i, file in enumerate(columns.pop("file"))}
            missing = [image for image in found.images if image not in order]
            if missing:
                raise ConfigError(f"{path}: no row for image '{missing[0]}' ({len(missing)} images have none)")
            columns = {key: [values[order[image]] for image in found.images] for key, values in columns.items()}
    if not columns:
        raise ConfigError(f"{path}: no factor columns")
    names, classes, values = [], [], []
    for key, column in columns.items():
        if len(column) != len(found.images):
            raise ConfigError(f"{path}: factor '{key}' has {len(column)} rows for {len(found.images)} images")
        try:
            numbers = np.array([int(str(v).strip()) if not isinstance(v, (int, np.integer)) else int(v)
                                for v in column], dtype=np.int64)
        except ValueError:
            bad = next(v for v in column if not str(v).strip().lstrip("-").isdigit())
            raise ConfigError(f"{path}: factor '{key}' holds '{bad}', not an integer") from None
        distinct, index = np.unique(numbers, return_inverse=True)
        names.append(key)
        values.append(distinct.astype(np.float64))
        classes.append(index)
    return Factors(tuple(names), tuple(len(v) for v in values), tuple(values), np.stack(classes, axis=1))


def _prepare(found: Scan, progress: Callable[[int, int], None] | None) -> np.ndarray:
    import numpy as np
    from PIL import Image

    from dvae_cli.data.image_file import read_image

    mode = "L" if found.channels == 1 else "RGB"
    side = found.side
    out = np.empty((len(found.images), found.channels, side, side), dtype=np.uint8)
    for i, relative in enumerate(found.images):
        image = read_image(found.root / relative).convert(mode)
        width, height = image.size
        crop = min(width, height)
        left, top = (width - crop) // 2, (height - crop) // 2
        image = image.resize((side, side), Image.Resampling.BICUBIC, box=(left, top, left + crop, top + crop))
        array = np.asarray(image, dtype=np.uint8)
        out[i] = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        if progress is not None and (i % 256 == 0 or i + 1 == len(found.images)):
            progress(i + 1, len(found.images))
    return out


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """The images of ``folder:PATH`` (prepared once into the data dir's cache), with their factors.

    Raises:
        DatasetUnavailableError: if the folder is missing or holds no image file.
        ConfigError: for a factors file that does not fit the images.
        CorruptFileError: for an image Pillow identifies but cannot decode.
    """
    from dvae_cli.data.cache import cached_shape, open_images, save_images

    found = scan(name)
    factors = read_factors(found)
    path = Path(data_dir) / found.prepared
    if cached_shape(path) is None:
        if log is not None:
            log(f"preparing {len(found.images):,} images of {found.root} into {path} (once)")
        save_images(path, _prepare(found, progress))
    return open_images(found.dataset_name, path, found.img_size, factors=factors, log=log)
