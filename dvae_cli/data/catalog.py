"""What every dataset is, without loading it (standard library only), and `register_dataset` for more.

A dataset is one `DatasetInfo` in the `DATASETS` registry: its size, factors,
background and files, and its loader, a function named ``"module:function"`` (or the
function) that `dvae_cli.data.loading.load_dataset` imports only when the images are
needed (it follows the `DatasetLoader` protocol). The built-in loaders live in one
module per dataset and import torch; this table is what the CLI, the experiment
catalogue and the run-folder readers need. A third-party dataset is one more entry,
registered by an entry point of the group ``dvae.datasets`` or by `register_dataset`
(see `dvae_cli.plugins`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from dvae_cli.data.names import split_folder
from dvae_cli.data.user_folder import scan
from dvae_cli.errors import ConfigError
from dvae_cli.plugins import Registry

if TYPE_CHECKING:
    from dvae_cli.data.in_memory import ImageSource

BACKGROUNDS = ("black", "white")


class DatasetLoader(Protocol):
    """Loads every image of a dataset (the `DatasetInfo.loader` of a dataset).

    Args:
        name: The dataset's name (one loader may serve several, e.g. ``sprites-color``).
        data_dir: Where datasets are cached and looked for (its `DatasetInfo.prepared`
            and `DatasetInfo.raw` are relative to it).
        log: Called with one-line messages (generation, download, preprocessing).
        progress: Called with (done, total) during long steps.

    Returns:
        An `dvae_cli.data.in_memory.ImageSource` of images (N, C, H, W) with the
        `DatasetInfo.img_size` of the entry, and ``factors`` (a
        `dvae_cli.data.in_memory.Factors`) when `DatasetInfo.has_factors`.

    Raises:
        DatasetUnavailableError: if its files are missing and cannot be made here.
    """

    def __call__(self, name: str, data_dir: Path, log: Callable[[str], None] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ImageSource: ...


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset.

    Attributes:
        name: The key used on the command line and in ``specs.json``.
        img_size: (channels, height, width) of the images the model sees.
        n_images: Number of images of the full dataset.
        description: One line for tables.
        source: Where the data comes from.
        loader: ``"module:function"`` of its `DatasetLoader` (or the function),
            imported when its images are loaded.
        prepared: The preprocessed cache, relative to the data dir ("" if it has none).
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
    loader: str | Callable[..., ImageSource]
    prepared: str = ""
    raw: tuple[str, ...] = ()
    has_factors: bool = False
    background: str = "black"

    def status(self, data_dir: Path) -> tuple[str, Path]:
        """(state, where): ``prepared``, ``official files``, ``generated on first use`` or ``missing``."""
        data_dir = Path(data_dir)
        if self.prepared and (data_dir / self.prepared).is_file():
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


def _check(info: DatasetInfo) -> None:
    if not info.name or not info.name.isprintable() or any(c in info.name for c in " ,/"):
        raise ConfigError(f"a dataset name must be printable, without spaces, commas or '/': {info.name!r}")
    if len(info.img_size) != 3 or not all(isinstance(v, int) and v > 0 for v in info.img_size):
        raise ConfigError(f"dataset '{info.name}': img_size must be (channels, height, width), "
                          f"got {info.img_size!r}")
    if info.background not in BACKGROUNDS:
        raise ConfigError(f"dataset '{info.name}': background must be one of {', '.join(BACKGROUNDS)}, "
                          f"got {info.background!r}")
    if isinstance(info.loader, str) and ":" not in info.loader:
        raise ConfigError(f"dataset '{info.name}': loader must be 'module:function', got {info.loader!r}")


DATASETS: Registry[DatasetInfo] = Registry("dataset", "dvae.datasets", _check)


def register_dataset(info: DatasetInfo, replace: bool = False) -> DatasetInfo:
    """Make a dataset known to every command (see `dvae_cli.plugins`).

    Raises:
        ConfigError: for a name already registered (without `replace`) or an invalid entry.
    """
    return DATASETS.register(info, replace)


def dataset_names() -> tuple[str, ...]:
    """Every dataset's name, the built-in ones first."""
    return DATASETS.names()


def dataset_info(name: str) -> DatasetInfo:
    """The `DatasetInfo` of `name` (a registered dataset, or ``folder:PATH``: `dvae_cli.data.user_folder`).

    Raises:
        UnknownNameError: if `name` is not a dataset.
        DatasetUnavailableError: for a ``folder:PATH`` that is missing or holds no image.
    """
    if split_folder(name) is not None:
        return folder_info(name)
    return DATASETS.get(name)


def folder_info(name: str) -> DatasetInfo:
    """The `DatasetInfo` of ``folder:PATH`` (its images' count and channels, its cache, its factors).

    Raises:
        DatasetUnavailableError: if the folder is missing or holds no image file.
    """
    found = scan(name)
    return DatasetInfo(found.dataset_name, found.img_size, len(found.images),
                       f"{len(found.images):,} images of {found.root}", str(found.root),
                       "dvae_cli.data.user_folder:load", found.prepared, has_factors=found.factors_file is not None,
                       background="white")


def datasets_with_factors() -> tuple[str, ...]:
    """The datasets whose ground-truth factors are known (the ones disentanglement metrics need)."""
    return tuple(info.name for info in DATASETS.values() if info.has_factors)


