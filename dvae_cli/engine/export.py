"""A run's encoder and decoder as standalone graphs: ONNX or TorchScript.

An export is three files in one folder (by default ``<run folder>/<format>/``):

- ``encoder.onnx`` / ``encoder.pt``: images (B, C, H, W), float32 pixels in [0, 1]
  -> ``mean`` (B, D), ``logvar`` (B, D): the posterior's parameters;
- ``decoder.onnx`` / ``decoder.pt``: ``z`` (B, D) -> ``images`` (B, C, H, W), the pixel
  means in [0, 1] (the sigmoid is part of the graph);
- ``export.json``: those names, shapes and ranges, the latent dimension, the dvae and
  torch versions and the result of the check below.

The batch dimension B is dynamic. Before anything is written, each graph is loaded back
(``onnxruntime`` / ``torch.jit.load``) and run on a random batch; its outputs must equal
the model's within `TOLERANCE`. The files are written atomically, ``export.json`` last.

ONNX needs the ``onnx`` extra (``pip install "dvae[onnx]"``). Both formats use
PyTorch's TorchScript-based exporters, which recent PyTorch versions deprecate but
still ship; their deprecation warnings are silenced here.

torch is imported inside the functions, so the CLI can check its options first.
"""

from __future__ import annotations

import copy
import importlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.errors import CorruptFileError, ExportError, MissingExtraError, UnknownNameError
from dvae_cli.runs.atomic import write_json, write_with
from dvae_cli.runs.folder import RunFolder, check_writable
from dvae_cli.runs.layout import EXPORT_DESCRIPTION, export_folder

if TYPE_CHECKING:
    import torch

    from dvae_cli.engine.models import VAE

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt"}
DESCRIPTION_FILE = EXPORT_DESCRIPTION
ONNX_EXTRA = 'pip install "dvae[onnx]"'
ONNX_OPSET = 17
#: Largest difference allowed between the exported graph and the model: |a - b| <= TOLERANCE * (1 + |b|).
TOLERANCE = 1e-4
CHECK_BATCH = 3
CHECK_SEED = 0


@dataclass(frozen=True)
class ExportResult:
    """What `export_model` wrote.

    Attributes:
        format: ``onnx`` or ``torchscript``.
        encoder, decoder, description: The three files.
        max_difference: The largest absolute difference between the exported graphs'
            outputs and the model's on the check batch.
    """

    format: str
    encoder: Path
    decoder: Path
    description: Path
    max_difference: float

    @property
    def files(self) -> tuple[Path, Path, Path]:
        return self.encoder, self.decoder, self.description


def check_format(fmt: str) -> str:
    """Return `fmt` if it is an export format.

    Raises:
        UnknownNameError: naming the formats.
    """
    if fmt not in FORMATS:
        raise UnknownNameError("export format", fmt, FORMATS)
    return fmt


def export_paths(output: Path, fmt: str) -> tuple[Path, Path, Path]:
    """The encoder, decoder and description files an export of format `fmt` writes into `output`."""
    suffix = SUFFIXES[check_format(fmt)]
    output = Path(output)
    return output / f"encoder{suffix}", output / f"decoder{suffix}", output / DESCRIPTION_FILE


def default_output(run_path: Path, fmt: str) -> Path:
    """``<run folder>/<format>``."""
    return Path(run_path) / export_folder(check_format(fmt))


def require_onnx() -> None:
    """Check that the ONNX exporter's dependencies are installed.

    Raises:
        MissingExtraError: naming the extra to install.
    """
    missing = []
    for package in ("onnx", "onnxruntime"):
        try:
            importlib.import_module(package)
        except ImportError:
            missing.append(package)
    if missing:
        raise MissingExtraError(f"ONNX export needs {' and '.join(missing)}, which "
                                f"{'is' if len(missing) == 1 else 'are'} not installed: {ONNX_EXTRA}")


def check_target(fmt: str, output: Path, overwrite: bool = False) -> tuple[Path, Path, Path]:
    """Everything that can fail before the export: format, extra, folder, existing files.

    Returns:
        The files the export will write (`export_paths`).

    Raises:
        UnknownNameError: for an unknown format.
        MissingExtraError: for ONNX without onnx/onnxruntime.
        ConfigError: if `output` cannot be written.
        ExportError: if `output` holds an earlier export and `overwrite` is False.
    """
    paths = export_paths(output, fmt)
    if fmt == "onnx":
        require_onnx()
    check_writable(Path(output), "export folder")
    existing = [path.name for path in paths if path.exists()]
    if existing and not overwrite:
        raise ExportError(f"{output} already holds {', '.join(existing)}; use --overwrite (overwrite=True) "
                          "to replace them or choose another output folder")
    return paths


