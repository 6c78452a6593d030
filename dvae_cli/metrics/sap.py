"""The SAP score of Kumar et al. 2018, with disentanglement_lib's protocol.

Kumar, A., Sattigeri, P., Balakrishnan, A. "Variational Inference of Disentangled
Latent Concepts from Unlabeled Observations." ICLR 2018.

For each latent and each factor, a linear SVM (C = 0.01, balanced classes) predicts
the factor from that latent alone and the score matrix holds its test accuracy
(disentanglement_lib's default for discrete factors); with ``continuous=True`` the
score is the squared correlation instead. SAP is the mean over factors of the gap
between the two best latents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport


@dataclass
class SAPScore:
    score: float
    matrix: np.ndarray     # (D, K) accuracies


def sap_score(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              continuous: bool = False) -> SAPScore:
    """SAP of codes (N, D) with factor classes (N, K)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    matrix = np.zeros((x_train.shape[1], y_train.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for j in range(x_train.shape[1]):
            for k in range(y_train.shape[1]):
                if continuous:
                    covariance = np.cov(x_train[:, j], y_train[:, k], ddof=1)
                    variance = covariance[0, 0] * covariance[1, 1]
                    # a constant latent or factor explains nothing (and would divide by 0)
                    constant = min(covariance[0, 0], covariance[1, 1]) <= 1e-12
                    matrix[j, k] = 0.0 if constant else covariance[0, 1] ** 2 / variance
                    continue
                classifier = LinearSVC(C=0.01, class_weight="balanced")
                classifier.fit(x_train[:, j:j + 1], y_train[:, k])
                matrix[j, k] = np.mean(classifier.predict(x_test[:, j:j + 1]) == y_test[:, k])
    ordered = np.sort(matrix, axis=0)
    gap = ordered[-1] - ordered[-2] if matrix.shape[0] > 1 else ordered[-1]
    return SAPScore(float(np.mean(gap)), matrix)


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric sap`` (score ``SAP``, detail ``sap``)."""
    inputs.say("SAP score")
    result = sap_score(inputs.x_train, inputs.y_train, inputs.x_test, inputs.y_test)
    report.add("SAP", result.score, {**inputs.held_out, "classifier": "LinearSVC(C=0.01, balanced)"})
    report.details["sap"] = {"factors": inputs.names_of, "matrix": result.matrix.tolist()}
