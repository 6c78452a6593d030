"""Unsupervised Disentanglement Ranking (UDR): how alike the latents of models trained with different seeds are.

Duan, S., Matthey, L., Saraiva, A., Watters, N., Burgess, C., Lerchner, A., Higgins, I.
"Unsupervised Model Selection for Variational Disentangled Representation Learning."
ICLR 2020 (Section 3; disentanglement_lib's ``evaluation/udr/metrics/udr.py``).

Disentangled models of one hyper-parameter setting agree with each other up to a
permutation, sign and scale of their latents; entangled ones each mix the factors in
their own way. For two models a and b, on the posterior means of the same N images
(disentanglement_lib: 1,000):

- informative latents are those whose mean KL( q(z_d|x) || N(0,1) ) exceeds
  `KL_THRESHOLD` (0.01 nats); the others are dropped before the score (their rows and
  columns leave R, the sums and the maxima), as disentanglement_lib does;
- R(a, b) (d_a x d_b, absolute values) says how strongly each informative latent of a
  goes with each of b. The *correlation* (`CORRELATIONS`) makes it:
  ``lasso`` (the default, disentanglement_lib's ``compute_udr_sklearn`` default): each
  model's means standardised (zero mean, unit population variance; latents not
  informative set to 0), then |coefficients| of a Lasso (alpha 0.1, scikit-learn's
  objective 1/(2N) ||y - X w - c||^2 + alpha ||w||_1) from a's latents to each latent
  of b, so R(a, b) is not R(b, a) transposed; ``spearman`` (the paper's UDR_S) or
  ``pearson``: |rho|, the same either way round;
- with r_a = max_b R(a, b), r_b = max_a R(a, b), the *weighting* (`WEIGHTINGS`) gives

  ``dlib`` (the default; disentanglement_lib's ``relative_strength_disentanglement``):
      UDR_ab = 1/2 [ mean_b r_b^2 / sum_a R(a, b) + mean_a r_a^2 / sum_b R(a, b) ]
  ``paper`` (Duan et al.'s equation, with I_KL = 1 on the latents kept):
      UDR_ab = 1 / (d_a + d_b) [ sum_b r_b^2 / sum_a R(a, b) + sum_a r_a^2 / sum_b R(a, b) ]

  the same number when d_a = d_b. A latent that goes with nothing (sum 0: a constant
  mean, or a Lasso target no latent of a predicts) adds 0 and still counts.

A model's UDR is the median of UDR_ab over the other models a of its setting (with the
Lasso, b is the model scored: the others' latents predict its latents, as
disentanglement_lib's ``model_scores``). With 2 models per setting it is the score of
one pair: both models get it with ``spearman`` and ``pearson``, and the two directions
of one Lasso pair with ``lasso``.

Without an option, dvae computes disentanglement_lib's protocol (``lasso``, ``dlib``);
``spearman`` and ``pearson`` default to the paper's weighting. Where dvae differs from
disentanglement_lib: a model with no informative latent scores 0.0 against any other
(nothing to match; disentanglement_lib's mean of an empty matrix is NaN), and a
`kl_threshold` other than 0.01 both zeroes and drops those latents (disentanglement_lib
zeroes at 0.01 whatever its ``kl_filter_threshold``).

The score rewards both a one-to-one match and its strength: every small |rho| adds to
a sum, so a model against itself scores a little under 1 (about 0.9 for 5 independent
Gaussian latents on 1,000 images with ``spearman``) unless its latents are exactly
uncorrelated in the sample.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dvae_cli.errors import ConfigError, UnknownNameError

#: Nats: latents whose mean KL is not above it are uninformative (disentanglement_lib's ``kl_filter_threshold``).
KL_THRESHOLD = 0.01
#: Images per model in disentanglement_lib's UDR (``num_data_points``).
NUM_POINTS = 1000
#: R(a, b): disentanglement_lib's default first.
CORRELATIONS = ("lasso", "spearman", "pearson")
#: The correlation coefficients `correlations` computes (symmetric, unlike the Lasso).
COEFFICIENTS = ("spearman", "pearson")
#: How UDR_ab weighs the latents' terms: disentanglement_lib's mean of means, or the paper's 1 / (d_a + d_b).
WEIGHTINGS = ("dlib", "paper")
#: disentanglement_lib's ``lasso_correlation_matrix``: ``linear_model.Lasso(alpha=0.1)``.
LASSO_ALPHA = 0.1


def default_weighting(correlation: str) -> str:
    """The weighting that goes with `correlation` when none is named: ``dlib`` with ``lasso``
    (disentanglement_lib's protocol), ``paper`` with ``spearman`` and ``pearson`` (the paper's UDR_S).

    Raises:
        UnknownNameError: (a `ConfigError`) for another `correlation`.
    """
    _check_names(correlation, "dlib")
    return "dlib" if correlation == "lasso" else "paper"


def _check_names(correlation: str, weighting: str) -> None:
    if correlation not in CORRELATIONS:
        raise UnknownNameError("UDR correlation", correlation, CORRELATIONS)
    if weighting not in WEIGHTINGS:
        raise UnknownNameError("UDR weighting", weighting, WEIGHTINGS)


def udr_protocol(correlation: str = "lasso", weighting: str | None = None,
                 kl_threshold: float = KL_THRESHOLD) -> dict[str, Any]:
    """How UDR is computed, for a study's outputs: the correlation, the weighting and their formulas.

    Raises:
        UnknownNameError: (a `ConfigError`) for an unknown correlation or weighting.
    """
    weighting = weighting or default_weighting(correlation)
    _check_names(correlation, weighting)
    matrix = {"lasso": f"|Lasso coefficients| (alpha {LASSO_ALPHA}) from one model's standardised means to the "
                       "other's, as disentanglement_lib",
              "spearman": "|Spearman's rho| (the paper's UDR_S)", "pearson": "|Pearson's r|"}[correlation]
    formula = {"dlib": "(mean over columns + mean over rows of max^2 / sum) / 2, as disentanglement_lib",
               "paper": "(sum over columns + sum over rows of max^2 / sum) / (d_a + d_b), as Duan et al."}[weighting]
    return {"correlation": correlation, "weighting": weighting, "matrix": matrix, "pair_score": formula,
            "kl_threshold": kl_threshold, "model_score": "median over the other models of its setting",
            "disentanglement_lib": correlation == "lasso" and weighting == "dlib"}


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
    """(N, D) columns whose dot products are the correlations of `correlation` (a `COEFFICIENTS`)."""
    if correlation not in COEFFICIENTS:
        raise UnknownNameError("correlation", correlation, COEFFICIENTS)
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


@dataclass(frozen=True)
class _Prepared:
    """One model ready to be paired: `values` (N, D'), `keep` (D,) its informative latents.

    With ``lasso`` `values` holds all D latents standardised, the others set to 0 (the
    Lasso fits on them as disentanglement_lib does); otherwise the informative columns
    alone, prepared so that their dot products are the correlations.
    """

    values: np.ndarray
    keep: np.ndarray


def _standardised(means: np.ndarray) -> np.ndarray:
    """scikit-learn's StandardScaler (population variance; a constant column becomes 0), as disentanglement_lib.

    Each column is first divided by its largest magnitude (no change to the result but
    round-off), so that the variance neither overflows (1e300) nor underflows (1e-300)
    and a constant column is exactly constant.
    """
    from sklearn.preprocessing import StandardScaler

    scale = np.abs(means).max(axis=0)
    scaled = means / np.where(scale > 0, scale, 1.0)
    return np.asarray(StandardScaler().fit_transform(scaled), dtype=np.float64)


def _informative(rep: Representation, what: str, kl_threshold: float, correlation: str) -> _Prepared:
    """`rep` prepared for `correlation`, its latents whose KL exceeds `kl_threshold` kept."""
    means, kl = _checked(rep, what)
    keep = kl > kl_threshold
    if correlation == "lasso":
        values = _standardised(means) * keep if means.shape[1] else means
        return _Prepared(values, keep)
    return _Prepared(_prepared(means[:, keep], correlation), keep)


def lasso_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|coefficients| (Da, Db) of a Lasso (alpha `LASSO_ALPHA`) from the columns of `a` (N, Da) to each column
    of `b` (N, Db): row i, column j is |w_ij| in b_j ~ sum_i w_ij a_i + c_j (disentanglement_lib's
    ``lasso_correlation_matrix``, scikit-learn's Lasso with its defaults otherwise)."""
    from sklearn.linear_model import Lasso

    model = Lasso(alpha=LASSO_ALPHA)
    model.fit(a, b)
    return np.abs(np.asarray(model.coef_, dtype=np.float64).reshape(b.shape[1], a.shape[1])).T


def relative_strength(matrix: np.ndarray, weighting: str = "dlib") -> float:
    """UDR_ab of an absolute correlation matrix (d_a, d_b) of informative latents.

    Args:
        matrix: R(a, b) >= 0.
        weighting: ``"dlib"``: (mean over columns of max^2 / sum + mean over rows of max^2 / sum) / 2;
            ``"paper"``: 1 / (d_a + d_b) * (the same two sums).

    Returns:
        The score in [0, 1]; a row or column summing to 0 adds 0; 0.0 when d_a or d_b is 0.

    Raises:
        UnknownNameError: (a `ConfigError`) for another `weighting`.
    """
    _check_names("lasso", weighting)
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.size == 0:
        return 0.0
    terms = []
    for axis in (0, 1):
        sums = matrix.sum(axis=axis)
        peaks = matrix.max(axis=axis)
        terms.append(np.divide(peaks**2, sums, out=np.zeros_like(sums), where=sums > 0))
    if weighting == "dlib":
        return float((terms[0].mean() + terms[1].mean()) / 2)
    return float(np.sum(terms[0]) + np.sum(terms[1])) / sum(matrix.shape)


def _pair(a: _Prepared, b: _Prepared, correlation: str, weighting: str, names: str = "the two models") -> float:
    """UDR_ab of two `_informative` models."""
    if len(a.values) != len(b.values):
        raise ConfigError(f"UDR: {names} encode different numbers of images ({len(a.values)} and {len(b.values)}); "
                          "every model must encode the same sample of images")
    if correlation != "lasso":
        return relative_strength(np.abs(np.clip(a.values.T @ b.values, -1.0, 1.0)), weighting)
    if not (a.keep.any() and b.keep.any()):
        return 0.0
    return relative_strength(lasso_matrix(a.values, b.values)[np.ix_(a.keep, b.keep)], weighting)


def _settings(kl_threshold: float, correlation: str, weighting: str | None) -> str:
    """The weighting, once the three settings are checked."""
    _check_threshold(kl_threshold)
    weighting = weighting or default_weighting(correlation)
    _check_names(correlation, weighting)
    return weighting


def udr_pair(a: Representation, b: Representation, kl_threshold: float = KL_THRESHOLD,
             correlation: str = "lasso", weighting: str | None = None) -> float:
    """UDR_ab of two models, in [0, 1] (Duan et al. 2020, Section 3; disentanglement_lib's ``udr.py``).

    1.0 when the informative latents of one are a permutation of the other's, each up to
    an affine map (``pearson``) or a monotonic map (``spearman``); with ``lasso`` the
    shrinkage makes that 1 - alpha = 0.9 (for latents uncorrelated in the sample). Near
    0 for unrelated codes (0.0 with ``lasso``: no weight survives alpha). Symmetric in `a` and `b` with ``spearman`` and ``pearson``; with ``lasso`` a's
    latents predict b's (disentanglement_lib's ``disentanglement[a, b]``, a term of b's score).

    Args:
        a, b: The two models' posterior means (N, D_a), (N, D_b) and mean KL per latent (nats).
        kl_threshold: Latents with mean KL not above it (nats) are dropped.
        correlation: One of `CORRELATIONS` (``"lasso"``: disentanglement_lib's default).
        weighting: One of `WEIGHTINGS`; None: `default_weighting` of `correlation`.

    Returns:
        The score; 0.0 when either model has no informative latent (nothing to match).

    Raises:
        ConfigError: on mismatched shapes, fewer than 2 images, different image counts,
            NaN or inf, a negative threshold, or an unknown `correlation` or `weighting`
            (naming the choices).
    """
    weighting = _settings(kl_threshold, correlation, weighting)
    return _pair(_informative(a, "model a", kl_threshold, correlation),
                 _informative(b, "model b", kl_threshold, correlation), correlation, weighting)


def udr_scores(groups: Sequence[Sequence[Representation]], kl_threshold: float = KL_THRESHOLD,
               correlation: str = "lasso", weighting: str | None = None) -> list[list[float | None]]:
    """Each model's UDR: the median of `udr_pair` (other, model) over the other models of its group.

    Args:
        groups: One sequence per hyper-parameter setting, of its models (different seeds).
        kl_threshold, correlation, weighting: As in `udr_pair`.

    Returns:
        One list per group, one score per model in the given order; None for a model
        alone in its group (no partner to compare with). With an even number of
        partners the median is the mean of the middle two; with one partner it is
        that pair's score (so it rests on 2 models).

    Raises:
        ConfigError: as `udr_pair`, for any model (a lone model is checked too).
    """
    weighting = _settings(kl_threshold, correlation, weighting)
    symmetric = correlation != "lasso"
    out: list[list[float | None]] = []
    for g, group in enumerate(groups):
        prepared = [_informative(rep, f"model {m} of group {g}", kl_threshold, correlation)
                    for m, rep in enumerate(group)]
        pairs = np.zeros((len(prepared), len(prepared)))     # pairs[a, b] = UDR_ab
        for i in range(len(prepared)):
            for j in range(len(prepared)):
                if i == j or (symmetric and j < i):
                    continue
                pairs[i, j] = _pair(prepared[i], prepared[j], correlation, weighting,
                                    f"models {i} and {j} of group {g}")
                if symmetric:
                    pairs[j, i] = pairs[i, j]
        out.append([statistics.median(np.delete(pairs[:, i], i).tolist()) if len(prepared) > 1 else None
                    for i in range(len(prepared))])
    return out
