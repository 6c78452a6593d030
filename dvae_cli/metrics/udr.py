"""Unsupervised Disentanglement Ranking (UDR): how alike the latents of models trained with different seeds are.

Duan, S., Matthey, L., Saraiva, A., Watters, N., Burgess, C., Lerchner, A., Higgins, I.
"Unsupervised Model Selection for Variational Disentangled Representation Learning."
ICLR 2020 (Section 3; disentanglement_lib's ``evaluation/udr/metrics/udr.py``).

Disentangled models of one hyper-parameter setting agree with each other up to a
permutation, sign and scale of their latents; entangled ones each mix the factors in
their own way. For two models a and b, on the posterior means of the same N images
(disentanglement_lib: 1,000):

- informative latents are those whose mean KL( q(z_d|x) || N(0,1) ) exceeds
  `KL_THRESHOLD` (0.01 nats); the others are dropped before anything else, as
  disentanglement_lib does (their rows and columns leave R, the sums and the maxima);
- R(a, b) = |corr(z_a, z_b)| between each informative latent of a and each of b
  (Spearman by default, as the paper's UDR_S; Pearson on request);
- with r_a = max_b R(a, b), r_b = max_a R(a, b) and d_a, d_b the informative latents,

  UDR_ab = 1 / (d_a + d_b) * [ sum_b r_b^2 / sum_a R(a, b) + sum_a r_a^2 / sum_b R(a, b) ]

  (the paper's equation, with I_KL = 1 on the latents kept). A latent that correlates
  with nothing (sum 0, e.g. a constant mean) adds 0 and still counts in d.

A model's UDR is the median of UDR_ab over the other models of its setting.

The score rewards both a one-to-one match and its strength: every small |rho| adds to
a sum, so a model against itself scores a little under 1 (about 0.9 for 5 independent
Gaussian latents on 1,000 images) unless its latents are exactly uncorrelated in the sample.

Where the paper and disentanglement_lib differ, this module follows the paper's
weight 1 / (d_a + d_b); disentanglement_lib averages the two sums' means,
(sum_b / d_b + sum_a / d_a) / 2, which is the same number when d_a = d_b.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dvae_cli.errors import ConfigError, UnknownNameError

#: Nats: latents whose mean KL is not above it are uninformative (disentanglement_lib's ``kl_filter_threshold``).
KL_THRESHOLD = 0.01
#: Images per model in disentanglement_lib's UDR (``num_data_points``).
NUM_POINTS = 1000
CORRELATIONS = ("spearman", "pearson")


@dataclass(frozen=True, eq=False)
class Representation:
    """One trained model's representation of a shared sample of images.

    Attributes:
        means: (N, D) posterior means of N images (the same N images, same order, for every model).
        kl: (D,) mean KL( q(z_d|x) || N(0,1) ) per latent over those images, in nats.
    """

    means: np.ndarray
    kl: np.ndarray


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..N of each column of `values` (N, D), ties sharing their mean rank (as Spearman's rho needs)."""
    values = np.asarray(values, dtype=np.float64)
    ranks = np.empty(values.shape)
    for j in range(values.shape[1]):
        _, inverse, counts = np.unique(values[:, j], return_inverse=True, return_counts=True)
        last = np.cumsum(counts)                          # rank of the last of each group of ties
        ranks[:, j] = (last - (counts - 1) / 2)[inverse.reshape(-1)]
    return ranks


