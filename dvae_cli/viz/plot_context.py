"""What a plot's drawing function is given: `PlotOptions`, and a `PlotContext` of one run (loaded lazily).

Every drawing function of `dvae_cli.catalogue.plots` (``draw(context, path)``), built-in
or registered, reads the run through the same `PlotContext`: its spec and training
history, its model, its test images (chosen and seeded as ``dvae plot``'s options say),
seeded generators, the grid padding colour and the title. One that finds its data
missing raises `PlotSkipped`, which ``dvae plot NAME all`` turns into a note.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.config import RunSpec
from dvae_cli.errors import ConfigError, DatasetUnavailableError, DvaeError
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.logs import LossHistory, kl_per_latent

if TYPE_CHECKING:
    import torch

    from dvae_cli.engine.models import VAE

Log = Callable[[str], None]


class PlotSkipped(DvaeError):
    """A plot whose data does not exist (``all`` skips it with a note)."""


@dataclass
class PlotOptions:
    """The options of ``dvae plot`` (disentangling-vae's defaults).

    Attributes:
        n_rows, n_cols: Grid size; for traversals, rows = latents and columns = steps.
        max_traversal: >= 0.5: absolute half-width; < 0.5: quantile (`traversal_range`).
        idcs: Dataset indices of the images to show first (the rest are random test images).
        upsample: Integer upsampling factor of every image.
        show_loss: Add its last-epoch KL to each traversal row's label (``z3 KL=1.20``);
            without titles, label the traversal rows at all (the reference's layout).
        posterior: Traverse around the posterior of an image instead of the prior.
        seed: Seeds the images chosen and the samples (default: the run's seed).
        dataset: Images from another dataset with the same image size (default: the run's).
        title: Put a title band (run, loss, dataset) above image grids, label their rows
            (latents, originals, reconstructions) and split their sections; False gives
            the reference's exact layout.
    """

    n_rows: int = 6
    n_cols: int = 7
    max_traversal: float = 2.0
    idcs: Sequence[int] = field(default_factory=tuple)
    upsample: int = 1
    show_loss: bool = False
    posterior: bool = False
    seed: int | None = None
    dataset: str | None = None
    title: bool = True

    def validate(self) -> PlotOptions:
        """Raises ConfigError naming a bad option."""
        for name, value in (("--n-rows", self.n_rows), ("--n-cols", self.n_cols),
                            ("--upsample-factor", self.upsample)):
            if value <= 0:
                raise ConfigError(f"{name} must be a positive integer, got {value}")
        if not self.max_traversal > 0:
            raise ConfigError(f"--max-traversal must be > 0 (>= 0.5: absolute, < 0.5: quantile), "
                              f"got {self.max_traversal}")
        if any(i < 0 for i in self.idcs):
            raise ConfigError(f"--idcs must be non-negative image indices, got {list(self.idcs)}")
        return self


class PlotContext:
    """What the plots of one run share: spec, history, model, images (loaded lazily).

    Attributes:
        folder: The run folder.
        options: ``dvae plot``'s options.
        data_dir: Where the datasets are (None: the default).
        log: Called with one-line messages.
        spec: The run's spec.
        history: Its ``train_losses.log`` (empty if none).
        seed: Seeds the images chosen and the samples (`PlotOptions.seed`, else the run's).
        dataset: The dataset the images come from (`PlotOptions.dataset`, else the run's).
        pad_value: Grid padding (1 = white, for datasets on black; 0 for those on white).
    """

    def __init__(self, folder: RunFolder, options: PlotOptions, data_dir: Path | None, log: Log) -> None:
        self.folder, self.options, self.data_dir, self.log = folder, options, data_dir, log
        self.spec: RunSpec = folder.read_spec()
        self.history: LossHistory = folder.train_losses()
        self.seed = options.seed if options.seed is not None else self.spec.seed
        self.dataset = options.dataset or self.spec.dataset
        self._model: VAE | None = None
        self._images: torch.Tensor | None = None
        self._data_error: DvaeError | None = None
        from dvae_cli.data.catalog import dataset_info

        self.pad_value = 1.0 if dataset_info(self.dataset).background == "black" else 0.0

    @property
    def title(self) -> str:
        """``run · loss · dataset`` (and the dataset the images are borrowed from), for title bands."""
        borrowed = f" (images: {self.dataset})" if self.dataset != self.spec.dataset else ""
        return f"{self.folder.name} · {self.spec.loss} · {self.spec.dataset}{borrowed}"

    def kl(self) -> list[float]:
        """The last logged epoch's KL of each latent (empty if ``train_losses.log`` has none)."""
        last = {term: points[-1][1] for term, points in self.history.items() if points}
        return kl_per_latent(last)

    def latents(self) -> list[int]:
        """The latents shown as traversal rows: the `n_rows` with the largest KL."""
        from dvae_cli.viz.traversals import kl_order

        return kl_order(self.kl(), self.spec.latent_dim)[:self.options.n_rows]

    def model(self) -> VAE:
        """The run's model, loaded once.

        Raises:
            PlotSkipped: if the run has no ``model.pt`` (saying how it ended).
            CorruptFileError: if ``model.pt`` cannot be loaded.
        """
        if self._model is None:
            from dvae_cli.engine.checkpoint import load_model

            if not self.folder.model_path.is_file():
                from dvae_cli.runs.outcome import missing_model_message

                raise PlotSkipped(missing_model_message(self.folder.path, self.folder.name))

            self._model = load_model(self.folder.model_path, self.spec)
        return self._model

    def generator(self, offset: int = 0) -> torch.Generator:
        """A torch generator seeded with `seed` + `offset` (one offset per plot, so plots are independent)."""
        import torch

        return torch.Generator().manual_seed(self.seed + offset)

    def images(self, n: int) -> torch.Tensor:
        """`n` images (n, C, H, W) in [0, 1]: `idcs` first, then seeded random test images of the run.

        Raises:
            PlotSkipped: if the dataset is not here or does not fit the model (the reason).
        """
        if self._data_error is not None:
            raise self._data_error
        if self._images is None or self._images.shape[0] < n:
            try:
                self._images = self._load_images(max(n, len(self.options.idcs)))
            except (DatasetUnavailableError, ConfigError) as exc:
                self._data_error = PlotSkipped(str(exc))
                raise self._data_error from None
        return self._images[:n]

    def _load_images(self, n: int) -> torch.Tensor:
        import torch

        from dvae_cli.data.run_images import run_dataset, split_like_run
        from dvae_cli.runs.folder import default_data_dir

        data = run_dataset(self.spec, self.data_dir or default_data_dir(), self.log, self.dataset)
        idcs = list(self.options.idcs)
        if idcs and max(idcs) >= len(data):
            raise ConfigError(f"--idcs {max(idcs)} is out of range: '{self.dataset}' has {len(data)} images")
        chosen = data.batch(torch.tensor(idcs, dtype=torch.long)) if idcs else None
        rest = n - len(idcs)
        if rest > 0:
            test = split_like_run(data, self.spec)[1]
            rng = np.random.default_rng(self.seed)
            pick = rng.choice(len(test), size=min(rest, len(test)), replace=False)
            extra = test.batch(torch.from_numpy(np.sort(pick)))
            chosen = extra if chosen is None else torch.cat([chosen, extra])
        assert chosen is not None
        return chosen.float().cpu()


