"""``sprites``: dSprites' factor grid, rendered locally (no download).

Matthey, L., Higgins, I., Hassabis, D., Lerchner, A. "dSprites: Disentanglement
testing Sprites dataset." https://github.com/deepmind/dsprites-dataset (2017).

737,280 binary 64x64 images: colour (1) x shape (square, ellipse, heart: 3) x
scale (6 values in [0.5, 1]) x orientation (40 values in [0, 2 pi]) x posX (32) x
posY (32 values in [0, 1]), in dSprites' order (the last factor varies fastest)
with dSprites' value grids, so metrics and traversals mean the same on both.

Each (shape, scale, orientation) is rendered once on a 32x32 patch; the 1024
positions are whole-pixel shifts of it (dSprites moves objects one pixel per
position step), taken as windows of one padded canvas. The grid is cached under
the data dir, bit-packed (377 MB), and loaded as one uint8 tensor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dvae_cli.data.in_memory import Factors, ImageData, pack_binary
from dvae_cli.runs.atomic import write_with

NAME = "sprites"
CACHE_VERSION = 1
IMG = 64
PATCH = 32
FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")
#: Object centre of posX = posY = 0, in pixels; each position step moves it by one pixel.
POSITION_ORIGIN = 16.0
#: Side of the square at scale 1, in pixels.
SQUARE_SIDE = 19.2
#: Semi-axes of the ellipse at scale 1, in pixels.
ELLIPSE_AXES = (10.0, 5.0)
#: Half-width of the heart at scale 1, in pixels.
HEART_SIZE = 9.5
N_IMAGES = int(np.prod(FACTOR_SIZES))


def factor_values() -> tuple[np.ndarray, ...]:
    """dSprites' value grid of each factor."""
    return (np.array([1.0]), np.array([1.0, 2.0, 3.0]), np.linspace(0.5, 1.0, 6),
            np.linspace(0.0, 2 * np.pi, 40), np.linspace(0.0, 1.0, 32), np.linspace(0.0, 1.0, 32))


def index_to_classes(index: np.ndarray) -> np.ndarray:
    """Factor classes (N, 6) of image indices (N,) (dSprites' order)."""
    return np.stack(np.unravel_index(np.asarray(index), FACTOR_SIZES), axis=1).astype(np.uint8)


def classes_to_index(classes: np.ndarray) -> np.ndarray:
    """Image indices (N,) of factor classes (N, 6); the inverse of `index_to_classes`."""
    return np.ravel_multi_index(tuple(np.asarray(classes, dtype=np.int64).T), FACTOR_SIZES)


def sprites_factors(index: np.ndarray | None = None) -> Factors:
    """The factors of the images `index` (all images if None)."""
    index = np.arange(N_IMAGES) if index is None else index
    return Factors(FACTOR_NAMES, FACTOR_SIZES, factor_values(), index_to_classes(index))


