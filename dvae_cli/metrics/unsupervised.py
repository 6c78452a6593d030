"""disentanglement_lib's unsupervised scores: dependence between the latents, no factors needed.

Locatello, F., Bauer, S., Lucic, M., Raetsch, G., Gelly, S., Schoelkopf, B., Bachem, O.
"Challenging Common Assumptions in the Unsupervised Learning of Disentangled
Representations." ICML 2019 (Section 5 and Appendix; disentanglement_lib's
``unsupervised_metrics``).

On the posterior means z (N x D) of ``num_train`` images, with Sigma their (D x D)
covariance and diag(Sigma) its diagonal:

- Gaussian total correlation: KL( N(0, Sigma) || N(0, diag(Sigma)) )
  = 1/2 (sum_j log Sigma_jj - log det Sigma)  (nats; 0 for independent latents, and
  -1/2 log(1 - rho^2) for a pair with correlation rho);
- Gaussian Wasserstein dependency: the squared 2-Wasserstein distance between the same
  two Gaussians, W = 2 tr Sigma - 2 tr (diag(Sigma)^(1/2) Sigma diag(Sigma)^(1/2))^(1/2),
  and W / tr Sigma (``_norm``);
- mutual information score: the mean over ordered pairs j != l of the discrete I(z_j; z_l)
  between the latents binned into 20 equal-width bins (nats).

Latents that do not vary are left out (their log-variance would be -inf).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.metrics.mig import discrete_mutual_info, histogram_discretize

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport


@dataclass
class UnsupervisedScores:
    total_correlation: float
    wasserstein: float
    wasserstein_norm: float
    mutual_info: float
    active: np.ndarray          # (D,) bool
    covariance: np.ndarray      # (D, D)
    mi_matrix: np.ndarray       # (D_active, D_active), zero diagonal


def gaussian_total_correlation(cov: np.ndarray) -> float:
    """1/2 (sum log diag(cov) - log det cov) of a (D, D) covariance (inf when it is singular)."""
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        return float("inf")
    return float(0.5 * (np.sum(np.log(np.diag(cov))) - logdet))


def gaussian_wasserstein_dependency(cov: np.ndarray) -> float:
    """Squared W2 between N(0, cov) and N(0, diag(cov)), via the eigenvalues of D^(1/2) cov D^(1/2)."""
    scale = np.sqrt(np.diag(cov))
    eigenvalues = np.linalg.eigvalsh(cov * scale[:, None] * scale[None, :])
    return float(2 * np.trace(cov) - 2 * np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))


def unsupervised_scores(codes: np.ndarray, bins: int = 20) -> UnsupervisedScores:
    """The three scores of mean codes (N, D); see the module docstring."""
    codes = np.asarray(codes, dtype=np.float64)
    full = np.atleast_2d(np.cov(codes, rowvar=False))
    active = np.ptp(codes, axis=0) > 0   # a constant column's variance can round to 1e-33
    cov = full[np.ix_(active, active)]
    d = int(active.sum())
    if d == 0:
        return UnsupervisedScores(0.0, 0.0, 0.0, 0.0, active, full, np.zeros((0, 0)))
    wasserstein = gaussian_wasserstein_dependency(cov)
    binned = histogram_discretize(codes[:, active], bins)
    mi = np.zeros((d, d))
    for j in range(d):
        for m in range(j + 1, d):
            mi[j, m] = mi[m, j] = discrete_mutual_info(binned[:, j], binned[:, m])
    mean_mi = float(mi.sum() / (d * d - d)) if d > 1 else 0.0
    return UnsupervisedScores(gaussian_total_correlation(cov), wasserstein, wasserstein / float(np.trace(cov)),
                              mean_mi, active, full, mi)


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric unsupervised`` (scores ``gaussian_total_correlation``, ``gaussian_wasserstein_correlation``,
    ``gaussian_wasserstein_correlation_norm``, ``mutual_info_score``; detail ``unsupervised``)."""
    s = inputs.settings
    inputs.say(f"unsupervised scores (disentanglement_lib): {len(inputs.x_points):,} points")
    result = unsupervised_scores(inputs.x_points, s.bins)
    protocol = {**inputs.points, "batch_size": 16, "active_dims": int(result.active.sum()),
                "factors": "none needed"}
    report.add("gaussian_total_correlation", result.total_correlation,
               {**protocol, "estimator": "Gaussian fit of the means, nats"})
    report.add("gaussian_wasserstein_correlation", result.wasserstein,
               {**protocol, "estimator": "squared W2 between N(0, Sigma) and N(0, diag Sigma)"})
    report.add("gaussian_wasserstein_correlation_norm", result.wasserstein_norm,
               {**protocol, "estimator": "W2^2 / tr Sigma"})
    report.add("mutual_info_score", result.mutual_info,
               {**protocol, "estimator": "discrete MI of histogram-binned means, nats", "bins": s.bins})
    report.details["unsupervised"] = {"active_latents": np.flatnonzero(result.active).tolist(),
                                      "covariance": result.covariance.tolist(),
                                      "mutual_information": result.mi_matrix.tolist()}
