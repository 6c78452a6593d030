"""Encoders dvae did not train: ONNX and TorchScript files, ``module:callable``, or codes in an ``.npz``.

``dvae score ENCODER`` takes any of:

- an ONNX file (``.onnx``, run by onnxruntime) or a TorchScript file (``.pt``, ``.pth``,
  ``.ts``; ``torch.jit.load``), or a folder ``dvae export`` wrote (its ``export.json``
  names the encoder file): images in, codes out;
- ``package.module:function``: a Python callable, imported from the current folder or
  the installed packages, called with a numpy float32 array of images;
- an ``.npz`` of codes already computed: ``codes`` (or ``mean``) (N, D), optionally
  ``logvar`` (N, D) and ``indices`` (N,), the dataset images the rows encode (default:
  row i encodes image i of the dataset, or of the images scored: `dvae_cli.engine.npz_codes`).

Every encoder is given images as dvae's datasets hold them: (B, C, H, W) float32 pixels
in [0, 1] (what ``dvae export``'s ``export.json`` states), and returns either codes
(B, D) or a pair (mean (B, D), logvar (B, D)): the posterior's parameters.

`find_encoder` checks the reference without torch (the file, its format, what
``export.json`` or the ``.npz`` says); `load_encoder` loads it; `probe` runs it on two
images before the dataset is encoded, so a wrong output is refused first.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dvae_cli.engine.npz_codes import check_code_rows, read_npz
from dvae_cli.errors import ConfigError, CorruptFileError, MissingExtraError
from dvae_cli.plugins import resolve
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import EXPORT_DESCRIPTION

if TYPE_CHECKING:
    import torch

    from dvae_cli.data.in_memory import ImageSource

#: The formats of `EncoderSource.format`.
FORMATS = ("onnx", "torchscript", "callable", "npz")
SUFFIXES = {".onnx": "onnx", ".pt": "torchscript", ".pth": "torchscript", ".ts": "torchscript",
            ".torchscript": "torchscript", ".npz": "npz"}
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
ONNX_EXTRA = 'pip install "dvae[onnx]"'
#: Images `probe` runs an encoder on.
PROBE_IMAGES = 2

Outputs = tuple[np.ndarray, "np.ndarray | None"]


@dataclass(frozen=True)
class EncoderSource:
    """An encoder, found and described (nothing loaded yet).

    Attributes:
        reference: What was given (a path, or ``module:callable``).
        format: One of `FORMATS`.
        path: The file (None for a callable).
        export: The ``export.json`` of a ``dvae export`` beside the file (None if there is none).
        img_size: (C, H, W) of the images it takes, where known (``export.json``).
        latent_dim: D, where known (``export.json``, the ``.npz``).
    """

    reference: str
    format: str
    path: Path | None = None
    export: dict[str, Any] | None = None
    img_size: tuple[int, int, int] | None = None
    latent_dim: int | None = None

    @property
    def name(self) -> str:
        """A short name for a folder: ``<run>-<format>`` for a dvae export, the file's stem, the callable's."""
        if self.export and isinstance(self.export.get("run"), str):
            name = f"{self.export['run']}-{self.format}"
        elif self.path is not None:
            name = self.path.stem
        else:
            module, _, attribute = self.reference.partition(":")
            name = f"{module.rsplit('.', 1)[-1]}.{attribute}"
        return re.sub(r"[^A-Za-z0-9._+=-]", "-", name).lstrip(".-") or "encoder"

    def describe(self) -> str:
        """The encoder as ``scored.json`` records it: the absolute path, or ``module:callable``."""
        return str(self.path.resolve()) if self.path is not None else self.reference


def find_encoder(reference: str) -> EncoderSource:
    """Identify the encoder `reference` names, checking what can be checked without loading it.

    Raises:
        ConfigError: for a missing file, a file of unknown format, a folder that holds no
            ``dvae export``, an ``.npz`` without codes.
        CorruptFileError: for an unreadable ``export.json`` or ``.npz``.
    """
    path = Path(reference)
    if not path.exists():
        if _CALLABLE.match(reference):
            return EncoderSource(reference, "callable")
        raise ConfigError(f"encoder '{reference}': no such file (give an .onnx, a TorchScript .pt, an .npz of "
                          "codes, a dvae export folder, or module:callable)")
    if path.is_dir():
        return _export_folder(path)
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise ConfigError(f"encoder '{reference}': unknown format '{path.suffix or path.name}'; give an .onnx, a "
                          f"TorchScript file ({', '.join(s for s, f in SUFFIXES.items() if f == 'torchscript')}), "
                          "an .npz of codes, a dvae export folder, or module:callable")
    if fmt == "npz":
        codes, _, _ = read_npz(path)
        return EncoderSource(reference, fmt, path, latent_dim=int(codes.shape[1]))
    export = _read_export(path.parent / EXPORT_DESCRIPTION, path.name)
    img_size = tuple(int(v) for v in export["img_size"]) if export and "img_size" in export else None
    dim = int(export["latent_dim"]) if export and "latent_dim" in export else None
    return EncoderSource(reference, fmt, path, export, img_size, dim)  # type: ignore[arg-type]


def _export_folder(path: Path) -> EncoderSource:
    """The encoder of a folder ``dvae export`` wrote."""
    description = path / EXPORT_DESCRIPTION
    if not description.is_file():
        raise ConfigError(f"encoder '{path}' is a folder without {EXPORT_DESCRIPTION}; give the encoder file "
                          "(.onnx, .pt, .npz) or a folder dvae export wrote")
    export = _read_export(description, None)
    encoder = export.get("encoder", {}).get("file") if export else None
    if not isinstance(encoder, str) or not (path / encoder).is_file():
        raise ConfigError(f"{description} names no encoder file of {path}")
    return find_encoder(str(path / encoder))


def _read_export(description: Path, file_name: str | None) -> dict[str, Any] | None:
    """``export.json`` if it describes `file_name` (any encoder if None), else None."""
    if not description.is_file():
        return None
    content = read_json(description)
    if not isinstance(content, dict):
        raise CorruptFileError(f"{description} is not a JSON object")
    encoder = content.get("encoder")
    if file_name is not None and not (isinstance(encoder, dict) and encoder.get("file") == file_name):
        return None
    return content


class Encoder:
    """A loaded encoder: `__call__` maps images (B, C, H, W) float32 in [0, 1] to (codes (B, D), logvar or None).

    Args:
        source: What was found (`find_encoder`).
        run: The loaded function of a batch of images (a torch tensor) to its raw output.
    """

    def __init__(self, source: EncoderSource, run: Callable[[torch.Tensor], Any],
                 img_size: tuple[int, int, int] | None = None) -> None:
        self.source, self._run = source, run
        #: (C, H, W) of the images it takes, where known (``export.json``, an ONNX graph's fixed input shape).
        self.img_size = source.img_size or img_size

    def __call__(self, images: torch.Tensor) -> Outputs:
        """(codes, logvar or None) of a batch, as float32 numpy arrays.

        Raises:
            ConfigError: if the encoder fails, or gives anything but codes (B, D) or a pair
                (mean, logvar) of that shape.
        """
        batch = len(images)
        try:
            raw = self._run(images)
        except Exception as exc:  # noqa: BLE001 - the user's encoder: any failure is theirs, said in one line
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ConfigError(f"encoder '{self.source.reference}' failed on images of shape {tuple(images.shape)} "
                              f"(float32 in [0, 1]): {type(exc).__name__}: {message}") from None
        parts = list(raw) if isinstance(raw, (tuple, list)) else [raw]
        if len(parts) not in (1, 2):
            raise ConfigError(f"encoder '{self.source.reference}' returned {len(parts)} outputs; expected codes "
                              "(B, D), or (mean, logvar)")
        arrays = [_as_numpy(part) for part in parts]
        for name, array in zip(("codes" if len(arrays) == 1 else "mean", "logvar"), arrays):
            if array.ndim != 2 or array.shape[0] != batch or array.shape[1] < 1:
                raise ConfigError(f"encoder '{self.source.reference}' returned {name} of shape {array.shape} for "
                                  f"{batch} images; expected ({batch}, D)")
        if len(arrays) == 2 and arrays[0].shape != arrays[1].shape:
            raise ConfigError(f"encoder '{self.source.reference}' returned mean {arrays[0].shape} and logvar "
                              f"{arrays[1].shape}; expected the same shape")
        return arrays[0], (arrays[1] if len(arrays) == 2 else None)


def _as_numpy(value: Any) -> np.ndarray:
    """A float32 numpy array of a torch tensor, a numpy array or anything numpy converts."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"an encoder output is not an array: {exc}") from None
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ConfigError(f"an encoder output has dtype {array.dtype}; expected real numbers")
    return array.astype(np.float32, copy=False)