def export_run(folder: RunFolder, fmt: str, output: Path | None = None, overwrite: bool = False) -> ExportResult:
    """Export the model of the run in `folder` (see the module docstring).

    Args:
        folder: A run folder, dvae's or disentangling-vae's.
        fmt: ``onnx`` or ``torchscript``.
        output: The folder for the files (default: `default_output`).
        overwrite: Replace the files of an earlier export.

    Raises:
        CorruptFileError: if ``specs.json`` or ``model.pt`` is missing or unreadable.
        And what `check_target` and `export_model` raise.
    """
    output = Path(output) if output is not None else default_output(folder.path, fmt)
    check_target(fmt, output, overwrite)  # before loading anything
    spec = folder.read_spec()
    if not folder.model_path.is_file():
        raise CorruptFileError(f"{folder.model_path} is missing (is the run still training?)")
    from dvae_cli.engine.checkpoint import load_model

    model = load_model(folder.model_path, spec, "cpu")
    return export_model(model, fmt, output, overwrite, run_name=folder.name)


def export_model(model: VAE, fmt: str, output: Path, overwrite: bool = False,
                 run_name: str | None = None) -> ExportResult:
    """Write `model`'s encoder and decoder as `fmt` graphs into `output`, checked first.

    Args:
        model: A VAE (on any device: a CPU copy is exported).
        fmt: ``onnx`` or ``torchscript``.
        output: The folder for the files (created if missing).
        overwrite: Replace the files of an earlier export.
        run_name: Recorded in ``export.json``.

    Raises:
        ExportError: if the exported graphs do not reproduce the model (nothing is
            written then), or `output` holds an earlier export and `overwrite` is False.
        And what `check_target` raises.
    """
    encoder_path, decoder_path, description_path = check_target(fmt, output, overwrite)
    model = copy.deepcopy(model).cpu().eval()
    encoder, decoder = _graph_bytes(model, fmt)
    difference = _check(model, fmt, encoder, decoder)
    Path(output).mkdir(parents=True, exist_ok=True)
    write_with(encoder_path, lambda handle: handle.write(encoder))
    write_with(decoder_path, lambda handle: handle.write(decoder))
    write_json(description_path, _description(model, fmt, run_name, encoder_path, decoder_path, difference))
    return ExportResult(fmt, encoder_path, decoder_path, description_path, difference)


def _modules(model: VAE) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The encoder (images -> mean, logvar) and the decoder with its sigmoid (z -> pixel means)."""
    import torch

    return model.encoder, torch.nn.Sequential(model.decoder, torch.nn.Sigmoid()).eval()


def _examples(model: VAE, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch of images in [0, 1] (batch, C, H, W) and of codes ~ N(0, I) (batch, D)."""
    import torch

    generator = torch.Generator().manual_seed(CHECK_SEED)
    return (torch.rand(batch, *model.img_size, generator=generator),
            torch.randn(batch, model.latent_dim, generator=generator))


def _graph_bytes(model: VAE, fmt: str) -> tuple[bytes, bytes]:
    """The serialised encoder and decoder graphs."""
    encoder, decoder = _modules(model)
    images, codes = _examples(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # PyTorch deprecates both exporters
        warnings.simplefilter("ignore", FutureWarning)
        if fmt == "onnx":
            return (_onnx_bytes(encoder, images, ["images"], ["mean", "logvar"]),
                    _onnx_bytes(decoder, codes, ["z"], ["images"]))
        return _torchscript_bytes(encoder, images), _torchscript_bytes(decoder, codes)


def _onnx_bytes(module: torch.nn.Module, example: torch.Tensor, inputs: list[str], outputs: list[str]) -> bytes:
    import inspect

    import torch

    options: dict[str, Any] = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False   # the TorchScript-based exporter: onnx alone, no onnxscript
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, (example,), buffer,  # type: ignore[arg-type]  # a file object: torch's stub omits it
                          input_names=inputs, output_names=outputs,
                          dynamic_axes={name: {0: "batch"} for name in inputs + outputs},
                          opset_version=ONNX_OPSET, do_constant_folding=True, **options)
    return buffer.getvalue()


