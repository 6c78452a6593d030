"""The axis alignment metric (AAM) of disentangling-vae.

Dubois, Y., Kastanos, A., Lines, D., Melman, B. "Disentangling VAE"
(https://github.com/YannDubs/disentangling-vae, 2019), section "Axis Alignment Metric".

For each factor v_k, with I_(d) the d-th largest mutual information I(z_j; v_k) over
latents (negative estimates clamped to 0):

    AAM_k = max(0, I_(1) - sum_{d >= 2} I_(d)) / I_(1)     (0 when I_(1) = 0)

AAM is their mean: 1 when each factor is carried by one latent only, however much of
it is carried. Its runner (``--metric aam``) is `dvae_cli.metrics.mig.run_aam`, beside
the mutual informations it shares with MIG; this module is the pure formula, kept as
disentangling-vae's (``_axis_aligned_metric`` of ``disvae/evaluate.py``, on mutual
informations sorted and clamped at 0 as there).

The clamp makes many AAMs exactly 0: the D - 1 other latents' estimates, each near
the estimator's noise floor (`dvae_cli.metrics.noise`), add up to more than a weak
factor's largest one. `aam_clamped` says for which factors the 0 is that clamp, so a
reader can tell "clamped" from "measured 0"; the runner records it per factor.
"""

from __future__ import annotations

import numpy as np


def aam_scores(mi: np.ndarray) -> np.ndarray:
    """AAM of each factor from its (K, D) mutual information matrix (nats); returns (K,) in [0, 1]."""
    ordered = -np.sort(-np.clip(mi, 0, None), axis=1)
    top = ordered[:, 0]
    numerator = np.clip(top - ordered[:, 1:].sum(axis=1), 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(top > 0, numerator / np.where(top > 0, top, 1), 0.0)
    return scores


def aam_clamped(mi: np.ndarray) -> np.ndarray:
    """(K,) whether each factor's AAM is 0 by the formula's clamp rather than by its value.

    True where I_(1) - sum_{d >= 2} I_(d) <= 0 (the numerator clamped at 0) or where no
    estimate is positive (I_(1) = 0 after clamping the estimates at 0): `aam_scores` is
    then exactly 0 whatever the latents carry.

    Args:
        mi: (K, D) mutual information (nats).
    """
    ordered = -np.sort(-np.clip(mi, 0, None), axis=1)
    top = ordered[:, 0]
    return np.asarray((top <= 0) | (top - ordered[:, 1:].sum(axis=1) <= 0))
