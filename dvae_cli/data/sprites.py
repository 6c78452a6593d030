"""``sprites``: dSprites' factor grid, rendered locally (no download).

Matthey, L., Higgins, I., Hassabis, D., Lerchner, A. "dSprites: Disentanglement
testing Sprites dataset." https://github.com/deepmind/dsprites-dataset (2017).

737,280 binary 64x64 images: colour (1) x shape (square, ellipse, heart: 3) x
scale (6 values in [0.5, 1]) x orientation (40 values in [0, 2 pi]) x posX (32) x
posY (32 values in [0, 1]), in dSprites' order (the last factor varies fastest)
with dSprites' value grids, so metrics and traversals mean the same on both.

The geometry was measured on real dSprites images (the fixture
``btcvae_dsprites/data_samples.png``): object centres move 32/31 of a pixel per
position step, from 16 to 48 pixels, so every position is rasterised on its own
(vectorised with torch over orientation x posX x posY, in patches around the
object). The grid is cached under the data dir, bit-packed (377 MB), and loaded as
one uint8 tensor.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from dvae_cli.data.cache import NPY_ERRORS
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.in_memory import Factors, ImageData, pack_binary
from dvae_cli.runs.atomic import write_with

NAME = "sprites"
IMG = 64
FACTOR_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (1, 3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")
N_IMAGES = int(np.prod(FACTOR_SIZES))
#: Object centre (continuous pixel coordinates) at position 0 and the span of the 32
#: positions: centre = POSITION_ORIGIN + POSITION_SPAN * pos, pos in linspace(0, 1, 32),
#: so one step is 32/31 of a pixel. Measured on real dSprites images (the centroids of
#: the fixture's data_samples.png fit this to 0.05 px on average, integer steps to 0.24).
POSITION_ORIGIN = 16.0
POSITION_SPAN = 32.0
#: Shape geometry at scale 1, in pixels, fitted to the same 100 real images by
#: intersection over union (mean IoU of the best match: squares 0.998, ellipses 0.993,
#: hearts 0.94).
SQUARE_SIDE = 19.2
ELLIPSE_AXES = (12.75, 7.25)   # semi-axes along and across the orientation
#: Heart: two lobes (circles of radius r centred at (+-d, -e)) over a triangle whose
#: tip is t below the centre; y points down.
HEART = {"d": 4.75, "e": 4.25, "r": 5.0, "t": 9.5}
#: Side of the square patch a sprite is rendered into, by scale (covers the largest
#: rotated shape with a pixel to spare).
PATCH = 32


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


def inside(shape: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Whether shape-frame points (u right, v down; pixels at scale 1) are inside the shape."""
    if shape == 0:
        half = SQUARE_SIDE / 2
        return (u.abs() <= half) & (v.abs() <= half)
    if shape == 1:
        a, b = ELLIPSE_AXES
        return (u / a) ** 2 + (v / b) ** 2 <= 1.0
    d, e, r, t = HEART["d"], HEART["e"], HEART["r"], HEART["t"]
    lobes = ((u.abs() - d) ** 2 + (v + e) ** 2) <= r * r
    below = (v >= -e) & (v <= t) & (u.abs() <= (d + r) * (t - v) / (t + e))
    return lobes | below


def centres() -> np.ndarray:
    """Object centre of each of the 32 positions, in continuous pixel coordinates."""
    return POSITION_ORIGIN + POSITION_SPAN * factor_values()[4]


def _patch_coordinates() -> tuple[np.ndarray, torch.Tensor]:
    """Patch corners (32,) and pixel-centre offsets from the object centre (32, PATCH)."""
    centre = centres()
    corner = np.floor(centre).astype(np.int64) - PATCH // 2
    offsets = corner[:, None] + np.arange(PATCH)[None, :] + 0.5 - centre[:, None]
    return corner, torch.from_numpy(offsets).float()


def render_block(shape: int, scale_index: int, angle_indices: np.ndarray) -> np.ndarray:
    """All 1024 positions of some (shape, scale, orientation), shape (A, 32, 32, 64, 64), bool.

    The images are ordered (orientation, posX, posY) like dSprites. Pixels are in the
    shape when their centre is (no anti-aliasing: dSprites is binary).
    """
    corner, offsets = _patch_coordinates()
    scale = float(factor_values()[2][scale_index])
    angles = torch.from_numpy(factor_values()[3][angle_indices]).float()
    cos, sin = torch.cos(angles).view(-1, 1, 1, 1, 1), torch.sin(angles).view(-1, 1, 1, 1, 1)
    x = offsets.view(1, 32, 1, 1, PATCH) / scale          # [angle, posX, posY, row, col]
    y = offsets.view(1, 1, 32, PATCH, 1) / scale
    u = cos * x - sin * y    # rotate points back by the orientation (counter-clockwise on screen)
    v = sin * x + cos * y
    patches = inside(shape, u, v).numpy()                  # (A, 32, 32, PATCH, PATCH)
    out = np.zeros((len(angles), 32, 32, IMG, IMG), dtype=bool)
    for i, left in enumerate(corner):
        for j, top in enumerate(corner):
            out[:, i, j, top:top + PATCH, left:left + PATCH] = patches[:, i, j]
    return out


