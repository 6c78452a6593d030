"""MIG benchmark (run by hand): Chen et al.'s estimator on the full 737,280-image grid.

    .venv/bin/python benchmarks/metrics.py [--n-samples 10000] [--images 737280]

Synthetic encoder outputs shaped like a trained beta-TCVAE on dSprites (posX, posY and
scale each in one sharp latent, shape x orientation spread over one wide latent, five
latents collapsed to the prior), so the timing is that of the metric alone. Prints
the time and peak memory of the mutual information matrix and the MIG it gives.
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic_posteriors(classes: np.ndarray, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, logvar), shape (N, 10), of a plausible disentangled encoder."""
    rng = np.random.default_rng(seed)
    n = len(classes)
    shape, scale, orient, pos_x, pos_y = (classes[:, k].astype(float) for k in range(1, 6))
    mean = np.zeros((n, 10))
    std = np.ones((n, 10))
    mean[:, 0] = (pos_x - 15.5) / 9 + rng.normal(0, 0.02, n)
    mean[:, 1] = (pos_y - 15.5) / 9 + rng.normal(0, 0.02, n)
    mean[:, 2] = (scale - 2.5) / 1.7 + rng.normal(0, 0.05, n)
    mean[:, 3] = (shape - 1) + 0.3 * np.sin(orient / 40 * 2 * math.pi) + rng.normal(0, 0.1, n)
    std[:, :3] = rng.uniform(0.01, 0.05, (n, 3))
    std[:, 3] = rng.uniform(0.1, 0.4, n)
    mean[:, 4] = 0.4 * np.cos(orient / 40 * 2 * math.pi) + rng.normal(0, 0.2, n)
    std[:, 4] = rng.uniform(0.2, 0.5, n)
    mean[:, 5:] = rng.normal(0, 0.03, (n, 5))
    std[:, 5:] = rng.uniform(0.95, 1.05, (n, 5))
    return torch.from_numpy(mean).float(), torch.from_numpy(2 * np.log(std)).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=737_280, help="a random subset of the grid if smaller")
    args = parser.parse_args()

    from dvae_cli.data import sprites
    from dvae_cli.metrics.mig import mig_scores, mutual_information

    index = np.arange(sprites.N_IMAGES)
    if args.images < len(index):
        index = np.sort(np.random.default_rng(0).choice(len(index), args.images, replace=False))
    classes = sprites.index_to_classes(index).astype(np.int64)
    mean, logvar = synthetic_posteriors(classes)
    factors = [2, 3, 4, 5]   # scale, orientation, posX, posY (Chen et al.'s dSprites protocol)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = mutual_information(mean, logvar, classes[:, factors], n_samples=args.n_samples, seed=0)
    seconds = time.perf_counter() - start
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
    mig = mig_scores(result.mi, result.factor_entropy)
    print(f"{'measure':<48}{'value':>12}")
    print(f"{'images x samples':<48}{len(index):>9,} x {args.n_samples:,}")
    print(f"{'MI matrix (4 factors x 10 latents), time':<48}{seconds:>10.1f} s")
    print(f"{'  peak memory over the process baseline':<48}{peak:>9.0f} MB")
    print(f"{'MIG (scale, orientation, posX, posY)':<48}{float(mig.mean()):>12.3f}")
    print("per factor:", ", ".join(f"{v:.3f}" for v in mig))


if __name__ == "__main__":
    main()
