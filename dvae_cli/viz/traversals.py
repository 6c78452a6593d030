"""Images a trained VAE draws: samples, reconstructions and latent traversals.

Pure tensor code (no files). Conventions of disentangling-vae's ``Visualizer``,
with its posterior traversal fixed: the range is centred on the posterior of the
image, not on 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from dvae_cli.engine.models import VAE


def traversal_range(max_traversal: float, mean: float = 0.0, std: float = 1.0) -> tuple[float, float]:
    """The (low, high) values a latent sweeps.

    Args:
        max_traversal: >= 0.5: an absolute half-width, in units of the prior, around
            `mean`. < 0.5: a quantile: the sweep covers the central ``2 * max_traversal``
            of the probability mass of N(`mean`, `std`^2) (0.45 -> the central 90 %).
        mean, std: The distribution swept (the prior N(0, 1), or one posterior);
            `std` >= 0. The quantile is taken of the standard normal and scaled, so a
            posterior whose std underflowed to 0 gives a sweep of width 0, not NaN.

    Raises:
        ValueError: if `max_traversal` <= 0 or `std` is negative or not finite.
    """
    if not max_traversal > 0:
        raise ValueError(f"max_traversal must be positive, got {max_traversal}")
    if max_traversal >= 0.5:
        return mean - max_traversal, mean + max_traversal
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(f"std must be finite and >= 0, got {std}")
    from scipy import stats

    half_width = -float(stats.norm.ppf(0.5 - max_traversal)) * std
    return mean - half_width, mean + half_width


def kl_order(kl_per_latent: Sequence[float], latent_dim: int) -> list[int]:
    """Latent indices, most informative (largest KL) first; identity if the KL is unknown."""
    if len(kl_per_latent) != latent_dim:
        return list(range(latent_dim))
    return sorted(range(latent_dim), key=lambda j: (-kl_per_latent[j], j))


@torch.no_grad()
def decode(model: VAE, z: torch.Tensor) -> torch.Tensor:
    """Decoded images (N, C, H, W) in [0, 1] for latent codes `z` (N, D)."""
    device = next(model.parameters()).device
    return model.decode(z.to(device)).float().cpu()


@torch.no_grad()
def prior_samples(model: VAE, n: int, generator: torch.Generator) -> torch.Tensor:
    """`n` images decoded from z ~ N(0, I): (n, C, H, W)."""
    return decode(model, torch.randn(n, model.latent_dim, generator=generator))


@torch.no_grad()
def reconstructions(model: VAE, images: torch.Tensor) -> torch.Tensor:
    """Reconstructions (from the posterior means) of `images` (N, C, H, W)."""
    device = next(model.parameters()).device
    return model(images.to(device)).reconstruction.float().cpu()


@torch.no_grad()
def traversal_codes(model: VAE, latents: Sequence[int], n_steps: int, max_traversal: float,
                    image: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Latent codes sweeping each latent of `latents` in turn: (len(latents) * n_steps, D).

    Without `image`, the other latents are 0 and the sweep follows the prior. With
    `image` (1, C, H, W), the other latents are one posterior sample of it (as the
    reference) and latent j sweeps `traversal_range` around its posterior mean.
    """
    dim = model.latent_dim
    if image is None:
        base = torch.zeros(dim)
        means, stds = torch.zeros(dim), torch.ones(dim)
    else:
        device = next(model.parameters()).device
        mean, logvar = model.encoder(image.to(device))
        # the std in float64: exp(logvar / 2) overflows float32 above logvar = 177
        means, stds = mean[0].float().cpu(), torch.exp(0.5 * logvar[0].double().cpu()).float()
        base = means + stds * torch.randn(dim, generator=generator)
    rows = []
    for j in latents:
        low, high = traversal_range(max_traversal, float(means[j]), float(stds[j]))
        codes = base.repeat(n_steps, 1)
        codes[:, j] = torch.linspace(low, high, n_steps)
        rows.append(codes)
    return torch.cat(rows) if rows else torch.zeros(0, dim)


def traversals(model: VAE, latents: Sequence[int], n_steps: int, max_traversal: float,
               image: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    """Decoded traversals, one row of `n_steps` images per latent: (len(latents) * n_steps, C, H, W)."""
    return decode(model, traversal_codes(model, latents, n_steps, max_traversal, image, generator))


def upsample(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour upsampling of (N, C, H, W) by an integer factor."""
    if factor == 1:
        return images
    return torch.nn.functional.interpolate(images, scale_factor=factor, mode="nearest")


def gif_frames(model: VAE, images: torch.Tensor, latents: Sequence[int], n_frames: int, max_traversal: float,
               generator: torch.Generator, pad: int, pad_value: float, upsample_factor: int = 1) -> list[np.ndarray]:
    """Frames of an animated posterior traversal (disentangling-vae's ``gif_traversals``).

    Frame f shows, for every example (columns) and latent (rows), step f of that
    latent's sweep around the example's posterior.

    Returns:
        `n_frames` uint8 arrays (H', W', C).
    """
    from dvae_cli.viz.grid import grid_array

    per_example = [traversals(model, latents, n_frames, max_traversal, images[i:i + 1], generator)
                   for i in range(images.shape[0])]
    frames = []
    for f in range(n_frames):
        # rows = latents, columns = examples: order row-major
        tiles = torch.stack([per_example[i][r * n_frames + f] for r in range(len(latents))
                             for i in range(images.shape[0])])
        frames.append(grid_array(upsample(tiles, upsample_factor), nrow=images.shape[0], padding=pad,
                                 pad_value=pad_value))
    return frames
