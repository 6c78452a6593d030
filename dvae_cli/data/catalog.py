"""What every dataset is, without loading it (standard library only).

The loaders live in one module per dataset and import torch; this table is what
the CLI, the experiment catalogue and the run-folder readers need.
"""

from __future__ import annotations

from dataclasses import dataclass

from dvae_cli.errors import UnknownNameError


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
        has_factors: Whether ground-truth factors of variation are known.
    """

    name: str
    img_size: tuple[int, int, int]
    n_images: int
    description: str
    source: str
    module: str
    has_factors: bool = False


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("sprites", (1, 64, 64), 737_280,
                    "dSprites' factor grid rendered locally (embedded, no download)",
                    "generated", "sprites", has_factors=True),
        DatasetInfo("mnist", (1, 32, 32), 70_000, "MNIST digits, resized to 32x32",
                    "https://ossci-datasets.s3.amazonaws.com/mnist/", "mnist"),
        DatasetInfo("fashion", (1, 32, 32), 70_000, "Fashion-MNIST, resized to 32x32",
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", "mnist"),
        DatasetInfo("dsprites", (1, 64, 64), 737_280, "DeepMind's dSprites",
                    "https://github.com/deepmind/dsprites-dataset", "dsprites", has_factors=True),
        DatasetInfo("celeba", (3, 64, 64), 202_599, "CelebA aligned faces, 64x64",
                    "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html", "celeba"),
        DatasetInfo("chairs", (1, 64, 64), 86_366, "3D chairs renderings, 64x64 grayscale",
                    "https://www.di.ens.fr/willow/research/seeing3Dchairs/", "chairs"),
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