def load_encoder(source: EncoderSource, device: str = "cpu") -> Encoder:
    """Load the encoder of `source` (not an ``.npz``: its codes are read by `read_npz`).

    Args:
        device: ``cpu`` or ``cuda`` (a TorchScript file runs there; an ONNX graph uses
            onnxruntime's CUDA provider if it has one).

    Raises:
        MissingExtraError: for ONNX without onnxruntime.
        ConfigError: for a file its runtime cannot load (a ``model.pt`` of weights is not
            TorchScript), a graph with more than one input, a reference that is not
            callable or cannot be imported.
    """
    if source.format == "onnx":
        run, img_size = _onnx(source, device)
        return Encoder(source, run, img_size)
    if source.format == "torchscript":
        return Encoder(source, _torchscript(source, device))
    if source.format == "callable":
        return Encoder(source, _callable(source))
    raise ValueError(f"an encoder of format {source.format} is not loaded")


def _onnx(source: EncoderSource, device: str) -> tuple[Callable[[torch.Tensor], Any], tuple[int, int, int] | None]:
    try:
        import onnxruntime
    except ImportError:
        raise MissingExtraError(f"scoring an ONNX encoder needs onnxruntime, which is not installed: "
                                f"{ONNX_EXTRA}") from None
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda") and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = onnxruntime.InferenceSession(str(source.path), providers=providers)
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception classes
        raise ConfigError(f"onnxruntime cannot load {source.path}: {str(exc).strip().splitlines()[0]}") from None
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ConfigError(f"{source.path} takes {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); an "
                          "encoder takes one batch of images")
    name = inputs[0].name
    dtype = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}.get(
        inputs[0].type)
    if dtype is None:
        raise ConfigError(f"{source.path} takes {inputs[0].type}; an encoder takes float pixels in [0, 1]")
    shape = inputs[0].shape
    fixed = len(shape) == 4 and all(isinstance(v, int) and v > 0 for v in shape[1:])
    img_size = (int(shape[1]), int(shape[2]), int(shape[3])) if fixed else None
    return (lambda images: session.run(None, {name: images.cpu().numpy().astype(dtype)})), img_size


