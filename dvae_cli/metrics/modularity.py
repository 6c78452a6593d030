"""Modularity and explicitness of Ridgeway & Mozer 2018, with disentanglement_lib's protocol.

Ridgeway, K., Mozer, M. C. "Learning Deep Disentangled Embeddings With the F-Statistic
Loss." NeurIPS 2018.

Modularity: from the discrete MI between each latent (20 bins) and each factor, each
latent scores 1 - (sum of its squared MIs but the largest) / (largest x (K - 1)).
Explicitness: ROC-AUC of a logistic regression predicting each factor from the
standardised representation, averaged over classes and factors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.metrics.mig import discrete_mi_matrix, histogram_discretize

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport


@dataclass
class ModularityScore:
    modularity: float
    per_latent: np.ndarray      # (D,)


@dataclass
class ExplicitnessScore:
    train: float
    test: float
    per_factor: np.ndarray      # (K,) test ROC-AUC


def modularity_from_mi(mi_codes_factors: np.ndarray) -> np.ndarray:
    """Per-latent modularity from a (D, K) mutual information matrix (Ridgeway & Mozer 2018, Eq. 4).

    1 - (sum of the squared MIs but the largest) / (largest x (K - 1)); 0 for a latent
    that carries no information, 1 for an informative latent when there is a single
    factor (K = 1: it cannot relate to another one).
    """
    squared = np.square(np.clip(mi_codes_factors, 0.0, None))
    top = squared.max(axis=1)
    others = squared.shape[1] - 1.0
    if others == 0:
        return np.where(top > 0, 1.0, 0.0)
    delta = (squared.sum(axis=1) - top) / (np.where(top > 0, top, 1.0) * others)
    return np.where(top > 0, np.clip(1.0 - delta, 0.0, 1.0), 0.0)


def modularity_score(codes: np.ndarray, classes: np.ndarray, bins: int = 20) -> ModularityScore:
    """Modularity of codes (N, D) with factor classes (N, K)."""
    mi = discrete_mi_matrix(histogram_discretize(codes, bins), classes).T
    per_latent = modularity_from_mi(mi)
    return ModularityScore(float(per_latent.mean()), per_latent)


def explicitness_score(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
                       ) -> ExplicitnessScore:
    """Explicitness of codes (N, D) with factor classes (N, K)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import label_binarize

    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    train, test = [], []
    for k in range(y_train.shape[1]):
        model = LogisticRegression(max_iter=1000).fit(x_train, y_train[:, k])
        scores = []
        for x, y in ((x_train, y_train[:, k]), (x_test, y_test[:, k])):
            proba = model.predict_proba(x)
            if len(model.classes_) == 2:
                scores.append(roc_auc_score(y == model.classes_[1], proba[:, 1]))
            else:
                onehot = label_binarize(y, classes=model.classes_)
                present = onehot.sum(axis=0) > 0
                scores.append(roc_auc_score(onehot[:, present], proba[:, present]))
        train.append(scores[0])
        test.append(scores[1])
    return ExplicitnessScore(float(np.mean(train)), float(np.mean(test)), np.array(test))


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric modularity`` (score ``modularity``, detail ``modularity``)."""
    inputs.say("modularity")
    result = modularity_score(inputs.x_points, inputs.y_points, inputs.settings.bins)
    report.add("modularity", result.modularity, {**inputs.points, "bins": inputs.settings.bins})
    report.details["modularity"] = {"per_latent": result.per_latent.tolist()}


def run_explicitness(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric explicitness`` (score ``explicitness``, detail ``explicitness``)."""
    inputs.say("explicitness")
    result = explicitness_score(inputs.x_train, inputs.y_train, inputs.x_test, inputs.y_test)
    report.add("explicitness", result.test, {**inputs.held_out, "classifier": "LogisticRegression, ROC-AUC"})
    report.details["explicitness"] = {"factors": inputs.names_of, "per_factor": result.per_factor.tolist(),
                                      "train": result.train}
