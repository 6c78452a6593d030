"""Datasets held in memory as one uint8 tensor and batched by index.

No per-item Python and no DataLoader workers: a batch is one gather from the
tensor (on the training device) and one conversion to float.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

#: The seed of the train/test split and of ``--subsample``: fixed, so every run on a
#: dataset sees the same test images whatever its own seed.
SPLIT_SEED = 0
_BIT_SHIFTS = torch.arange(7, -1, -1, dtype=torch.uint8)


@dataclass(frozen=True)
class Factors:
    """Ground-truth factors of variation of a dataset's images.

    Attributes:
        names: Factor names, e.g. ("color", "shape", "scale", ...).
        sizes: Number of values of each factor.
        values: The value grid of each factor (array of length ``sizes[k]``).
        classes: Per-image factor classes, shape (N, K), class k indexes ``values[k]``.
    """

    names: tuple[str, ...]
    sizes: tuple[int, ...]
    values: tuple[np.ndarray, ...]
    classes: np.ndarray

    def subset(self, index: np.ndarray) -> Factors:
        """The factors of the images `index`."""
        return Factors(self.names, self.sizes, self.values, self.classes[index])

    def factor_values(self) -> np.ndarray:
        """Per-image factor values, shape (N, K), float64."""
        return np.stack([self.values[k][self.classes[:, k]] for k in range(len(self.names))], axis=1)


class ImageSource(Protocol):
    """What the trainer and the evaluators need of a dataset (in memory or streamed)."""

    name: str
    img_size: tuple[int, int, int]
    factors: Factors | None
    streaming: bool

    def __len__(self) -> int: ...

    def batch(self, index: torch.Tensor) -> torch.Tensor: ...

    def subset(self, index: np.ndarray | torch.Tensor) -> ImageSource: ...

    def to(self, device: torch.device | str) -> ImageSource: ...

    def images(self, start: int = 0, stop: int | None = None) -> torch.Tensor: ...


class ImageData:
    """Images in one uint8 tensor, batched by index.

    Args:
        name: The dataset name.
        pixels: uint8 tensor; shape (N, C, H, W) with values 0..255, or, for binary
            images stored bit-packed, shape (N, ceil(C*H*W / 8)) with ``packed=True``.
        img_size: (C, H, W) of the images a batch holds.
        packed: Whether `pixels` holds packed bits (``numpy.packbits`` order).
        factors: Ground-truth factors, if known.
        colors: Optional uint8 (N, 3): each binary image is drawn in this RGB colour
            (value / 255), giving 3 channels.
        noise: Draw each binary image over uniform noise in [0, 1) on 3 channels
            (fresh noise for every batch, from torch's random generator).
    """

    streaming = False

    def __init__(self, name: str, pixels: torch.Tensor, img_size: tuple[int, int, int], packed: bool = False,
                 factors: Factors | None = None, colors: torch.Tensor | None = None, noise: bool = False) -> None:
        if pixels.dtype != torch.uint8:
            raise TypeError(f"pixels must be uint8, got {pixels.dtype}")
        self.name = name
        self.pixels = pixels
        self.img_size: tuple[int, int, int] = (int(img_size[0]), int(img_size[1]), int(img_size[2]))
        self.packed = packed
        self.factors = factors
        self.colors = colors
        self.noise = noise
        self._shifts = _BIT_SHIFTS
        if factors is not None and len(factors.classes) != len(pixels):
            raise ValueError("one row of factor classes per image is needed")
        if colors is not None and colors.shape != (len(pixels), 3):
            raise ValueError("colors must have shape (N, 3)")

    def __len__(self) -> int:
        return self.pixels.shape[0]

    def __repr__(self) -> str:
        return f"ImageData({self.name!r}, n={len(self)}, img_size={self.img_size}, packed={self.packed})"

    @property
    def device(self) -> torch.device:
        return self.pixels.device

    @property
    def stored_channels(self) -> int:
        """Channels held in `pixels` (1 for binary images drawn in colour or over noise)."""
        return 1 if (self.colors is not None or self.noise) else self.img_size[0]

    def to(self, device: torch.device | str) -> ImageData:
        """The same images on `device`."""
        colors = self.colors.to(device) if self.colors is not None else None
        return ImageData(self.name, self.pixels.to(device), self.img_size, self.packed, self.factors, colors,
                         self.noise)

    def subset(self, index: np.ndarray | torch.Tensor) -> ImageData:
        """The images `index` (a copy)."""
        index_np = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index, dtype=np.int64)
        index_t = torch.from_numpy(index_np).to(self.pixels.device)
        factors = self.factors.subset(index_np) if self.factors is not None else None
        colors = self.colors[index_t] if self.colors is not None else None
        return ImageData(self.name, self.pixels[index_t], self.img_size, self.packed, factors, colors, self.noise)

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        """Float images in [0, 1] of shape (B, C, H, W) on the data's device."""
        index = index.to(self.pixels.device)
        rows = self.pixels[index]
        _, height, width = self.img_size
        shape = (rows.shape[0], self.stored_channels, height, width)
        if self.packed:
            count = int(np.prod(shape[1:]))
            if self._shifts.device != rows.device:
                self._shifts = _BIT_SHIFTS.to(rows.device)
            bits = (rows.unsqueeze(-1) >> self._shifts) & 1
            x = bits.reshape(rows.shape[0], -1)[:, :count].reshape(shape).float()
        else:
            x = rows.float().div_(255.0)
        if self.colors is not None:
            x = x * self.colors[index].float().div_(255.0).view(-1, 3, 1, 1)
        if self.noise:
            x = torch.clamp(x.expand(-1, 3, -1, -1) + torch.rand(rows.shape[0], 3, height, width,
                                                                device=x.device), max=1.0)
        return x

    def images(self, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Float images of a contiguous range, as `batch`."""
        stop = len(self) if stop is None else stop
        return self.batch(torch.arange(start, stop))


def pack_binary(images: np.ndarray) -> np.ndarray:
    """Bit-pack binary images (N, ...) into (N, ceil(prod(...) / 8)) uint8."""
    return np.packbits(images.reshape(images.shape[0], -1).astype(bool), axis=1)


def split_indices(n: int, test_fraction: float, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """A seeded train/test split of range(n).

    Returns:
        (train, test) index arrays, each sorted; ``len(test) = round(n * test_fraction)``
        (at least 1 when n > 1 and the fraction is not 0; none with a fraction of 0).
    """
    order = np.random.default_rng(seed).permutation(n)
    n_test = min(max(int(round(n * test_fraction)), 1 if n > 1 else 0), n - 1) if n > 1 else 0
    if test_fraction == 0:
        n_test = 0
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def subsample_indices(index: np.ndarray, size: int | None, seed: int = SPLIT_SEED) -> np.ndarray:
    """A seeded random subset of `index` of `size` elements (all of it if None or larger)."""
    if size is None or size >= len(index):
        return index
    chosen = np.random.default_rng(seed + 1).choice(len(index), size=size, replace=False)
    return index[np.sort(chosen)]


def train_test_split(data: ImageSource, test_fraction: float, subsample: int | None = None,
                     seed: int = SPLIT_SEED) -> tuple[ImageSource, ImageSource]:
    """Split `data` into training and test sets, optionally subsampled.

    The split of the full dataset is fixed by `seed`. With `subsample`, the
    training set is a random `subsample` images of the training split and the test
    set keeps the same train:test proportion (drawn from the test split).
    """
    train, test = split_indices(len(data), test_fraction, seed)
    if subsample is not None and subsample < len(train):
        n_test = max(1, int(round(subsample * test_fraction / (1 - test_fraction)))) if test_fraction else 0
        train = subsample_indices(train, subsample, seed)
        test = subsample_indices(test, n_test, seed)
    return data.subset(train), data.subset(test)


class EpochBatches:
    """Index batches of a seeded permutation of the training set, one permutation per epoch.

    The permutation of epoch e depends only on (seed, e), so a run can resume at
    any epoch. The last incomplete batch is dropped (the losses that compare
    samples within a batch need full batches). With several processes, each step
    takes ``batch_size * world_size`` consecutive indices of the permutation and
    rank r gets its r-th slice: the shards are disjoint and together they are what
    one process would see with the global batch.

    Args:
        n: Number of training images.
        batch_size: Images per batch (per rank).
        seed: The run's seed.
        rank: This process's rank.
        world_size: Number of processes.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if batch_size * world_size > n:
            from dvae_cli.errors import ConfigError

            raise ConfigError(f"--batch-size {batch_size} x {world_size} processes is larger than the training "
                              f"set ({n} images); lower it or raise --subsample")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return self.n // (self.batch_size * self.world_size)

    def epoch(self, epoch: int, device: torch.device | str | None = None) -> Iterator[torch.Tensor]:
        """Yield this rank's index batches of `epoch` (0-based), as views of one tensor on `device`.

        The permutation is drawn on the CPU (the same on every device) and moved once
        per epoch, so a step copies nothing from the host.
        """
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.n, generator=generator)
        if device is not None:
            order = order.to(device)
        step = self.batch_size * self.world_size
        for start in range(0, len(self) * step, step):
            first = start + self.rank * self.batch_size
            yield order[first:first + self.batch_size]
