"""Preprocessing a folder of image files once, with torchvision's ImageFolder and workers.

Each file is decoded by `dvae_cli.data.image_file.read_image` (16-bit and float images
rescaled, EXIF orientation applied, transparency composited over white).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dvae_cli.data.image_file import read_image
from dvae_cli.errors import CorruptFileError, DatasetUnavailableError

WORKERS = 2
BATCH = 256
#: The source size a worker reports for a file it cannot decode.
UNREADABLE = (-1, -1)


def _to_uint8(image: object) -> torch.Tensor:
    """PIL image -> uint8 tensor (C, H, W), without a float round trip."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def _load(path: str) -> Any:
    """ImageFolder's loader: `read_image` (8-bit L or RGB), or None for a file it refuses.

    The refusal's reason is found again in the main process (`preprocess_folder`),
    which names the file.
    """
    try:
        return read_image(path)
    except CorruptFileError:
        return None


class _Prepare:
    """ImageFolder transform: PIL image -> (uint8 (C, size, size), its source (width, height)).

    Each image is centre-cropped to a square of side ``min(crop, width, height)`` and
    resized to `size` (antialiased bicubic), so the official files get the
    reference's crop and images that are already `size` x `size` are kept as they
    are. An image smaller than `size` on a side (or unreadable) comes back as zeros
    with its size (or `UNREADABLE`); `preprocess_folder` reports it.
    """

    def __init__(self, crop: int, size: int, grayscale: bool) -> None:
        self.crop, self.size, self.grayscale = crop, size, grayscale

    def __call__(self, image: Any) -> tuple[torch.Tensor, torch.Tensor]:
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms import functional as F

        channels = 1 if self.grayscale else 3
        width, height = image.size if image is not None else UNREADABLE
        if min(width, height) < self.size:
            return torch.zeros((channels, self.size, self.size), dtype=torch.uint8), torch.tensor([width, height])
        if self.grayscale:
            image = F.to_grayscale(image, 1)
        elif image.mode != "RGB":
            image = image.convert("RGB")
        side = min(self.crop, width, height)
        image = F.center_crop(image, [side, side])
        image = F.resize(image, [self.size, self.size], interpolation=InterpolationMode.BICUBIC, antialias=True)
        return _to_uint8(image), torch.tensor([width, height])


def _folder(root: Path, transform: Callable[[Any], Any] | None = None) -> Any:
    """torchvision's ImageFolder over `root`.

    Raises:
        DatasetUnavailableError: if `root` holds no sub-folder with image files.
    """
    from torchvision.datasets import ImageFolder

    try:
        return ImageFolder(str(root), transform=transform, loader=_load)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise DatasetUnavailableError(f"no image files in the sub-folders of {root} ({exc})") from None


def list_images(root: Path) -> list[str]:
    """Image files under `root`'s sub-folders, sorted, as ImageFolder finds them."""
    return [path for path, _ in _folder(root).samples]


def preprocess_folder(root: Path, crop: int, size: int, grayscale: bool,
                      progress: Callable[[int, int], None] | None = None,
                      workers: int = WORKERS) -> np.ndarray:
    """Centre-crop to a square of side ``min(crop, width, height)``, resize to `size` x `size` every image.

    Args:
        root: A folder whose sub-folders hold the images (ImageFolder's layout).
        crop: Side of the centre crop, in source pixels (smaller images are cropped
            to their shorter side; images of `size` x `size` are kept as they are).
        size: Output side.
        grayscale: Convert to one channel (else RGB).
        progress: Called with (images done, total).

    Returns:
        uint8 array (N, C, size, size) in the sorted order of the files.

    Raises:
        DatasetUnavailableError: if there are no image files, or an image is smaller
            than `size` x `size` (the message names it, its size and the sizes allowed).
        CorruptFileError: if an image file cannot be decoded.
    """
    dataset = _folder(root, _Prepare(crop, size, grayscale))
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=workers, shuffle=False)
    out = np.empty((len(dataset), 1 if grayscale else 3, size, size), dtype=np.uint8)
    done = 0
    for (images, sizes), _ in loader:
        bad = (sizes.min(dim=1).values < size).nonzero()
        if len(bad):
            index = done + int(bad[0])
            path = dataset.samples[index][0]
            width, height = (int(v) for v in sizes[int(bad[0])])
            if (width, height) == UNREADABLE:
                read_image(path)   # raises the one-line reason, naming the file
                raise CorruptFileError(f"cannot read image {path}")
            raise DatasetUnavailableError(
                f"image {path} is {width}x{height}; images must be {size}x{size}, or larger (they are "
                f"centre-cropped to a square of at most {crop}x{crop} and resized to {size}x{size})")
        out[done:done + len(images)] = images.numpy()
        done += len(images)
        if progress is not None:
            progress(done, len(dataset))
    return out
