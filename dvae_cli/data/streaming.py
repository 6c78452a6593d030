"""Datasets too large for memory: batches read from a memory-mapped cache by workers.

`StreamedImages` has the interface of `ImageData` (``len``, ``img_size``, ``factors``,
``subset``, ``batch``) but keeps only row numbers; `stream_batches` reads each
batch in DataLoader worker processes (one read per batch, rows sorted for locality),
so the training loop overlaps with disk reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from dvae_cli.data.in_memory import Factors

WORKERS = 2


class StreamedImages:
    """Images of a uint8 (N, C, H, W) ``.npy`` file, read on demand.

    Args:
        name: Dataset name.
        path: The cached array.
        img_size: (C, H, W).
        rows: Which rows of the file this dataset holds (all if None).
        factors: Ground-truth factors of these rows, if known.
    """

    streaming = True

    def __init__(self, name: str, path: Path, img_size: tuple[int, int, int], rows: np.ndarray | None = None,
                 factors: Factors | None = None) -> None:
        self.name, self.path = name, Path(path)
        self.img_size: tuple[int, int, int] = (int(img_size[0]), int(img_size[1]), int(img_size[2]))
        self._array: np.ndarray | None = None
        self.rows = np.arange(len(self._open())) if rows is None else np.asarray(rows, dtype=np.int64)
        self.factors = factors
        self.packed = False

    def _open(self) -> np.ndarray:
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return self._array

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_array"] = None   # each worker maps the file itself
        return state

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        return f"StreamedImages({self.name!r}, n={len(self)}, path={str(self.path)!r})"

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def to(self, device: torch.device | str) -> StreamedImages:
        """Streamed data stays on the host; batches are moved as they are read."""
        return self

    def subset(self, index: np.ndarray | torch.Tensor) -> StreamedImages:
        index_np = np.asarray(index.cpu() if isinstance(index, torch.Tensor) else index, dtype=np.int64)
        factors = self.factors.subset(index_np) if self.factors is not None else None
        return StreamedImages(self.name, self.path, self.img_size, self.rows[index_np], factors)

    def batch(self, index: torch.Tensor) -> torch.Tensor:
        """Float images in [0, 1], shape (B, C, H, W), in the order of `index`."""
        rows = self.rows[index.cpu().numpy()]
        order = np.argsort(rows, kind="stable")
        block = np.asarray(self._open()[rows[order]])
        images = np.empty_like(block)
        images[order] = block
        return torch.from_numpy(images).float().div_(255.0)

    def images(self, start: int = 0, stop: int | None = None) -> torch.Tensor:
        stop = len(self) if stop is None else stop
        return self.batch(torch.arange(start, stop))


class _BatchReader(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Item k is the k-th batch of an epoch (so a worker reads a whole batch at once)."""

    def __init__(self, data: StreamedImages, batches: list[torch.Tensor]) -> None:
        self.data, self.batches = data, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, k: int) -> torch.Tensor:
        return self.data.batch(self.batches[k])


def stream_batches(data: StreamedImages, batches: list[torch.Tensor], pin_memory: bool = False,
                   workers: int = WORKERS) -> Iterator[torch.Tensor]:
    """Yield the float batches `batches` of `data`, read ahead by `workers` processes."""
    loader = torch.utils.data.DataLoader(_BatchReader(data, batches), batch_size=None, shuffle=False,
                                         num_workers=workers, pin_memory=pin_memory,
                                         persistent_workers=False, prefetch_factor=4 if workers else None)
    yield from loader
