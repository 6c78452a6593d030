"""The axis alignment metric (AAM) of disentangling-vae.

Dubois, Y., Kastanos, A., Lines, D., Melman, B. "Disentangling VAE"
(https://github.com/YannDubs/disentangling-vae, 2019), section "Axis Alignment Metric".

For each factor v_k, with I_(d) the d-th largest mutual information I(z_j; v_k) over
latents (negative estimates clamped to 0):

    AAM_k = max(0, I_(1) - sum_{d >= 2} I_(d)) / I_(1)     (0 when I_(1) = 0)

AAM is their mean: 1 when each factor is carried by one latent only, however much of
it is carried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport


def aam_scores(mi: np.ndarray) -> np.ndarray:
    """AAM of each factor from its (K, D) mutual information matrix."""
    ordered = -np.sort(-np.clip(mi, 0, None), axis=1)
    top = ordered[:, 0]
    numerator = np.clip(top - ordered[:, 1:].sum(axis=1), 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(top > 0, numerator / np.where(top > 0, top, 1), 0.0)
    return scores


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric aam``: AAM from Chen et al.'s mutual informations, shared with MIG (score ``AAM``)."""
    from dvae_cli.metrics.mig import chen_mutual_information

    mi = chen_mutual_information(inputs)
    report.add("AAM", mi["aam"], {**mi["protocol"], "normalisation": "I_(1)"})
    report.details["mig"] = mi["detail"]