def _unit_columns(values: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to norm 1; a constant column becomes zeros (it correlates with nothing).

    Each column is first divided by its largest magnitude, so that neither the mean
    nor the squares overflow (1e300) or underflow (1e-300).
    """
    scale = np.abs(values).max(axis=0)
    scaled = values / np.where(scale > 0, scale, 1.0)
    centred = scaled - scaled.mean(axis=0)
    norm = np.sqrt((centred**2).sum(axis=0))
    constant = (values.max(axis=0) == values.min(axis=0)) | (norm == 0)
    centred[:, constant] = 0.0
    return centred / np.where(constant, 1.0, norm)


def _prepared(values: np.ndarray, correlation: str) -> np.ndarray:
    """(N, D) columns whose dot products are the correlations of `correlation`."""
    if correlation not in CORRELATIONS:
        raise UnknownNameError("correlation", correlation, CORRELATIONS)
    return _unit_columns(average_ranks(values) if correlation == "spearman" else np.asarray(values, np.float64))


def correlations(a: np.ndarray, b: np.ndarray, correlation: str = "spearman") -> np.ndarray:
    """Signed correlation of every column of `a` (N, Da) with every column of `b` (N, Db).

    Args:
        a, b: Values of the same N items, N >= 2.
        correlation: ``"spearman"`` (Pearson's r of the average ranks) or ``"pearson"``.

    Returns:
        (Da, Db) correlations in [-1, 1]; 0 where either column is constant.

    Raises:
        UnknownNameError: (a `ConfigError`) for another `correlation`.
    """
    product = _prepared(a, correlation).T @ _prepared(b, correlation)
    return np.clip(product, -1.0, 1.0)


def _checked(rep: Representation, what: str) -> tuple[np.ndarray, np.ndarray]:
    """(means, kl) of `rep` as float64, or ConfigError naming what is wrong."""
    means, kl = np.asarray(rep.means, dtype=np.float64), np.asarray(rep.kl, dtype=np.float64)
    if means.ndim != 2 or kl.shape != (means.shape[1],):
        raise ConfigError(f"UDR: {what} needs means of shape (N, D) and kl of shape (D,), got means "
                          f"{means.shape} and kl {kl.shape}")
    if len(means) < 2:
        raise ConfigError(f"UDR: {what} has {len(means)} image(s); correlations need at least 2 "
                          f"(disentanglement_lib uses {NUM_POINTS:,})")
    for name, array in (("means", means), ("kl", kl)):
        if not np.isfinite(array).all():
            raise ConfigError(f"UDR: {what} has {int((~np.isfinite(array)).sum())} non-finite value(s) "
                              f"(NaN or inf) in its {name}")
    return means, kl


def _check_threshold(kl_threshold: float) -> None:
    if not (math.isfinite(kl_threshold) and kl_threshold >= 0):
        raise ConfigError(f"UDR: kl_threshold must be a finite number of nats >= 0, got {kl_threshold}")


def _informative(rep: Representation, what: str, kl_threshold: float, correlation: str) -> np.ndarray:
    """(N, d) prepared columns of the latents whose KL exceeds `kl_threshold`."""
    means, kl = _checked(rep, what)
    return _prepared(means[:, kl > kl_threshold], correlation)


def relative_strength(matrix: np.ndarray) -> float:
    """The paper's UDR_ab of an absolute correlation matrix (d_a, d_b) of informative latents.

    Returns:
        1 / (d_a + d_b) * (sum over columns of max^2 / sum + sum over rows of max^2 / sum),
        in [0, 1]; a row or column summing to 0 adds 0; 0.0 when d_a or d_b is 0.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return 0.0
    total = 0.0
    for axis in (0, 1):
        sums = matrix.sum(axis=axis)
        peaks = matrix.max(axis=axis)
        total += float(np.sum(np.divide(peaks**2, sums, out=np.zeros_like(sums), where=sums > 0)))
    return total / sum(matrix.shape)


def _pair(a: np.ndarray, b: np.ndarray, names: str = "the two models") -> float:
    """UDR_ab of two `_informative` matrices."""
    if len(a) != len(b):
        raise ConfigError(f"UDR: {names} encode different numbers of images ({len(a)} and {len(b)}); "
                          "every model must encode the same sample of images")
    return relative_strength(np.abs(np.clip(a.T @ b, -1.0, 1.0)))


def udr_pair(a: Representation, b: Representation, kl_threshold: float = KL_THRESHOLD,
             correlation: str = "spearman") -> float:
    """UDR_ij of two models, in [0, 1] (Duan et al. 2020, Section 3).

    1.0 when the informative latents of one are a permutation of the other's, each
    up to a monotonic map (Spearman) or an affine map (Pearson), sign flips included;
    near 0 for unrelated codes. Symmetric in `a` and `b`.

    Args:
        a, b: The two models' posterior means (N, D_a), (N, D_b) and mean KL per latent (nats).
        kl_threshold: Latents with mean KL not above it (nats) are dropped.
        correlation: ``"spearman"`` (the paper's UDR_S) or ``"pearson"``.

    Returns:
        The score; 0.0 when either model has no informative latent (nothing to match).

    Raises:
        ConfigError: on mismatched shapes, fewer than 2 images, different image counts,
            NaN or inf, a negative threshold, or an unknown `correlation` (naming the choices).
    """
    _check_threshold(kl_threshold)
    return _pair(_informative(a, "model a", kl_threshold, correlation),
                 _informative(b, "model b", kl_threshold, correlation))


def udr_scores(groups: Sequence[Sequence[Representation]], kl_threshold: float = KL_THRESHOLD,
               correlation: str = "spearman") -> list[list[float | None]]:
    """Each model's UDR: the median of `udr_pair` with every other model of its group.

    Args:
        groups: One sequence per hyper-parameter setting, of its models (different seeds).
        kl_threshold: As in `udr_pair` (nats).
        correlation: As in `udr_pair`.

    Returns:
        One list per group, one score per model in the given order; None for a model
        alone in its group (no partner to compare with). With an even number of
        partners the median is the mean of the middle two.

    Raises:
        ConfigError: as `udr_pair`, for any model (a lone model is checked too).
    """
    _check_threshold(kl_threshold)
    out: list[list[float | None]] = []
    for g, group in enumerate(groups):
        prepared = [_informative(rep, f"model {m} of group {g}", kl_threshold, correlation)
                    for m, rep in enumerate(group)]
        pairs = np.zeros((len(prepared), len(prepared)))
        for i in range(len(prepared)):
            for j in range(i + 1, len(prepared)):
                pairs[i, j] = pairs[j, i] = _pair(prepared[i], prepared[j], f"models {i} and {j} of group {g}")
        out.append([statistics.median(np.delete(pairs[i], i).tolist()) if len(prepared) > 1 else None
                    for i in range(len(prepared))])
    return out
