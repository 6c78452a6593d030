"""Image grids saved as PNG (atomically)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dvae_cli.runs.atomic import write_with


def grid_array(images: torch.Tensor, nrow: int, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile images (N, C, H, W) in [0, 1] into a uint8 array (H', W', C) with `nrow` per row."""
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding, pad_value=pad_value)
    array = (grid.numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
    return array[:, :, :1] if images.shape[1] == 1 else array


def save_grid(path: Path, images: torch.Tensor, nrow: int, padding: int = 2, pad_value: float = 1.0) -> None:
    """Write a grid of images (N, C, H, W) in [0, 1] as a PNG."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_png(path, grid_array(images, nrow, padding, pad_value))


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 image (H, W, C) as a PNG, atomically (one channel: grayscale)."""
    import imageio.v3 as iio

    image = array[:, :, 0] if array.shape[2] == 1 else array
    write_with(path, lambda handle: iio.imwrite(handle, image, extension=".png"))  # type: ignore[call-overload]
