"""Image grids saved as PNG or GIF (atomically), and grids stacked in sections."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dvae_cli.runs.atomic import write_with

#: Height of the band between two sections of a figure (originals | reconstructions | traversals).
SEPARATOR = 6
#: Grey of the line through a separator: visible on white and on black padding.
SEPARATOR_GREY = 128
#: GIF comment naming the margins a figure adds around its image grid (`layout_comment`).
LAYOUT_TAG = "dvae-layout"


def grid_array(images: torch.Tensor, nrow: int, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile images (N, C, H, W) in [0, 1] into a uint8 array (H', W', C) with `nrow` per row."""
    from torchvision.utils import make_grid

    grid = make_grid(images.detach().float().cpu().clamp(0, 1), nrow=nrow, padding=padding, pad_value=pad_value)
    array = (grid.numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
    return array[:, :, :1] if images.shape[1] == 1 else array


def stack_sections(sections: Sequence[np.ndarray], pad_value: float) -> tuple[np.ndarray, list[int]]:
    """Grids (H_i, W, C) one above the other, each pair split by a `SEPARATOR`-pixel band.

    The band is the padding colour with a 2-pixel grey line through its middle.

    Returns:
        The stacked array and the top row of each section in it.
    """
    width, channels = sections[0].shape[1], sections[0].shape[2]
    band = np.full((SEPARATOR, width, channels), round(pad_value * 255), dtype=np.uint8)
    band[SEPARATOR // 2 - 1:SEPARATOR // 2 + 1] = SEPARATOR_GREY
    parts: list[np.ndarray] = []
    tops: list[int] = []
    top = 0
    for i, section in enumerate(sections):
        if i:
            parts.append(band)
            top += SEPARATOR
        parts.append(section)
        tops.append(top)
        top += section.shape[0]
    return np.concatenate(parts, axis=0), tops


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 image (H, W, C) as a PNG, atomically (one channel: grayscale)."""
    import imageio.v3 as iio

    image = array[:, :, 0] if array.shape[2] == 1 else array
    write_with(path, lambda handle: iio.imwrite(handle, image, extension=".png"))  # type: ignore[call-overload]


def layout_comment(top: int, right: int) -> str:
    """The GIF comment saying that the image grid lies below `top` rows and left of `right` columns."""
    return f"{LAYOUT_TAG} top={top} right={right}"


def parse_layout_comment(comment: Any) -> tuple[int, int]:
    """(top, right) margins from a GIF's comment written by `layout_comment`; (0, 0) for any other."""
    text = comment.decode("utf-8", "replace") if isinstance(comment, bytes) else str(comment or "")
    if not text.startswith(LAYOUT_TAG):
        return 0, 0
    fields = dict(part.split("=", 1) for part in text.split()[1:] if "=" in part)
    try:
        return max(int(fields.get("top", 0)), 0), max(int(fields.get("right", 0)), 0)
    except ValueError:
        return 0, 0


def write_gif(path: Path, frames: Sequence[np.ndarray], fps: float, comment: str | None = None) -> None:
    """Write uint8 frames (H, W, C) as a looping GIF, atomically, with an optional comment."""
    import imageio.v3 as iio

    stack = np.stack([f[:, :, 0] if f.shape[2] == 1 else f for f in frames])
    extra = {"comment": comment.encode()} if comment else {}
    write_with(path, lambda handle: iio.imwrite(handle, stack, extension=".gif",  # type: ignore[call-overload]
                                                duration=1000 / fps, loop=0, **extra))
