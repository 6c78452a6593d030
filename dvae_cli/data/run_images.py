"""The images of a run: its dataset (or another of the same image size), split as the run split it.

Training, ``dvae eval`` and ``dvae plot`` all see the same test images of a run, because
they all get them here: the split is fixed by the spec's ``test_fraction``,
``subsample`` and ``split_seed``, whatever else differs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.in_memory import ImageSource, train_test_split
from dvae_cli.data.loading import load_dataset
from dvae_cli.errors import ConfigError

if TYPE_CHECKING:
    from dvae_cli.config import RunSpec

Log = Callable[[str], None]


def check_image_size(dataset: str, img_size: Sequence[int], model_size: Sequence[int] | None) -> None:
    """Refuse a dataset whose images are not the size the run's model takes.

    Args:
        dataset: The dataset's name, for the message.
        img_size: (C, H, W) of its images.
        model_size: The spec's ``img_size`` (None: any size, e.g. a spec that records none).

    Raises:
        ConfigError: naming both sizes.
    """
    if model_size is not None and list(img_size) != list(model_size):
        raise ConfigError(f"dataset '{dataset}' has {list(img_size)} images but the run's model takes "
                          f"{list(model_size)}")


def run_dataset(spec: RunSpec, data_dir: Path, log: Log | None = None, dataset: str | None = None,
                progress: Callable[[int, int], None] | None = None) -> ImageSource:
    """Every image of the run's dataset (or of `dataset`), checked to fit the run's model.

    The size is checked against the catalogue before anything is loaded (or
    downloaded), and against the images once loaded.

    Args:
        spec: The run's spec.
        data_dir: Where the datasets are.
        log: Called with one-line progress messages.
        dataset: Another dataset with images of the same size (default: the run's).
        progress: Called with (done, total) during long steps.

    Raises:
        UnknownNameError: if the dataset is not registered.
        ConfigError: if its images have another size than the model takes.
        DatasetUnavailableError: if its files are missing and cannot be made here.
    """
    name = dataset or spec.dataset
    check_image_size(name, dataset_info(name).img_size, spec.img_size)
    data = load_dataset(name, Path(data_dir), log=log, progress=progress)
    check_image_size(name, data.img_size, spec.img_size)
    return data


def split_like_run(data: ImageSource, spec: RunSpec) -> tuple[ImageSource, ImageSource]:
    """(train, test) of `data` as the run split its dataset (`dvae_cli.data.in_memory.train_test_split`)."""
    return train_test_split(data, spec.test_fraction, spec.subsample, spec.split_seed)


def run_images(spec: RunSpec, data_dir: Path, log: Log | None = None, dataset: str | None = None
               ) -> tuple[ImageSource, ImageSource]:
    """The run's (train, test) images: `run_dataset`, split by `split_like_run`.

    Raises:
        See `run_dataset`.
    """
    return split_like_run(run_dataset(spec, data_dir, log, dataset), spec)
