"""A trained run from Python: `load_run` and `Run`.

    >>> from dvae import load_run
    >>> run = load_run("quickstart")            # a name under ./results, or a run folder's path
    >>> mean, logvar = run.encode(images)       # (N, C, H, W) in [0, 1] or uint8 -> (N, D) each
    >>> run.decode(mean)                        # (N, C, H, W), pixel means in [0, 1]

Works on dvae's runs and on disentangling-vae's. Reading the spec, the losses and the
metrics needs no torch; the model is loaded (with torch) the first time it is used.
Every method runs the model in eval mode without gradients and returns CPU tensors;
for gradients, use `Run.model` itself.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.config import RunSpec
from dvae_cli.errors import CorruptFileError, InputError, UnknownNameError
from dvae_cli.runs.folder import RunFolder, default_results_dir
from dvae_cli.runs.layout import METRICS_LOG
from dvae_cli.runs.logs import LossHistory
from dvae_cli.runs.summary import read_metrics

if TYPE_CHECKING:
    import torch

    from dvae_cli.engine.export import ExportResult
    from dvae_cli.engine.models import VAE
    from dvae_cli.workflows.evaluate import EvaluateResult

DEVICES = ("cpu", "cuda", "auto")
#: Images (or codes) per forward pass: bounds the memory `encode` and `decode` use.
CHUNK = 256


def load_run(name_or_path: str | Path, results_dir: str | Path | None = None, device: str = "cpu") -> Run:
    """Open a run folder for use from Python.

    Args:
        name_or_path: A run name under `results_dir`, or the path of a run folder.
        results_dir: The results folder (default: ``$DVAE_RESULTS_DIR`` or ``./results``).
        device: Where the model runs: ``cpu``, ``cuda`` or ``auto``.

    Returns:
        The run; its model is loaded when first used.

    Raises:
        RunNotFoundError: naming the closest existing runs.
        CorruptFileError: if ``specs.json`` is missing or invalid.
        UnknownNameError: for another device.
    """
    if device not in DEVICES:
        raise UnknownNameError("device", str(device), DEVICES)
    results = Path(results_dir) if results_dir is not None else default_results_dir()
    folder = RunFolder.find(str(name_or_path), results)
    return Run(folder, folder.read_spec(), device)


class Run:
    """A trained run: its spec, logs, metrics and model (see `load_run`).

    Attributes are read-only; the logs and metrics are read from disk on every access,
    so they follow a run that is still training.
    """

    def __init__(self, folder: RunFolder, spec: RunSpec, device: str = "cpu") -> None:
        self._folder, self._spec, self._device = folder, spec, device
        self._model: VAE | None = None

    def __repr__(self) -> str:
        return (f"Run({str(self._folder.path)!r}, loss={self._spec.loss!r}, dataset={self._spec.dataset!r}, "
                f"latent_dim={self._spec.latent_dim})")

    @property
    def folder(self) -> RunFolder:
        """The run folder (`dvae_cli.runs.folder.RunFolder`)."""
        return self._folder

    @property
    def name(self) -> str:
        return self._folder.name

    @property
    def spec(self) -> RunSpec:
        """Every parameter of the run (its ``specs.json``)."""
        return self._spec

    @property
    def latent_dim(self) -> int:
        """D, the number of latent dimensions."""
        return int(self._spec.latent_dim)

    @property
    def img_size(self) -> tuple[int, int, int]:
        """(C, H, W) of the images the model takes and draws."""
        if not isinstance(self._spec.img_size, (list, tuple)) or len(self._spec.img_size) != 3:
            raise CorruptFileError(f"{self._folder.specs_path} has no valid 'img_size'")
        channels, height, width = self._spec.img_size
        return int(channels), int(height), int(width)

    @property
    def model(self) -> VAE:
        """The VAE (`dvae_cli.engine.models.VAE`) in eval mode, loaded from ``model.pt`` on first use.

        Raises:
            CorruptFileError: if ``model.pt`` is missing, unreadable or does not fit ``specs.json``.
            ConfigError: if the device is ``cuda`` and none is available.
        """
        if self._model is None:
            from dvae_cli.engine.checkpoint import load_model
            from dvae_cli.engine.device import resolve_device

            if not self._folder.model_path.is_file():
                raise CorruptFileError(f"{self._folder.model_path} is missing (is the run still training?)")
            self._model = load_model(self._folder.model_path, self._spec, resolve_device(self._device))
        return self._model

    @property
    def losses(self) -> LossHistory:
        """The training history: term -> [(epoch, value), ...], epochs counted from 1.

        Each value is the term's mean over that epoch (``loss``, ``recon_loss``, ``kl_loss``,
        ``kl_loss_<j>``, ...). ``train_losses.log`` itself counts epochs from 0, as
        disentangling-vae does; here epoch 1 is the first. Empty before the first epoch ends.
        """
        return {term: [(epoch + 1, value) for epoch, value in points]
                for term, points in self._folder.train_losses().items()}

    @property
    def test_losses(self) -> dict[str, float] | None:
        """Every term averaged over the test set (``test_losses.log``), or None if not computed."""
        return self._folder.test_losses()

    @property
    def metrics(self) -> dict[str, float] | None:
        """The disentanglement scores of ``dvae eval --metrics`` (``metrics.log``), or None."""
        return read_metrics(self._folder.path / METRICS_LOG)

    def encode(self, images: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior of each image.

        Args:
            images: A tensor or NumPy array (N, C, H, W): floats in [0, 1] or uint8 in 0..255.

        Returns:
            (mean, logvar), each (N, D), float32 on the CPU.

        Raises:
            InputError: naming the expected shape, dtype or range.
        """
        import torch

        pixels = self._images(images)
        means, logvars = [], []
        with torch.no_grad():
            for chunk in pixels.split(CHUNK):
                mean, logvar = self.model.encoder(chunk.to(self._model_device()))
                means.append(mean.float().cpu())
                logvars.append(logvar.float().cpu())
        return torch.cat(means), torch.cat(logvars)

    def decode(self, z: Any) -> torch.Tensor:
        """The images of latent codes.

        Args:
            z: A tensor or NumPy array of codes (N, D).

        Returns:
            Pixel means in [0, 1], (N, C, H, W), float32 on the CPU.

        Raises:
            InputError: naming the expected shape.
        """
        import torch

        codes = self._codes(z)
        with torch.no_grad():
            return torch.cat([self.model.decode(chunk.to(self._model_device())).float().cpu()
                              for chunk in codes.split(CHUNK)])

    def reconstruct(self, images: Any) -> torch.Tensor:
        """Reconstructions from the posterior means: ``decode(encode(images)[0])``, (N, C, H, W)."""
        return self.decode(self.encode(images)[0])

    def sample(self, n: int, seed: int | None = None) -> torch.Tensor:
        """`n` images decoded from z ~ N(0, I): (n, C, H, W) in [0, 1].

        Args:
            n: How many (>= 1).
            seed: Seed of the codes (None: a fresh random seed).
        """
        count = _integer(n, "n")
        if count < 1:
            raise InputError(f"n must be a positive integer, got {n!r}")
        return self.decode(self._normal((count, self.latent_dim), seed))

    def traverse(self, latents: Sequence[int] | None = None, steps: int = 7, max_traversal: float = 2.0,
                 image: Any = None, seed: int | None = None) -> torch.Tensor:
        """Latent traversals: each latent of `latents` swept in turn, the others fixed.

        Args:
            latents: The latents to sweep (default: all, 0..D-1).
            steps: Images per sweep (>= 1).
            max_traversal: >= 0.5: the sweep covers mean +- `max_traversal` standard
                deviations; < 0.5: the central ``2 * max_traversal`` of the probability mass
                (as ``dvae plot -t``).
            image: None: the sweep follows the prior and the other latents are 0. Or one
                image (C, H, W) or (1, C, H, W): the sweep is centred on its posterior, the
                other latents are a sample of it (as ``dvae plot traversals --posterior``).
            seed: Seed of that posterior sample (None: a fresh random seed).

        Returns:
            Images (len(latents), steps, C, H, W) in [0, 1]: row i sweeps ``latents[i]``
            from low to high.

        Raises:
            InputError: for a latent out of range, a bad number of steps or width, or an image
                of the wrong shape.
        """
        import torch

        from dvae_cli.viz.traversals import traversal_codes

        if latents is not None and not isinstance(latents, Iterable):
            raise InputError(f"latents must be a sequence of latent indices, e.g. [0, 2], got {latents!r}")
        chosen = list(range(self.latent_dim)) if latents is None else [_integer(j, "latents") for j in latents]
        if not chosen:
            raise InputError("latents must name at least one latent")
        for j in chosen:
            if not 0 <= j < self.latent_dim:
                raise InputError(f"latent {j} is out of range: run '{self.name}' has latents "
                                 f"0..{self.latent_dim - 1}")
        n_steps = _integer(steps, "steps")
        if n_steps < 1:
            raise InputError(f"steps must be a positive integer, got {steps!r}")
        if isinstance(max_traversal, bool) or not (isinstance(max_traversal, numbers.Real)
                                                   and math.isfinite(max_traversal) and max_traversal > 0):
            raise InputError(f"max_traversal must be a positive number, got {max_traversal!r}")
        posterior = None
        if image is not None:
            if getattr(image, "ndim", None) == 3:
                image = image[None]
            posterior = self._images(image, what="image")
            if posterior.shape[0] != 1:
                raise InputError(f"image must be one image (C, H, W) or (1, C, H, W), got "
                                 f"{posterior.shape[0]} images")
        generator = self._generator(seed)
        with torch.no_grad():
            codes = traversal_codes(self.model, chosen, n_steps, float(max_traversal), posterior, generator)
        return self.decode(codes).reshape(len(chosen), n_steps, *self.img_size)

    def evaluate(self, metrics: bool | str | Sequence[str] = True, *, fast: bool = False, test: bool = True,
                 data_dir: str | Path | None = None, log: Callable[[str], None] | None = None,
                 **options: Any) -> EvaluateResult:
        """Test losses and scores of this run, written into its folder: ``dvae.evaluate(run, ...)``.

        ``run.evaluate(metrics=["mig", "dci"], fast=True).scores``; the arguments are those of
        `dvae_cli.api.evaluate`. Afterwards `test_losses` and `metrics` read the new files.
        """
        from dvae_cli.workflows.evaluate import EvaluateRequest, LogEvents, evaluate

        request = EvaluateRequest(run=self._folder.path, metrics=metrics, test=test, fast=fast,
                                  data_dir=Path(data_dir) if data_dir is not None else None,
                                  device=options.pop("device", self._device), **options)
        return evaluate(request, LogEvents(log) if log is not None else None)

    def export(self, fmt: str, output: str | Path | None = None, overwrite: bool = False) -> ExportResult:
        """Write the encoder and decoder as ONNX or TorchScript graphs (as ``dvae export``).

        Args:
            fmt: ``onnx`` (needs ``pip install "dvae[onnx]"``) or ``torchscript``.
            output: The folder (default: ``<run folder>/<fmt>``).
            overwrite: Replace the files of an earlier export.

        Returns:
            The files written and the largest difference to the model found when checking them.

        Raises:
            UnknownNameError, MissingExtraError, ConfigError, ExportError: see
            `dvae_cli.engine.export.check_target`.
        """
        from dvae_cli.engine.export import check_target, default_output, export_model

        target = Path(output) if output is not None else default_output(self._folder.path, fmt)
        check_target(fmt, target, overwrite)   # before loading the model
        return export_model(self.model, fmt, target, overwrite, run_name=self.name)

    def _model_device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _generator(self, seed: int | None) -> torch.Generator:
        import torch

        generator = torch.Generator()
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(_integer(seed, "seed"))
        return generator

    def _normal(self, shape: tuple[int, int], seed: int | None) -> torch.Tensor:
        import torch

        return torch.randn(*shape, generator=self._generator(seed))

    def _images(self, images: Any, what: str = "images") -> torch.Tensor:
        """`images` as float32 (N, C, H, W) in [0, 1] on the CPU, or an `InputError`."""
        import torch

        images = _as_tensor(images, what)
        channels, height, width = self.img_size
        expected = f"(N, {channels}, {height}, {width})"
        shape = tuple(images.shape)
        if images.ndim != 4 or shape[1:] != (channels, height, width):
            hint = ""
            if shape == (channels, height, width):
                hint = f"; add a batch dimension: {what}[None]"
            elif images.ndim == 4 and shape[1:] == (height, width, channels):
                hint = f"; channels last? use {what}.permute(0, 3, 1, 2)"
            raise InputError(f"{what} must have shape {expected} for run '{self.name}', got {shape}{hint}")
        if shape[0] == 0:
            raise InputError(f"{what} must hold at least one image, got shape {shape}")
        if images.dtype == torch.uint8:
            return images.float().cpu() / 255
        if not images.is_floating_point():
            raise InputError(f"{what} must be uint8 (0..255) or floating point (0..1), got {images.dtype}")
        pixels = images.detach().float().cpu()
        if not bool(torch.isfinite(pixels).all()):
            raise InputError(f"{what} hold NaN or infinite values")
        low, high = pixels.min().item(), pixels.max().item()
        if low < 0 or high > 1:
            hint = "; divide 0..255 pixels by 255" if high <= 255 and low >= 0 else ""
            raise InputError(f"float {what} must be in [0, 1], got values in [{low:.4g}, {high:.4g}]{hint}")
        return pixels

    def _codes(self, z: Any) -> torch.Tensor:
        """`z` as float32 (N, D) on the CPU, or an `InputError`."""
        import torch

        codes = _as_tensor(z, "z")
        shape = tuple(codes.shape)
        if codes.ndim != 2 or shape[1] != self.latent_dim:
            hint = "; add a batch dimension: z[None]" if shape == (self.latent_dim,) else ""
            raise InputError(f"z must have shape (N, {self.latent_dim}) for run '{self.name}', got {shape}{hint}")
        if shape[0] == 0:
            raise InputError(f"z must hold at least one code, got shape {shape}")
        if not (codes.is_floating_point() or codes.dtype in (torch.int8, torch.int16, torch.int32, torch.int64)):
            raise InputError(f"z must be a number tensor, got {codes.dtype}")
        codes = codes.detach().float().cpu()
        if not bool(torch.isfinite(codes).all()):
            raise InputError("z holds NaN or infinite values")
        return codes


def _integer(value: Any, what: str) -> int:
    """`value` as an int (Python's or NumPy's; not a bool, not a float), or an `InputError`."""
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    raise InputError(f"{what} must be integers, got {value!r}" if what == "latents"
                     else f"{what} must be an integer, got {value!r}")


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    """A tensor or NumPy array as a tensor; anything else is an `InputError`."""
    import numpy as np
    import torch

    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise InputError(f"{what} must be a numeric array, got dtype {value.dtype}")
        return torch.from_numpy(np.ascontiguousarray(value))
    if not isinstance(value, torch.Tensor):
        raise InputError(f"{what} must be a torch tensor or a NumPy array, got {type(value).__name__}")
    return value