def shape_mask(shape: int, scale: float, angle: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Whether the points (x, y) (pixels, relative to the object centre) are inside the shape.

    Args:
        shape: 0 square, 1 ellipse, 2 heart.
        scale: dSprites scale (0.5 .. 1).
        angle: orientation in radians (counter-clockwise on screen).
        x, y: coordinates, y pointing down.
    """
    cos, sin = math.cos(angle), math.sin(angle)
    u = (cos * x - sin * y) / scale   # rotate the point back by `angle` (y down: screen CCW)
    v = (sin * x + cos * y) / scale
    if shape == 0:
        half = SQUARE_SIDE / 2
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if shape == 1:
        a, b = ELLIPSE_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    # heart: (X^2 + Y^2 - 1)^3 - X^2 Y^3 <= 0, point down on screen
    hx, hy = u / HEART_SIZE * 1.15, -(v / HEART_SIZE * 1.15) + 0.15
    return (hx ** 2 + hy ** 2 - 1) ** 3 - hx ** 2 * hy ** 3 <= 0


def render_patches() -> np.ndarray:
    """The 720 centred sprites, shape (3, 6, 40, PATCH, PATCH), bool.

    The object centre is the patch's centre point (between pixels 15 and 16).
    """
    coords = np.arange(PATCH) + 0.5 - PATCH / 2
    y, x = np.meshgrid(coords, coords, indexing="ij")
    _, _, scales, angles, _, _ = factor_values()
    out = np.zeros((3, 6, 40, PATCH, PATCH), dtype=bool)
    for shape in range(3):
        for i, scale in enumerate(scales):
            for j, angle in enumerate(angles):
                out[shape, i, j] = shape_mask(shape, float(scale), float(angle), x, y)
    return out


def place_all_positions(patch: np.ndarray) -> np.ndarray:
    """All 32 x 32 positions of a patch, shape (32 posX, 32 posY, 64, 64), bool.

    The patch's top-left corner goes to (row posY + offset, column posX + offset).
    """
    offset = int(POSITION_ORIGIN) - PATCH // 2
    pad = FACTOR_SIZES[4] - 1
    canvas = np.zeros((IMG + pad, IMG + pad), dtype=bool)
    top = pad + offset
    canvas[top:top + PATCH, top:top + PATCH] = patch
    windows = np.lib.stride_tricks.sliding_window_view(canvas, (IMG, IMG))  # [a, b] = canvas[a:, b:]
    # the image at (posX=i, posY=j) is the window starting at (pad - j, pad - i)
    return windows[::-1, ::-1].transpose(1, 0, 2, 3)


def generate(progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Render the whole grid, bit-packed: shape (737280, 512) uint8, dSprites' order."""
    patches = render_patches()
    per_base = FACTOR_SIZES[4] * FACTOR_SIZES[5]
    packed = np.empty((N_IMAGES, IMG * IMG // 8), dtype=np.uint8)
    n_bases = 3 * 6 * 40
    for base, patch in enumerate(patches.reshape(n_bases, PATCH, PATCH)):
        images = place_all_positions(patch).reshape(per_base, IMG * IMG)
        packed[base * per_base:(base + 1) * per_base] = np.packbits(images, axis=1)
        if progress is not None and (base + 1) % 40 == 0:
            progress(base + 1, n_bases)
    return packed


def cache_path(data_dir: Path) -> Path:
    return Path(data_dir) / NAME / f"sprites-v{CACHE_VERSION}.npy"


def load(data_dir: Path, progress: Callable[[int, int], None] | None = None,
         log: Callable[[str], None] | None = None) -> ImageData:
    """The full grid, generated on first use and cached under `data_dir`."""
    path = cache_path(data_dir)
    packed = None
    if path.is_file():
        try:
            packed = np.load(path)
        except (OSError, ValueError):
            packed = None  # a damaged cache is regenerated
        if packed is not None and packed.shape != (N_IMAGES, IMG * IMG // 8):
            packed = None
    if packed is None:
        start = time.perf_counter()
        if log:
            log(f"generating the sprites grid ({N_IMAGES:,} images) into {path} ...")
        packed = generate(progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with(path, lambda handle: np.save(handle, packed))
        if log:
            log(f"generated in {time.perf_counter() - start:.1f} s")
    return ImageData(NAME, torch.from_numpy(packed), (1, IMG, IMG), packed=True, factors=sprites_factors())


def render(classes: np.ndarray) -> np.ndarray:
    """Render the images of some factor classes (N, 6) without the cache, (N, 1, 64, 64) bool."""
    patches = render_patches()
    out = np.zeros((len(classes), 1, IMG, IMG), dtype=bool)
    for row, (_, shape, scale, angle, pos_x, pos_y) in enumerate(np.asarray(classes, dtype=np.int64)):
        out[row, 0] = place_all_positions(patches[shape, scale, angle])[pos_x, pos_y]
    return out


__all__ = ["load", "render", "generate", "sprites_factors", "index_to_classes", "classes_to_index",
           "pack_binary"]
