"""What an evaluation of a run reads, read once: its spec, its model and its images.

``dvae eval`` computes a run's test losses (`dvae_cli.engine.evaluate.evaluate_test_set`)
and then its scores (`dvae_cli.engine.disentanglement.score_run`) on one dataset. Both
take one `EvaluationContext`, so ``specs.json`` is read once, the run folder is checked
writable once, and ``model.pt`` and the dataset are each loaded once, when first needed
(as `dvae_cli.viz.plot_context.PlotContext` does for the plots of a run).

Importing this module imports no torch; loading the model or the images does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from dvae_cli.runs.folder import RunFolder, check_writable
from dvae_cli.spec import RunSpec

if TYPE_CHECKING:
    import torch

    from dvae_cli.data.in_memory import ImageSource
    from dvae_cli.engine.models import VAE

Log = Callable[[str], None]


class EvaluationContext:
    """One run, one dataset, one device: the spec read, the model and images loaded lazily, once.

    Attributes:
        folder: The run folder (dvae's or disentangling-vae's).
        data_dir: Where the datasets are.
        spec: The run's spec.
        dataset: The dataset evaluated on (the one asked for, else the run's).
        writes: Whether the evaluation writes into the run folder (checked writable then).
        log: Called with one-line progress messages (dataset generation, ...).
    """

    def __init__(self, folder: RunFolder, data_dir: Path, dataset: str | None = None, device: str = "auto",
                 write: bool = True, validate: bool = True, log: Log | None = None) -> None:
        """Read the spec and check that the run folder can be written; load nothing yet.

        Args:
            folder: The run.
            data_dir: Where the datasets are.
            dataset: Evaluate on another dataset with images of the model's size (default: the run's).
            device: ``auto``, ``cpu`` or ``cuda`` (resolved when the model is first needed).
            write: The evaluation writes into the run folder: check now that it can.
            validate: Check every value of the spec (`RunSpec.validate`), as rebuilding the loss needs.
            log: Called with one-line progress messages.

        Raises:
            CorruptFileError: if ``specs.json`` is missing, unreadable or (with `validate`) invalid.
            ConfigError: if `write` and the run folder cannot be written.
        """
        self.folder, self.data_dir, self.log = folder, Path(data_dir), log
        self.spec: RunSpec = folder.read_spec(validate=validate)
        self.writes = write
        if write:
            check_writable(folder.path, "run folder")
        self.dataset: str = dataset or self.spec.dataset
        self._device_name = device
        self._device: torch.device | None = None
        self._model: VAE | None = None
        self._images: ImageSource | None = None

    @property
    def device(self) -> torch.device:
        """The torch device, resolved once.

        Raises:
            ConfigError: for ``cuda`` without a CUDA device, or an unknown name.
        """
        if self._device is None:
            from dvae_cli.engine.device import resolve_device

            self._device = resolve_device(self._device_name)
        return self._device

    def model(self) -> VAE:
        """The run's model on `device`, loaded from ``model.pt`` the first time.

        Raises:
            CorruptFileError: if ``model.pt`` is missing, unreadable or does not match the spec.
        """
        if self._model is None:
            from dvae_cli.engine.checkpoint import load_model

            device = self.device
            self._model = load_model(self.folder.model_path, self.spec, device)
        return self._model

    def images(self) -> ImageSource:
        """Every image of `dataset` (`dvae_cli.data.run_images.run_dataset`), loaded the first time.

        Raises:
            UnknownNameError, ConfigError, DatasetUnavailableError: see `run_dataset`.
        """
        if self._images is None:
            from dvae_cli.data.run_images import run_dataset

            self._images = run_dataset(self.spec, self.data_dir, self.log, self.dataset)
        return self._images

    def split(self) -> tuple[ImageSource, ImageSource]:
        """`images` split into (train, test) as the run split its own dataset."""
        from dvae_cli.data.run_images import split_like_run

        return split_like_run(self.images(), self.spec)


__all__ = ["EvaluationContext"]
