"""What the benchmark scripts share: their loss list, parsing of comma-separated choices, the device."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TypeVar

from dvae_cli.catalogue import loss_names

LOSS_NAMES = loss_names()

if TYPE_CHECKING:
    import torch

    from dvae_cli.data.in_memory import ImageSource

__all__ = ["LOSS_NAMES", "choose", "device_or_exit", "seeded_subset"]

Source = TypeVar("Source", bound="ImageSource")


def choose(text: str, choices: tuple[str, ...], what: str) -> list[str]:
    """The names of the comma-separated `text`; exit with a one-line error on an unknown one."""
    chosen = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in choices]
    if unknown or not chosen:
        raise SystemExit(f"error: unknown {what} {', '.join(unknown) or '(none given)'}; "
                         f"choose from: {', '.join(choices)}")
    return chosen


def device_or_exit(name: str) -> torch.device:
    """The torch device `name`; exit 2 with one line when it is CUDA and there is none."""
    import torch

    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"error: --device {name}: no CUDA device is available (torch {torch.__version__}, built for "
              f"CUDA {torch.version.cuda or 'none'}); run this on a machine with a GPU, or --device cpu for a "
              "dry run", file=sys.stderr)
        sys.exit(2)
    return device


def seeded_subset(data: Source, images: int | None, seed: int) -> Source:
    """`images` images of `data` drawn with `seed` (all of them when None or not fewer)."""
    import numpy as np

    if images is None or images >= len(data):
        return data
    return data.subset(np.sort(np.random.default_rng(seed).choice(len(data), images, replace=False)))  # type: ignore[return-value]
