"""The noise floor of Chen et al.'s mutual-information estimates, as measured (standard library only).

I(z_j; v_k) = H(z_j) - H(z_j | v_k) (Chen et al. 2018, `dvae_cli.metrics.mig`) is a
Monte-Carlo estimate on the images scored, and its value for a latent that carries
nothing about a factor is not 0. ``benchmarks/metrics_noise.py --floor`` measures it on
trained models by a permutation null: the posteriors of N images (balanced factor
values, as ``--max-images``) scored against the factor classes permuted across the
images, so the latents keep their marginals, the factors theirs, and the true value is
0. Measured on sprites (quickstart beta-TCVAE models with 10 and 32 latents, 3-5
permutations each, N = 1,000, 3,000, 10,000, at 500, 2,000 and 10,000 samples per
entropy, the factors scale, orientation, posX, posY; AMD EPYC, 2 cores):

- the estimates of a true 0 are biased *up*: each image's own posterior is one of the
  m = N / K_k components of the conditional mixture q(z_j | v_k = v), which lowers that
  entropy. With every image's sample used (s >= N: ``--fast`` up to 2,000 images, the
  full settings up to 10,000) the estimates are paired and this bias is all there is:
  99% of them lie within FLOOR_BIAS / m nats (measured: m = 31: 0.21; 167: 0.037;
  250: 0.025; 312: 0.022; 1,667: 0.004, against 6.6 / m = 0.21, 0.040, 0.026, 0.021, 0.004);
- with fewer samples than images (s < N: ``--fast`` on 10,000 images, the full
  settings on the whole grid) H(z_j) is estimated on s of the N samples, and its
  Monte-Carlo error, shared by every factor of latent j, adds FLOOR_SAMPLING *
  sqrt((1 - s/N) / s) nats in quadrature (measured at N = 10,000: 0.046 at s = 2,000,
  0.099 at s = 500, against 0.046 and 0.100); so does each conditional entropy
  with s < m (the grid), averaged over the K_k values.

Measured 99th percentiles of |I| (qs10: quickstart, 10 latents, 5 permutations, all
factors): N = 1,000: 0.26 (``--fast`` and full alike); 3,000: 0.092 ``--fast``, 0.085
full; 10,000: 0.046 ``--fast``, 0.024 full, 0.099 at s = 500; qs32 (32 latents, 1 epoch,
3 permutations): 0.18, 0.061 / 0.058, 0.028 / 0.018. The floor follows qs10, the
sharper (more trained) of the two. Negative estimates (11-48%) come from the sampling
term; the bias is positive.

`mi_noise_floor` states that floor: an estimate whose magnitude is under it cannot be
told from 0 at these sample sizes. ``mutual_info.png`` greys such cells, and the
``mig`` / ``aam`` protocols record each factor's floor.
"""

from __future__ import annotations

import math

#: 99% of the null estimates' bias part lies under FLOOR_BIAS / m nats, m = images per factor value.
FLOOR_BIAS = 6.6
#: 99th percentile of the Monte-Carlo part: FLOOR_SAMPLING * sqrt((1 - s/N) / s) nats (s samples of N).
FLOOR_SAMPLING = 2.2


def mi_noise_floor(n_images: int, n_samples: int, n_values: int = 32) -> float:
    """The magnitude (nats) that 99% of Chen et al.'s estimates of a true-zero I(z_j; v_k) stay under.

    Args:
        n_images: N, the images scored.
        n_samples: s, Monte-Carlo samples per entropy (``--n-samples``; ``--fast``: 2,000).
        n_values: K_k, the values the factor takes among the images (sprites: scale 6,
            orientation 40, posX and posY 32).

    Returns:
        sqrt((FLOOR_BIAS / m)^2 + FLOOR_SAMPLING^2 ((1 - s/N)_+ / s + (1 - s/m)_+ / (s K_k)))
        nats, m = N / K_k; measured by ``benchmarks/metrics_noise.py --floor`` (module docstring).

    Raises:
        ValueError: for N < 1, s < 1 or K_k < 1.
    """
    if n_images < 1 or n_samples < 1 or n_values < 1:
        raise ValueError(f"need n_images, n_samples, n_values >= 1, got {n_images}, {n_samples}, {n_values}")
    per_value = max(1.0, n_images / n_values)
    marginal = max(0.0, 1.0 - n_samples / n_images) / n_samples
    conditional = max(0.0, 1.0 - n_samples / per_value) / (n_samples * n_values)
    return math.sqrt((FLOOR_BIAS / per_value) ** 2 + FLOOR_SAMPLING ** 2 * (marginal + conditional))
