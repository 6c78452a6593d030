"""Saving and loading weights and training state (always atomically, always weights-only).

- ``model.pt``: the VAE's ``state_dict`` alone, as disentangling-vae writes it.
- ``model-<epoch>.pt`` and ``training_state.pt``: a dict with the format version,
  the spec and everything `Trainer.state_dict` returns: the VAE and optimiser
  states, the loss's own networks and optimiser (FactorVAE's discriminator), the
  epoch, the step and the step within the epoch, the loss history, the running
  sums of the current epoch and every random generator's state. Training resumes
  from it bit for bit (``dvae train NAME --resume``).

Loading uses ``torch.load(..., weights_only=True)``: a results folder from the
internet cannot run code.
"""

from __future__ import annotations

import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch

from dvae_cli.config import RunSpec
from dvae_cli.engine.models import VAE, build_model
from dvae_cli.errors import ConfigError, CorruptFileError
from dvae_cli.runs.atomic import write_with
from dvae_cli.runs.layout import TRAINING_STATE

FORMAT_VERSION = 2
#: Versions `load_checkpoint` reads (1 has no RNG state: it resumes at an epoch start).
READABLE_VERSIONS = (1, 2)
#: The old name of `dvae_cli.runs.layout.TRAINING_STATE` (kept for the modules that import it from here).
STATE_FILE = TRAINING_STATE


def save_weights(path: Path, model: VAE) -> None:
    """Write the model's ``state_dict`` to `path` (disentangling-vae's ``model.pt``)."""
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    write_with(path, lambda handle: torch.save(state, handle))


def save_checkpoint(path: Path, training_state: dict[str, Any], spec: RunSpec) -> None:
    """Write a full training checkpoint to `path`.

    Args:
        path: The file (replaced atomically).
        training_state: What `dvae_cli.engine.trainer.Trainer.state_dict` returns.
        spec: The run's spec (stored so the checkpoint stands alone).
    """
    checkpoint: dict[str, Any] = {"format_version": FORMAT_VERSION, "spec": spec.to_dict(), **training_state}
    write_with(path, lambda handle: torch.save(checkpoint, handle))


def read_torch_file(path: Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``; errors become one-line `CorruptFileError`s."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CorruptFileError(f"{path} is missing") from None
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile,
            KeyError, AttributeError, TypeError, IndexError, struct.error) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "zip archive" in reason or isinstance(exc, struct.error) or "central directory" in reason or isinstance(exc, (EOFError,
                                                                                      zipfile.BadZipFile)):
            reason = "it is truncated or not a PyTorch file"
        elif "Weights only" in reason or "weights_only" in reason or "Unsupported global" in reason:
            reason = "it holds Python objects beyond tensors, which dvae does not load (weights_only)"
        raise CorruptFileError(f"cannot load {path}: {reason[:200]}") from None


def model_state(content: Any, path: Path) -> dict[str, torch.Tensor]:
    """The VAE ``state_dict`` inside a loaded ``model.pt`` or checkpoint."""
    if isinstance(content, dict) and "format_version" in content and isinstance(content.get("model"), dict):
        content = content["model"]
    if not isinstance(content, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in content.items()):
        raise CorruptFileError(f"{path} does not hold model weights")
    return content


def load_model(path: Path, spec: RunSpec, device: str | torch.device = "cpu") -> VAE:
    """Rebuild the run's model from `spec` and load the weights at `path` strictly.

    Raises:
        CorruptFileError: if the file is unreadable or its tensors do not match the
            architecture described by ``specs.json``.
    """
    if spec.img_size is None:
        raise CorruptFileError("specs.json has no 'img_size': cannot rebuild the model")
    if (not isinstance(spec.img_size, (list, tuple)) or len(spec.img_size) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in spec.img_size)):
        raise CorruptFileError(f"specs.json: 'img_size' must be three integers [channels, height, width], "
                               f"got {spec.img_size!r}")
    try:
        model = build_model(spec.img_size, spec.latent_dim, spec.model_type)
    except ConfigError as exc:
        raise CorruptFileError(f"specs.json describes a model dvae cannot build: {exc}") from None
    state = model_state(read_torch_file(path), path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        found = {str(k) if str(k).isprintable() else repr(str(k))[1:-1]: tuple(v.shape)   # one line, whatever
                 for k, v in state.items()}                                                 # a corrupt key holds
        missing = sorted(set(expected) - set(found))
        unexpected = sorted(set(found) - set(expected))
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        detail = "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(unexpected)}" if unexpected else "",
            ", ".join(f"{k} is {found[k]} not {expected[k]}" for k in wrong[:3]) if wrong else "",
        ) if part) or str(exc).splitlines()[0]
        raise CorruptFileError(f"{path} does not match its specs.json (img_size {spec.img_size}, "
                               f"latent_dim {spec.latent_dim}): {detail}") from None
    return model.to(device).eval()


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a full checkpoint written by `save_checkpoint`.

    Raises:
        CorruptFileError: if it is unreadable or not a dvae checkpoint.
    """
    content = read_torch_file(path)
    if not isinstance(content, dict) or content.get("format_version") not in READABLE_VERSIONS:
        raise CorruptFileError(f"{path} is not a dvae checkpoint (format "
                               f"{' or '.join(map(str, READABLE_VERSIONS))})")
    missing = [key for key in ("model", "optimizer", "loss", "epoch", "step") if key not in content]
    if missing:
        raise CorruptFileError(f"{path} is an incomplete checkpoint: no {', '.join(missing)}")
    return content
