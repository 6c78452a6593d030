"""Load any dataset of the catalogue by name (imports torch and the dataset's module)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.errors import DatasetUnavailableError


def load_dataset(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """All images of dataset `name` in memory.

    Args:
        name: A dataset of `dvae_cli.data.catalog.DATASETS`.
        data_dir: Where datasets are cached and looked for.
        log: Called with one-line progress messages (generation, preprocessing).
        progress: Called with (done, total) during long steps (download, preprocessing).

    Raises:
        UnknownNameError: if `name` is not a dataset.
        DatasetUnavailableError: if its files are missing and cannot be made here.
    """
    info = dataset_info(name)
    try:
        module = importlib.import_module(f"dvae_cli.data.{info.module}")
    except ModuleNotFoundError:
        raise DatasetUnavailableError(f"dataset '{name}' has no loader in this version of dvae; "
                                      "available: sprites") from None
    data: ImageSource = module.load(name, Path(data_dir), log=log, progress=progress)
    return data
