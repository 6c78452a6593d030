"""Load any registered dataset by name (imports torch and the dataset's loader)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dvae_cli.data.catalog import DatasetLoader, dataset_info
from dvae_cli.data.in_memory import ImageSource
from dvae_cli.errors import ConfigError
from dvae_cli.plugins import resolve


def load_dataset(name: str, data_dir: Path, log: Callable[[str], None] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """All images of dataset `name`, by its `DatasetInfo.loader`.

    Args:
        name: A dataset of `dvae_cli.data.catalog.dataset_names`.
        data_dir: Where datasets are cached and looked for.
        log: Called with one-line progress messages (generation, preprocessing).
        progress: Called with (done, total) during long steps (download, preprocessing).

    Raises:
        UnknownNameError: if `name` is not a dataset.
        ConfigError: if its loader cannot be imported, or returns images of another
            size than its catalogue entry says.
        DatasetUnavailableError: if its files are missing and cannot be made here.
    """
    info = dataset_info(name)
    loader: DatasetLoader = resolve(info.loader)
    data = loader(name, Path(data_dir), log=log, progress=progress)
    if tuple(data.img_size) != tuple(info.img_size):
        raise ConfigError(f"the loader of dataset '{name}' gave {list(data.img_size)} images; its catalogue entry "
                          f"says {list(info.img_size)}")
    return data