def _torchscript(source: EncoderSource, device: str) -> Callable[[torch.Tensor], Any]:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)   # PyTorch deprecates TorchScript but ships it
            module = torch.jit.load(str(source.path), map_location=device)
    except Exception as exc:  # noqa: BLE001 - torch.jit.load raises RuntimeError and others
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{source.path} is not a TorchScript file ({first}); a checkpoint of weights needs its "
                          "model's code: score it through module:callable") from None
    module.eval()

    def run(images: torch.Tensor) -> Any:
        with torch.no_grad():
            return module(images.to(device))

    return run


def _callable(source: EncoderSource) -> Callable[[torch.Tensor], Any]:
    with _current_folder_importable():
        function = resolve(source.reference)
    if not callable(function):
        raise ConfigError(f"'{source.reference}' is a {type(function).__name__}, not a callable")
    return lambda images: function(images.cpu().numpy())


@contextlib.contextmanager
def _current_folder_importable() -> Iterator[None]:
    """Modules of the current folder import (as ``python -m`` allows, and the ``dvae`` script does not)."""
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(here)


def probe(encoder: Encoder, data: ImageSource) -> tuple[int, bool]:
    """Run `encoder` on the first `PROBE_IMAGES` images of `data`: (D, whether it gives log-variances).

    Raises:
        ConfigError: see `Encoder.__call__`; also a latent dimension other than ``export.json``'s.
    """
    import torch

    codes, logvar = encoder(data.batch(torch.arange(min(PROBE_IMAGES, len(data)))))
    dim = codes.shape[1]
    expected = encoder.source.latent_dim
    if expected is not None and dim != expected:
        raise ConfigError(f"encoder '{encoder.source.reference}' returned {dim} latents; its {EXPORT_DESCRIPTION} "
                          f"says {expected}")
    return dim, logvar is not None


def encode_images(encoder: Encoder, data: ImageSource, batch_size: int = 256,
                  progress: Callable[[int, int], None] | None = None) -> Outputs:
    """(codes (N, D), logvar (N, D) or None) of every image of `data`, float32, in batches.

    Raises:
        ConfigError: see `Encoder.__call__`; also a batch whose latent dimension or
            log-variances differ from the first batch's.
    """
    import torch

    total = len(data)
    codes: list[np.ndarray] = []
    logvars: list[np.ndarray] = []
    for start in range(0, total, batch_size):
        mean, logvar = encoder(data.batch(torch.arange(start, min(start + batch_size, total))))
        if codes and (mean.shape[1] != codes[0].shape[1] or (logvar is None) != (not logvars)):
            raise ConfigError(f"encoder '{encoder.source.reference}' changed its output at image {start:,}: "
                              f"{codes[0].shape[1]} latents{' and log-variances' if logvars else ''} first, then "
                              f"{mean.shape[1]}{'' if logvar is None else ' and log-variances'}")
        codes.append(mean)
        if logvar is not None:
            logvars.append(logvar)
        if progress is not None:
            progress(min(start + batch_size, total), total)
    return np.concatenate(codes), (np.concatenate(logvars) if logvars else None)


def check_image_size(source: EncoderSource | Encoder, dataset: str, img_size: tuple[int, ...]) -> None:
    """Refuse a dataset of another image size than the encoder takes, where known (before loading the dataset).

    Raises:
        ConfigError: naming both sizes.
    """
    expected = source.img_size
    reference = source.reference if isinstance(source, EncoderSource) else source.source.reference
    if expected is not None and tuple(img_size) != tuple(expected):
        raise ConfigError(f"dataset '{dataset}' has {list(img_size)} images but encoder '{reference}' takes "
                          f"{list(expected)}; choose a dataset of that size with -d")


__all__ = ["FORMATS", "Encoder", "EncoderSource", "check_code_rows", "check_image_size", "encode_images",
           "find_encoder", "load_encoder", "probe", "read_npz"]
