"""The Interventional Robustness Score (IRS) of Suter et al. 2019, with disentanglement_lib's protocol.

Suter, R., Miladinovic, D., Schoelkopf, B., Bauer, S. "Robustly Disentangled Causal
Mechanisms: Validating Deep Representations for Interventional Robustness." ICML 2019.

For latent z_j and factor g_i, the expected worst-case deviation of z_j when g_i is
held at a value and every other factor is intervened on (Suter et al., Eq. 6-8; the
"scalable" estimator of their Appendix, as disentanglement_lib computes it):

    EMPIDA_ij = E_{v ~ p(g_i)} [ q_p( |z_j - E[z_j | g_i = v]| over the images with g_i = v ) ]
    IRS_ij    = 1 - EMPIDA_ij / max_n |z_j^(n) - E[z_j]|

with q_p the p-quantile (p = 0.99 rather than the paper's maximum, p = 1, which one
outlier decides). Each latent scores max_i IRS_ij (its most robust parent factor)
and IRS is their mean weighted by each latent's maximal deviation, over the latents
that vary (constant latents are dropped; IRS = 0 when none varies).

The values v of g_i are those of disentanglement_lib's protocol (``irs.gin``:
``discretizer.num_bins = 20``, ``histogram_discretizer``): each factor is first cut
into 20 equal-width histogram bins (``utils.make_discretizer``), so a factor of more
than 20 values (dSprites' 32 positions, 40 orientations) is held at a bin, not at a
value, and the groups are wider. ``--metric irs`` (``IRS``) follows it;
``--metric irs_unbinned`` (``IRS_unbinned``) holds each factor at each of its classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.errors import ConfigError

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport

DIFF_QUANTILE = 0.99
#: Equal-width histogram bins of each factor (disentanglement_lib's ``irs.gin``: ``discretizer.num_bins``).
FACTOR_BINS = 20


@dataclass
class IRSScore:
    score: float
    active: np.ndarray          # (D,) bool: latents that vary
    matrix: np.ndarray          # (D_active, K) IRS_ij
    per_latent: np.ndarray      # (D_active,) max_i IRS_ij
    max_deviation: np.ndarray   # (D_active,) the weights


def binned_factors(classes: np.ndarray, bins: int = FACTOR_BINS) -> np.ndarray:
    """Each factor column of `classes` (N, K) in `bins` equal-width histogram bins, labels 1..bins.

    disentanglement_lib's ``histogram_discretize``: the left edges of ``np.histogram``'s
    bins, then ``np.digitize``. A factor of at most `bins` evenly spaced classes keeps
    one label per class.

    Raises:
        ConfigError: for `bins` < 1.
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ConfigError(f"IRS: the number of factor bins must be an integer >= 1, got {bins!r}")
    from dvae_cli.metrics.mig import histogram_discretize

    return histogram_discretize(np.asarray(classes), int(bins))


def irs_score(codes: np.ndarray, classes: np.ndarray, diff_quantile: float = DIFF_QUANTILE,
              factor_bins: int | None = FACTOR_BINS) -> IRSScore:
    """IRS of mean codes (N, D) of images with factor classes (N, K).

    Args:
        codes: Representation of each image.
        classes: Factor classes of each image.
        diff_quantile: q_p above (1.0 is the paper's maximum).
        factor_bins: Bin each factor into this many equal-width bins first (`binned_factors`;
            disentanglement_lib: 20); None holds each factor at each of its classes.

    Returns:
        The score in [0, 1] (1: every varying latent is unmoved by the other factors
        once its parent factor is fixed), with the matrix and the weights.

    Raises:
        ConfigError: for `factor_bins` < 1.
    """
    codes = np.asarray(codes, dtype=np.float64)
    if factor_bins is not None:
        classes = binned_factors(classes, factor_bins)
    active = np.ptp(codes, axis=0) > 0   # disentanglement_lib: variance > 0 (round-off makes it so)
    z = codes[:, active]
    k_count = classes.shape[1]
    if z.shape[1] == 0:
        return IRSScore(0.0, active, np.zeros((0, k_count)), np.zeros(0), np.zeros(0))
    max_deviation = np.abs(z - z.mean(axis=0)).max(axis=0)
    empida = np.zeros((z.shape[1], k_count))
    for i in range(k_count):
        values = np.unique(classes[:, i])
        for v in values:
            group = z[classes[:, i] == v]
            empida[:, i] += np.quantile(np.abs(group - group.mean(axis=0)), diff_quantile, axis=0)
        empida[:, i] /= len(values)
    matrix = 1.0 - empida / max_deviation[:, None]
    per_latent = matrix.max(axis=1)
    score = float(np.average(per_latent, weights=max_deviation))
    return IRSScore(score, active, matrix, per_latent, max_deviation)


def _run(inputs: MetricInputs, report: MetricsReport, key: str, factor_bins: int | None) -> None:
    result = irs_score(inputs.x_points, inputs.y_points, factor_bins=factor_bins)
    binning = ("equal-width histogram of each factor (disentanglement_lib's make_discretizer)" if factor_bins
               else "none: each factor held at each of its classes")
    report.add(key, result.score, {**inputs.points, "batch_size": 16, "diff_quantile": DIFF_QUANTILE,
                                   "factor_bins": factor_bins, "factor_binning": binning,
                                   "estimator": "disentanglement_lib's scalable IRS (Suter et al. 2019)",
                                   "active_dims": int(result.active.sum())})
    report.details[key.lower()] = {"factors": inputs.names_of, "factor_bins": factor_bins,
                                   "active_latents": np.flatnonzero(result.active).tolist(),
                                   "matrix": result.matrix.tolist(), "per_latent": result.per_latent.tolist(),
                                   "max_deviation": result.max_deviation.tolist()}


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric irs`` (score ``IRS``, detail ``irs``): factors in `FACTOR_BINS` bins, as disentanglement_lib."""
    inputs.say("IRS (interventional robustness)")
    _run(inputs, report, "IRS", FACTOR_BINS)


def run_unbinned(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric irs_unbinned`` (score ``IRS_unbinned``, detail ``irs_unbinned``): each factor class its own group."""
    inputs.say("IRS, factors not binned")
    _run(inputs, report, "IRS_unbinned", None)