def generate(progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Render the whole grid, bit-packed: shape (737280, 512) uint8, dSprites' order."""
    packed = np.empty((N_IMAGES, IMG * IMG // 8), dtype=np.uint8)
    per_block = 40 * 1024
    chunks = np.array_split(np.arange(40), 10)  # bounds peak memory (benchmarks/sprites.py)
    row = 0
    for shape in range(3):
        for scale in range(6):
            for angles in chunks:
                block = render_block(shape, scale, angles).reshape(len(angles) * 1024, IMG * IMG)
                packed[row:row + len(block)] = np.packbits(block, axis=1)
                row += len(block)
            if progress is not None:
                progress(row // per_block, 18)
    return packed


def cache_path(data_dir: Path) -> Path:
    return Path(data_dir) / dataset_info(NAME).prepared


#: Seed of the per-image colours of ``sprites-color`` (fixed: an image keeps its colour).
COLOR_SEED = 7


def image_colors(n: int = N_IMAGES) -> torch.Tensor:
    """uint8 (N, 3) RGB colours in [128, 255] (0.5 .. 1 as in disentanglement_lib's ColorDSprites)."""
    rng = np.random.default_rng(COLOR_SEED)
    return torch.from_numpy(rng.integers(128, 256, size=(n, 3), dtype=np.uint8))


def read_packed(path: Path) -> np.ndarray | None:
    """The cached bit-packed grid at `path`; None if it is missing or damaged (it is then regenerated)."""
    try:
        packed = np.load(path, allow_pickle=False)
    except NPY_ERRORS:
        return None
    if isinstance(packed, np.ndarray) and packed.dtype == np.uint8 and packed.shape == (N_IMAGES, IMG * IMG // 8):
        return packed
    if hasattr(packed, "close"):  # an .npz archive
        packed.close()
    return None


def load_packed(data_dir: Path, progress: Callable[[int, int], None] | None = None,
                log: Callable[[str], None] | None = None) -> np.ndarray:
    """The bit-packed grid (737280, 512), generated on first use and cached under `data_dir`."""
    path = cache_path(data_dir)
    packed = read_packed(path)
    if packed is None:
        start = time.perf_counter()
        if log:
            log(f"generating the sprites grid ({N_IMAGES:,} images) into {path} ...")
        packed = generate(progress)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_with(path, lambda handle: np.save(handle, packed))
        if log:
            log(f"generated in {time.perf_counter() - start:.1f} s")
    return packed


def load(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
         progress: Callable[[int, int], None] | None = None) -> ImageData:
    """``sprites`` (1 channel), ``sprites-color`` (a random RGB colour per image) or
    ``sprites-noisy`` (white sprites over uniform noise on 3 channels), as in
    disentanglement_lib's DSprites, ColorDSprites and NoisyDSprites.
    """
    pixels = torch.from_numpy(load_packed(data_dir, progress, log))
    if name == "sprites-color":
        return ImageData(name, pixels, (3, IMG, IMG), packed=True, factors=sprites_factors(),
                         colors=image_colors())
    if name == "sprites-noisy":
        return ImageData(name, pixels, (3, IMG, IMG), packed=True, factors=sprites_factors(), noise=True)
    return ImageData(name, pixels, (1, IMG, IMG), packed=True, factors=sprites_factors())


def render(classes: np.ndarray) -> np.ndarray:
    """Render the images of some factor classes (N, 6) without the cache, (N, 1, 64, 64) bool."""
    classes = np.asarray(classes, dtype=np.int64)
    out = np.zeros((len(classes), 1, IMG, IMG), dtype=bool)
    for row, (_, shape, scale, angle, pos_x, pos_y) in enumerate(classes):
        out[row, 0] = render_block(int(shape), int(scale), np.array([angle]))[0, pos_x, pos_y]
    return out


__all__ = ["load", "render", "generate", "sprites_factors", "index_to_classes", "classes_to_index",
           "pack_binary"]
