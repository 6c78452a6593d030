"""What every dataset is, without loading it (standard library only).

The loaders live in one module per dataset and import torch; this table is what
the CLI, the experiment catalogue and the run-folder readers need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dvae_cli.errors import ConfigError, UnknownNameError


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset.

    Attributes:
        name: The key used on the command line and in ``specs.json``.
        img_size: (channels, height, width) of the images the model sees.
        n_images: Number of images of the full dataset.
        description: One line for tables.
        source: Where the data comes from.
        module: The loader module under `dvae_cli.data` (imported lazily).
        prepared: The preprocessed cache, relative to the data dir.
        raw: The official files or folders, relative to the data dir ("" if generated).
        has_factors: Whether ground-truth factors of variation are known.
        background: ``black`` or ``white``: the images' background; figures pad
            their grids with the other colour (as disentangling-vae does).
    """

    name: str
    img_size: tuple[int, int, int]
    n_images: int
    description: str
    source: str
    module: str
    prepared: str
    raw: tuple[str, ...] = ()
    has_factors: bool = False
    background: str = "black"

    def status(self, data_dir: Path) -> tuple[str, Path]:
        """(state, where): ``prepared``, ``official files``, ``generated on first use`` or ``missing``."""
        data_dir = Path(data_dir)
        if (data_dir / self.prepared).is_file():
            return "prepared", data_dir / self.prepared
        if not self.raw:
            return "generated on first use", data_dir / self.prepared
        for raw in self.raw:
            if (data_dir / raw).exists():
                return "official files", data_dir / raw
        return "missing", data_dir / self.raw[0]


_SPRITES_CACHE = "sprites/sprites-v2.npy"
_MNIST_RAW = tuple(f"MNIST/raw/{f}" for f in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"))
_FASHION_RAW = tuple(f"FashionMNIST/raw/{f}" for f in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte"))

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("sprites", (1, 64, 64), 737_280,
                    "dSprites' factor grid rendered locally (embedded, no download)",
                    "generated", "sprites", _SPRITES_CACHE, has_factors=True),
        DatasetInfo("sprites-color", (3, 64, 64), 737_280, "sprites drawn in a random RGB colour per image",
                    "generated", "sprites", _SPRITES_CACHE, has_factors=True),
        DatasetInfo("sprites-noisy", (3, 64, 64), 737_280, "white sprites over uniform RGB noise",
                    "generated", "sprites", _SPRITES_CACHE, has_factors=True),
        DatasetInfo("mnist", (1, 32, 32), 70_000, "MNIST digits, resized to 32x32",
                    "https://ossci-datasets.s3.amazonaws.com/mnist/", "mnist", "mnist/mnist-32-v1.npy",
                    _MNIST_RAW),
        DatasetInfo("fashion", (1, 32, 32), 70_000, "Fashion-MNIST, resized to 32x32",
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", "mnist",
                    "fashion/fashion-32-v1.npy", _FASHION_RAW),
        DatasetInfo("dsprites", (1, 64, 64), 737_280, "DeepMind's dSprites (official file)",
                    "https://github.com/deepmind/dsprites-dataset", "dsprites", "dsprites/dsprites-packed.npy",
                    ("dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",), has_factors=True),
        DatasetInfo("celeba", (3, 64, 64), 202_599, "CelebA aligned faces, 64x64",
                    "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html", "celeba", "celeba/celeba-64-v1.npy",
                    ("celeba/img_align_celeba", "celeba/img_align_celeba.zip"), background="white"),
        DatasetInfo("chairs", (1, 64, 64), 86_366, "3D chairs renderings, 64x64 grayscale",
                    "https://www.di.ens.fr/willow/research/seeing3Dchairs/", "chairs", "chairs/chairs-64-v1.npy",
                    ("chairs/rendered_chairs", "chairs/rendered_chairs.tar"), background="white"),
    )
}

DATASET_NAMES: tuple[str, ...] = tuple(DATASETS)


def dataset_info(name: str) -> DatasetInfo:
    """The `DatasetInfo` of `name`.

    Raises:
        UnknownNameError: if `name` is not a dataset.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownNameError("dataset", name, DATASET_NAMES) from None


def datasets_with_factors() -> tuple[str, ...]:
    """The datasets whose ground-truth factors are known (the ones disentanglement metrics need)."""
    return tuple(name for name, info in DATASETS.items() if info.has_factors)


def metrics_dataset(name: str, img_size: Sequence[int] | None = None) -> DatasetInfo:
    """The `DatasetInfo` of `name`, checked to suit disentanglement metrics (before anything is loaded).

    Args:
        name: The dataset to score on.
        img_size: The (channels, height, width) the run's model takes, if known.

    Raises:
        UnknownNameError: if `name` is not a dataset.
        ConfigError: if it has no ground-truth factors (naming those that have), or
            images of another size than `img_size`.
    """
    info = dataset_info(name)
    if not info.has_factors:
        raise ConfigError(f"dataset '{name}' has no ground-truth factors, so no disentanglement metrics; "
                          f"use -d with one of: {', '.join(datasets_with_factors())}")
    if img_size is not None and list(info.img_size) != list(img_size):
        raise ConfigError(f"dataset '{name}' has {list(info.img_size)} images but the run's model takes "
                          f"{list(img_size)}; choose a dataset of that size with -d")
    return info
