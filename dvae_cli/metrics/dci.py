"""DCI disentanglement, completeness and informativeness of Eastwood & Williams 2018.

Eastwood, C., Williams, C. K. I. "A Framework for the Quantitative Evaluation of
Disentangled Representations." ICLR 2018.

As disentanglement_lib: one gradient-boosted classifier per factor on 10,000 random
images (tested on 5,000) gives the importance of each latent for each factor (R, D x K).
Disentanglement = sum_j rho_j (1 - H_K(P_j.)), completeness = sum_k rho_k
(1 - H_D(P_.k)), informativeness = mean test accuracy of the classifiers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport


@dataclass
class DCIScore:
    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: np.ndarray      # (D, K)


#: scikit-learn's (and disentanglement_lib's) boosting stages and learning rate.
DEFAULT_TREES, DEFAULT_LEARNING_RATE = 100, 0.1


def learning_rate(trees: int) -> float:
    """The learning rate of `trees` boosting stages: 0.1 x 100 / trees, at most 1.

    Fewer stages (``--fast`` on a large latent dimension, `MetricSettings.bounded`) take
    proportionally larger steps, so the classifier's total step (stages x rate) stays
    that of the default protocol.
    """
    return min(1.0, DEFAULT_LEARNING_RATE * DEFAULT_TREES / max(1, trees))


def classifier_name(trees: int) -> str:
    """The classifier as the protocol records it."""
    if trees == DEFAULT_TREES:
        return "GradientBoostingClassifier()"
    return f"GradientBoostingClassifier(n_estimators={trees}, learning_rate={learning_rate(trees):g})"


def _fit_one(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int,
             trees: int = DEFAULT_TREES) -> tuple[np.ndarray, float, float]:
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(random_state=seed) if trees == DEFAULT_TREES else \
        GradientBoostingClassifier(n_estimators=trees, learning_rate=learning_rate(trees), random_state=seed)
    model.fit(x_train, y_train)
    return (np.abs(model.feature_importances_), float(np.mean(model.predict(x_train) == y_train)),
            float(np.mean(model.predict(x_test) == y_test)))


def normalised_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of the (unnormalised) distributions along `axis`, in base n (their length), in [0, 1].

    A distribution over a single outcome (n = 1) has entropy 0 (base 1 would divide
    by log 1 = 0): one latent carries all of each factor, one factor all of each latent.
    """
    n = p.shape[axis]
    if n == 1:
        return np.zeros(np.delete(p.shape, axis))
    return np.clip(stats.entropy(p + 1e-11, base=n, axis=axis), 0.0, 1.0)


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean over latents of 1 - entropy (base K) of each latent's row.

    Eastwood & Williams 2018, Section 3.1 (D_i = 1 - H_K(P_i.)); 1 when K = 1.
    """
    per_code = 1.0 - normalised_entropy(importance, axis=1)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean over factors of 1 - entropy (base D) of each factor's column.

    Eastwood & Williams 2018, Section 3.2 (C_j = 1 - H_D(P_.j)); 1 when D = 1.
    """
    per_factor = 1.0 - normalised_entropy(importance, axis=0)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


def dci_score(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              seed: int = 0, jobs: int | None = None, trees: int = DEFAULT_TREES) -> DCIScore:
    """DCI of codes (N, D) with factor classes (N, K); the K classifiers run in parallel.

    Args:
        trees: Boosting stages of each classifier (`learning_rate` follows them).
    """
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=jobs or min(y_train.shape[1], 2))(
        delayed(_fit_one)(x_train, y_train[:, k], x_test, y_test[:, k], seed + k, trees)
        for k in range(y_train.shape[1]))
    importance = np.stack([r[0] for r in results], axis=1)
    return DCIScore(disentanglement(importance), completeness(importance),
                    float(np.mean([r[1] for r in results])), float(np.mean([r[2] for r in results])), importance)


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric dci`` (scores ``DCI_disentanglement``, ``DCI_completeness``, ``DCI_informativeness``)."""
    inputs.say("DCI (gradient-boosted trees, one per factor)")
    trees = inputs.settings.dci_trees
    result = dci_score(inputs.x_train, inputs.y_train, inputs.x_test, inputs.y_test, seed=inputs.settings.seed,
                       trees=trees)
    protocol = {**inputs.held_out, "classifier": classifier_name(trees)}
    report.add("DCI_disentanglement", result.disentanglement, protocol)
    report.add("DCI_completeness", result.completeness, protocol)
    report.add("DCI_informativeness", result.informativeness_test, protocol)
    report.details["dci"] = {"factors": inputs.names_of, "importance": result.importance.tolist(),
                             "informativeness_train": result.informativeness_train}
