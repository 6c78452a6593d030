"""Preprocessing a folder of image files once, with torchvision's ImageFolder and workers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

WORKERS = 2
BATCH = 256


def _to_uint8(image: object) -> torch.Tensor:
    """PIL image -> uint8 tensor (C, H, W), without a float round trip."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def _to_rgb(image: object) -> object:
    return image.convert("RGB")  # type: ignore[attr-defined]


def list_images(root: Path) -> list[str]:
    """Image files under `root`'s sub-folders, sorted, as ImageFolder finds them."""
    from torchvision.datasets import ImageFolder

    return [path for path, _ in ImageFolder(str(root)).samples]


def preprocess_folder(root: Path, crop: int, size: int, grayscale: bool,
                      progress: Callable[[int, int], None] | None = None,
                      workers: int = WORKERS) -> np.ndarray:
    """Centre-crop to `crop` x `crop`, resize to `size` x `size` (antialiased) every image.

    Args:
        root: A folder whose sub-folders hold the images (ImageFolder's layout).
        crop: Side of the centre crop, in source pixels.
        size: Output side.
        grayscale: Convert to one channel (else RGB).
        progress: Called with (images done, total).

    Returns:
        uint8 array (N, C, size, size) in the sorted order of the files.
    """
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    transform = transforms.Compose([
        transforms.Grayscale(1) if grayscale else transforms.Lambda(_to_rgb),
        transforms.CenterCrop(crop),
        transforms.Resize(size, interpolation=transforms.InterpolationMode.BICUBIC, antialias=True),
        transforms.Lambda(_to_uint8),
    ])
    dataset = ImageFolder(str(root), transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=workers, shuffle=False)
    out = np.empty((len(dataset), 1 if grayscale else 3, size, size), dtype=np.uint8)
    done = 0
    for images, _ in loader:
        out[done:done + len(images)] = images.numpy()
        done += len(images)
        if progress is not None:
            progress(done, len(dataset))
    return out
