"""The axis alignment metric (AAM) of disentangling-vae.

Dubois, Y., Kastanos, A., Lines, D., Melman, B. "Disentangling VAE"
(https://github.com/YannDubs/disentangling-vae, 2019), section "Axis Alignment Metric".

For each factor v_k, with I_(d) the d-th largest mutual information I(z_j; v_k) over
latents (negative estimates clamped to 0):

    AAM_k = max(0, I_(1) - sum_{d >= 2} I_(d)) / I_(1)     (0 when I_(1) = 0)

AAM is their mean: 1 when each factor is carried by one latent only, however much of
it is carried. Its runner (``--metric aam``) is `dvae_cli.metrics.mig.run_aam`, beside
the mutual informations it shares with MIG; this module is the pure formula.
"""

from __future__ import annotations

import numpy as np


def aam_scores(mi: np.ndarray) -> np.ndarray:
    """AAM of each factor from its (K, D) mutual information matrix."""
    ordered = -np.sort(-np.clip(mi, 0, None), axis=1)
    top = ordered[:, 0]
    numerator = np.clip(top - ordered[:, 1:].sum(axis=1), 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(top > 0, numerator / np.where(top > 0, top, 1), 0.0)
    return scores