_BUILT_IN = (
    DatasetInfo("sprites", (1, 64, 64), 737_280, "dSprites' factor grid rendered locally (embedded, no download)",
                "generated", "dvae_cli.data.sprites:load", _SPRITES_CACHE, has_factors=True),
    DatasetInfo("sprites-color", (3, 64, 64), 737_280, "sprites drawn in a random RGB colour per image",
                "generated", "dvae_cli.data.sprites:load", _SPRITES_CACHE, has_factors=True),
    DatasetInfo("sprites-noisy", (3, 64, 64), 737_280, "white sprites over uniform RGB noise",
                "generated", "dvae_cli.data.sprites:load", _SPRITES_CACHE, has_factors=True),
    DatasetInfo("mnist", (1, 32, 32), 70_000, "MNIST digits, resized to 32x32",
                "https://ossci-datasets.s3.amazonaws.com/mnist/", "dvae_cli.data.mnist:load",
                "mnist/mnist-32-v1.npy", _MNIST_RAW),
    DatasetInfo("fashion", (1, 32, 32), 70_000, "Fashion-MNIST, resized to 32x32",
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", "dvae_cli.data.mnist:load",
                "fashion/fashion-32-v1.npy", _FASHION_RAW),
    DatasetInfo("dsprites", (1, 64, 64), 737_280, "DeepMind's dSprites (official file)",
                "https://github.com/deepmind/dsprites-dataset", "dvae_cli.data.dsprites:load",
                "dsprites/dsprites-packed.npy", ("dsprites/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",),
                has_factors=True),
    DatasetInfo("celeba", (3, 64, 64), 202_599, "CelebA aligned faces, 64x64",
                "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html", "dvae_cli.data.celeba:load",
                "celeba/celeba-64-v1.npy", ("celeba/img_align_celeba", "celeba/img_align_celeba.zip"),
                background="white"),
    DatasetInfo("celeba-128", (3, 128, 128), 202_599, "CelebA aligned faces, 128x128 (the 128x128 model)",
                "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html", "dvae_cli.data.celeba:load",
                "celeba/celeba-128-v1.npy", ("celeba/img_align_celeba", "celeba/img_align_celeba.zip"),
                background="white"),
    DatasetInfo("chairs", (1, 64, 64), 86_366, "3D chairs renderings, 64x64 grayscale",
                "https://www.di.ens.fr/willow/research/seeing3Dchairs/", "dvae_cli.data.chairs:load",
                "chairs/chairs-64-v1.npy", ("chairs/rendered_chairs", "chairs/rendered_chairs.tar"),
                background="white"),
    DatasetInfo("chairs-128", (1, 128, 128), 86_366, "3D chairs renderings, 128x128 grayscale (the 128x128 model)",
                "https://www.di.ens.fr/willow/research/seeing3Dchairs/", "dvae_cli.data.chairs:load",
                "chairs/chairs-128-v1.npy", ("chairs/rendered_chairs", "chairs/rendered_chairs.tar"),
                background="white"),
    DatasetInfo("shapes3d", (3, 64, 64), 480_000, "DeepMind's 3D Shapes: floor, wall, object hue, scale, shape, "
                "orientation", "https://github.com/deepmind/3d-shapes", "dvae_cli.data.shapes3d:load",
                "shapes3d/shapes3d-64-v1.npy", ("shapes3d/3dshapes.h5",), has_factors=True),
    *(DatasetInfo(f"mpi3d-{variant}", (3, 64, 64), 1_036_800, f"MPI3D {variant} robot-arm images, 7 factors "
                  "(streamed if over the memory budget)", "https://github.com/rr-learning/disentanglement_dataset",
                  "dvae_cli.data.mpi3d:load", f"mpi3d/mpi3d_{variant}-64-v1.npy", (f"mpi3d/mpi3d_{variant}.npz",),
                  has_factors=True) for variant in ("toy", "realistic", "real")),
    DatasetInfo("cars3d", (3, 64, 64), 17_568, "Reed et al.'s 183 cars at 4 elevations x 24 azimuths, 64x64",
                "http://www.scottreed.info/", "dvae_cli.data.cars3d:load", "cars3d/cars3d-64-v1.npy",
                ("cars3d/cars", "cars3d/data/cars", "cars3d/nips2015-analogy-data.tar.gz"), has_factors=True,
                background="white"),
    DatasetInfo("cars3d-128", (3, 128, 128), 17_568, "Cars3D at its rendered 128x128 (the 128x128 model)",
                "http://www.scottreed.info/", "dvae_cli.data.cars3d:load", "cars3d/cars3d-128-v1.npy",
                ("cars3d/cars", "cars3d/data/cars", "cars3d/nips2015-analogy-data.tar.gz"), has_factors=True,
                background="white"),
    DatasetInfo("smallnorb", (1, 64, 64), 48_600, "small NORB toys (training + test), 64x64 grayscale",
                "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/", "dvae_cli.data.smallnorb:load",
                "smallnorb/smallnorb-64-v1.npy",
                tuple(f"smallnorb/smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat{gz}" for gz in ("", ".gz")),
                has_factors=True),
)
for _info in _BUILT_IN:
    register_dataset(_info)


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
    from dvae_cli.catalogue.metrics import factor_free_metrics

    info = dataset_info(name)
    if not info.has_factors:
        free = factor_free_metrics()
        hint = f" (or --metric {','.join(free)}, which need{'s' if len(free) == 1 else ''} none)" if free else ""
        raise ConfigError(f"dataset '{name}' has no ground-truth factors, so no disentanglement metrics; "
                          f"use -d with one of: {', '.join(datasets_with_factors())}{hint}")
    if img_size is not None and list(info.img_size) != list(img_size):
        raise ConfigError(f"dataset '{name}' has {list(info.img_size)} images but the run's model takes "
                          f"{list(img_size)}; choose a dataset of that size with -d")
    return info
