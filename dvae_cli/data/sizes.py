"""Image sizes: which sizes a dataset comes at, and the dataset name for ``--img-size N``.

A dataset comes at its own size (its `DatasetInfo.img_size`) and at the size of every
registered variant named ``<dataset>-<N>`` whose images are NxN: ``celeba-128``,
``chairs-128`` and ``cars3d-128`` are the built-in ones, the sources those three are
rendered or photographed at 128 pixels or more (the others are 64x64 at the source, or
96x96 for smallNORB, and are not upsampled). A folder of the user's own images
(``folder:PATH``) comes at every size the model takes, ``folder-<N>:PATH`` naming it
at NxN (that grammar: `dvae_cli.data.names`). The run's ``specs.json`` records the sized
name, so ``eval`` and ``plot`` load the same images. Standard library only.
"""

from __future__ import annotations

from dvae_cli.data.catalog import DATASETS, dataset_info
from dvae_cli.data.names import MODEL_SIDES, folder_name, sides_text, split_folder
from dvae_cli.errors import ConfigError


def sizes_of(name: str) -> dict[int, str]:
    """{side: dataset name} of every size `name` comes at (its own and its ``-<N>`` variants').

    Raises:
        UnknownNameError: if `name` is not a dataset.
    """
    folder = split_folder(name)
    if folder is not None:
        return {side: folder_name(folder[1], side) for side in MODEL_SIDES}
    base = base_name(name)
    found = {dataset_info(base).img_size[-1]: base}
    for other in DATASETS.names():
        side = _variant_side(base, other)
        if side is not None and DATASETS.get(other).img_size[-1] == side:
            found[side] = other
    return dict(sorted(found.items()))


def base_name(name: str) -> str:
    """The dataset that `name` is a size variant of (``celeba`` for ``celeba-128``), else `name`."""
    head, _, tail = name.rpartition("-")
    return head if tail.isdigit() and head in DATASETS.names() else name


def sized_name(name: str, side: int) -> str:
    """The dataset `name` at `side` x `side` pixels (``--img-size``): itself, a variant or a folder's size.

    Raises:
        UnknownNameError: if `name` is not a dataset.
        ConfigError: if the dataset does not come at that size, naming the sizes it
            comes at and the datasets that come at `side`.
    """
    if side not in MODEL_SIDES:
        raise ConfigError(f"--img-size {side}: the model takes {sides_text(MODEL_SIDES)} images")
    sizes = sizes_of(name)
    if side in sizes:
        return sizes[side]
    offered = [base for base in DATASETS.names() if base_name(base) == base and side in sizes_of(base)]
    only = " only" if len(sizes) == 1 else ""
    raise ConfigError(f"--img-size {side}: dataset '{base_name(name)}' comes at {sides_text(tuple(sizes))}{only} "
                      f"(dvae does not upsample a source); {side}x{side} images come with: "
                      f"{', '.join(offered + ['folder:PATH'])}")


def _variant_side(base: str, name: str) -> int | None:
    head, _, tail = name.rpartition("-")
    return int(tail) if head == base and tail.isdigit() else None