def _torchscript_bytes(module: torch.nn.Module, example: torch.Tensor) -> bytes:
    import torch

    buffer = io.BytesIO()
    with torch.no_grad():
        traced = torch.jit.trace(module, (example,))
    torch.jit.save(traced, buffer)
    return buffer.getvalue()


def run_graphs(fmt: str, encoder: bytes | Path, decoder: bytes | Path, images: torch.Tensor,
               codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run exported graphs as their runtime does: onnxruntime, or ``torch.jit.load``.

    Args:
        fmt: ``onnx`` or ``torchscript``.
        encoder, decoder: The graphs, serialised or as files.
        images: Float32 images (B, C, H, W) in [0, 1].
        codes: Latent codes (B, D).

    Returns:
        (mean (B, D), logvar (B, D), pixel means (B, C, H, W)) as CPU tensors.
    """
    import torch

    if fmt == "onnx":
        import onnxruntime

        def session(graph: bytes | Path) -> Any:
            source = str(graph) if isinstance(graph, Path) else graph
            return onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])

        mean, logvar = session(encoder).run(None, {"images": images.float().cpu().numpy()})
        (pixels,) = session(decoder).run(None, {"z": codes.float().cpu().numpy()})
        return torch.from_numpy(mean), torch.from_numpy(logvar), torch.from_numpy(pixels)

    def load(graph: bytes | Path) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return torch.jit.load(io.BytesIO(graph) if isinstance(graph, bytes) else str(graph), map_location="cpu")

    with torch.no_grad():
        mean, logvar = load(encoder)(images.float().cpu())
        pixels = load(decoder)(codes.float().cpu())
    return mean, logvar, pixels


def _check(model: VAE, fmt: str, encoder: bytes, decoder: bytes) -> float:
    """The largest difference between the graphs and the model on a batch of `CHECK_BATCH`.

    Raises:
        ExportError: if a difference exceeds `TOLERANCE`.
    """
    import torch

    images, codes = _examples(model, CHECK_BATCH)
    with torch.no_grad():
        expected = (*model.encoder(images), model.decode(codes))
    found = run_graphs(fmt, encoder, decoder, images, codes)
    worst = 0.0
    for name, got, want in zip(("mean", "logvar", "images"), found, expected):
        if got.shape != want.shape:
            raise ExportError(f"the exported {fmt} graph gives {name} of shape {tuple(got.shape)}, the model "
                              f"{tuple(want.shape)}; nothing was written")
        difference = (got - want).abs()
        if not bool((difference <= TOLERANCE * (1 + want.abs())).all()):   # NaN fails too
            raise ExportError(f"the exported {fmt} graph's {name} differs from the model's by "
                              f"{difference.max().item():.3g}; nothing was written")
        worst = max(worst, difference.max().item())
    return worst


def _description(model: VAE, fmt: str, run_name: str | None, encoder: Path, decoder: Path,
                 difference: float) -> dict[str, Any]:
    """The content of ``export.json``."""
    import torch

    from dvae_cli.version import __version__

    channels, height, width = model.img_size
    dim = model.latent_dim
    images = {"name": "images", "shape": ["batch", channels, height, width], "dtype": "float32"}
    runtime = "torch.jit.load"
    if fmt == "onnx":
        import onnxruntime

        runtime = f"onnxruntime {onnxruntime.__version__}"
    description: dict[str, Any] = {
        "format": fmt,
        "run": run_name,
        "dvae_version": __version__,
        "torch_version": torch.__version__,
        "img_size": [channels, height, width],
        "latent_dim": dim,
        "encoder": {
            "file": encoder.name,
            "inputs": [{**images, "description": "pixels in [0, 1] (divide uint8 images by 255)"}],
            "outputs": [{"name": "mean", "shape": ["batch", dim], "dtype": "float32",
                         "description": "posterior means"},
                        {"name": "logvar", "shape": ["batch", dim], "dtype": "float32",
                         "description": "posterior log variances"}],
        },
        "decoder": {
            "file": decoder.name,
            "inputs": [{"name": "z", "shape": ["batch", dim], "dtype": "float32", "description": "latent codes"}],
            "outputs": [{**images, "description": "pixel means in [0, 1] (the sigmoid is part of the graph)"}],
        },
        "check": {"batch_size": CHECK_BATCH, "max_abs_difference": difference, "tolerance": TOLERANCE,
                  "runtime": runtime},
    }
    if fmt == "onnx":
        description["onnx_opset"] = ONNX_OPSET
    return description
