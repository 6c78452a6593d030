"""InfoMEC: modularity, explicitness and compactness from normalised mutual information (Hsu et al. 2023).

Hsu, K., Dorrell, W., Whittington, J. C. R., Wu, J., Finn, C. "Disentanglement via Latent
Quantization." NeurIPS 2023 (Section 4, "InfoMEC").

With sources s_i (the K factors) and latents z_j, NMI_ij = I(s_i; z_j) / H(s_i), I estimated
by the k-nearest-neighbour estimator of Kraskov/Ross (k = 10) on standardised latents
(sklearn's ``mutual_info_classif``) and H(s_i) the discrete entropy of the factor. Latents
whose range is below 1/20 of the largest range are pruned as inactive (L_a remain):

    InfoM = ( 1/L_a sum_j max_i NMI_ij / sum_i NMI_ij - 1/K ) / (1 - 1/K)
    InfoC = ( 1/K sum_i max_j NMI_ij / sum_j NMI_ij - 1/L_a ) / (1 - 1/L_a)
    InfoE = 1/K sum_i ( H_b(s_i) - H_f(s_i | z) ) / H_b(s_i)

where H_f is the cross-entropy of an unregularised multinomial logistic regression
(balanced classes) predicting s_i from all standardised latents, and H_b that of the
same regression on a constant input. Hsu et al. measure both on the points the
regressions were fitted to; dvae measures them on held-out images (disjoint from the
fitted ones), so a code that carries nothing scores 0 however few the images. InfoM is 1
when K = 1 and InfoC is 1 when L_a = 1 (nothing to share); all three are 0 without
an active latent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport

NEIGHBOURS = 10
PRUNE_FRACTION = 1 / 20


@dataclass
class InfoMECScore:
    infom: float
    infoe: float
    infoc: float
    nmi: np.ndarray         # (K, L)
    active: np.ndarray      # (L,) bool
    infoe_per_factor: np.ndarray   # (K,)


def _standardise(codes: np.ndarray) -> np.ndarray:
    std = codes.std(axis=0)
    return (codes - codes.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _entropy(labels: np.ndarray) -> float:
    p = np.unique(labels, return_counts=True)[1] / len(labels)
    return float(-(p * np.log(p)).sum())


def normalised_mutual_information(codes: np.ndarray, classes: np.ndarray, seed: int = 0) -> np.ndarray:
    """(K, L) NMI_ij = I(s_i; z_j) / H(s_i), kNN estimate (k = 10), clipped to [0, 1]."""
    from sklearn.feature_selection import mutual_info_classif

    z = _standardise(np.asarray(codes, dtype=np.float64))
    nmi = np.zeros((classes.shape[1], z.shape[1]))
    for i in range(classes.shape[1]):
        entropy = _entropy(classes[:, i])
        if entropy > 0:
            mi = mutual_info_classif(z, classes[:, i], discrete_features=False, n_neighbors=NEIGHBOURS,
                                     random_state=seed)
            nmi[i] = np.clip(mi / entropy, 0.0, 1.0)
    return nmi


def _cross_entropy(x: np.ndarray, y: np.ndarray, x_eval: np.ndarray, y_eval: np.ndarray) -> float:
    """Mean cross-entropy (nats) on (x_eval, y_eval) of a logistic regression fitted to (x, y).

    A test label the regression never saw gets probability 1e-15 (sklearn's ``log_loss`` clip).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = LogisticRegression(C=np.inf, class_weight="balanced", max_iter=100).fit(x, y)
    proba = model.predict_proba(x_eval)
    column = np.searchsorted(model.classes_, y_eval)
    seen = (column < len(model.classes_)) & (model.classes_[np.minimum(column, len(model.classes_) - 1)] == y_eval)
    p = np.where(seen, proba[np.arange(len(y_eval)), np.minimum(column, len(model.classes_) - 1)], 0.0)
    return float(-np.log(np.clip(p, 1e-15, 1.0)).mean())


def infoe(codes: np.ndarray, classes: np.ndarray, test: tuple[np.ndarray, np.ndarray] | None = None
          ) -> np.ndarray:
    """(K,) normalised predictive information (H_b - H_f) / H_b of each factor (see the module docstring).

    Args:
        codes, classes: (N, L) codes and (N, K) factor classes the regressions are fitted to.
        test: (codes, classes) of other images, on which the cross-entropies are measured
            (held out); None: on the fitted points themselves (in-sample, as Hsu et al.).
    """
    z = _standardise(np.asarray(codes, dtype=np.float64))
    if test is None:
        z_eval, y_eval = z, classes
    else:
        mean, std = codes.mean(axis=0), codes.std(axis=0)
        z_eval = (np.asarray(test[0], dtype=np.float64) - mean) / np.where(std > 0, std, 1.0)
        y_eval = test[1]
    out = np.zeros(classes.shape[1])
    for i in range(classes.shape[1]):
        if len(np.unique(classes[:, i])) < 2:
            continue
        marginal = _cross_entropy(np.zeros((len(z), 1)), classes[:, i], np.zeros((len(z_eval), 1)), y_eval[:, i])
        fitted = _cross_entropy(z, classes[:, i], z_eval, y_eval[:, i])
        out[i] = np.clip((marginal - fitted) / marginal, 0.0, 1.0)
    return out


def _ratio_score(nmi: np.ndarray, axis: int) -> float:
    """(mean of max / sum along `axis` - 1/n) / (1 - 1/n), n the length of `axis` (1 when n = 1)."""
    n = nmi.shape[axis]
    totals = nmi.sum(axis=axis)
    ratio = np.where(totals > 0, nmi.max(axis=axis) / np.where(totals > 0, totals, 1.0), 1.0 / n)
    if n == 1:
        return 1.0
    return float((ratio.mean() - 1.0 / n) / (1.0 - 1.0 / n))


def infomec_score(codes: np.ndarray, classes: np.ndarray, seed: int = 0,
                  test: tuple[np.ndarray, np.ndarray] | None = None) -> InfoMECScore:
    """InfoM, InfoE, InfoC of codes (N, L) with factor classes (N, K); see the module docstring.

    `test`: (codes, classes) of held-out images for InfoE (see `infoe`).
    """
    codes = np.asarray(codes, dtype=np.float64)
    ranges = codes.max(axis=0) - codes.min(axis=0)
    active = (ranges > ranges.max() * PRUNE_FRACTION) if ranges.max() > 0 else np.zeros(len(ranges), dtype=bool)
    nmi = normalised_mutual_information(codes, classes, seed)
    if not active.any():
        return InfoMECScore(0.0, 0.0, 0.0, nmi, active, np.zeros(classes.shape[1]))
    pruned = nmi[:, active]
    per_factor_e = infoe(codes, classes, test)
    return InfoMECScore(_ratio_score(pruned, axis=0), float(per_factor_e.mean()), _ratio_score(pruned, axis=1),
                        nmi, active, per_factor_e)


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric infomec`` (scores ``InfoM``, ``InfoE``, ``InfoC``; detail ``infomec``)."""
    inputs.say("InfoMEC (kNN normalised mutual information, logistic regression)")
    result = infomec_score(inputs.x_train, inputs.y_train, seed=inputs.settings.seed,
                           test=(inputs.x_test, inputs.y_test))
    protocol = {**inputs.sized, "estimator": f"kNN mutual information (k={NEIGHBOURS}) / H(s_i)",
                "pruning": f"latents with range < {PRUNE_FRACTION:g} x the largest range",
                "active_dims": int(result.active.sum())}
    report.add("InfoM", result.infom, protocol)
    report.add("InfoE", result.infoe, {**protocol, **inputs.split.protocol(),
                                       "num_eval": len(inputs.x_test),
                                       "probe": "LogisticRegression(no penalty, balanced), cross-entropy on the "
                                                "held-out images (Hsu et al.: on its training points)"})
    report.add("InfoC", result.infoc, protocol)
    report.details["infomec"] = {"factors": inputs.names_of, "nmi": result.nmi.tolist(),
                                 "active_latents": np.flatnonzero(result.active).tolist(),
                                 "infoe_per_factor": result.infoe_per_factor.tolist()}
