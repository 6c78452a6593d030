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

import numpy as np
from scipy import stats


@dataclass
class DCIScore:
    disentanglement: float
    completeness: float
    informativeness_train: float
    informativeness_test: float
    importance: np.ndarray      # (D, K)


def _fit_one(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int
             ) -> tuple[np.ndarray, float, float]:
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(random_state=seed)
    model.fit(x_train, y_train)
    return (np.abs(model.feature_importances_), float(np.mean(model.predict(x_train) == y_train)),
            float(np.mean(model.predict(x_test) == y_test)))


def disentanglement(importance: np.ndarray) -> float:
    """Importance-weighted mean over latents of 1 - entropy (base K) of each latent's row."""
    per_code = 1.0 - stats.entropy(importance.T + 1e-11, base=importance.shape[1])
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))


def completeness(importance: np.ndarray) -> float:
    """Importance-weighted mean over factors of 1 - entropy (base D) of each factor's column."""
    per_factor = 1.0 - stats.entropy(importance + 1e-11, base=importance.shape[0])
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


def dci_score(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              seed: int = 0, jobs: int | None = None) -> DCIScore:
    """DCI of codes (N, D) with factor classes (N, K); the K classifiers run in parallel."""
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=jobs or min(y_train.shape[1], 2))(
        delayed(_fit_one)(x_train, y_train[:, k], x_test, y_test[:, k], seed + k) for k in range(y_train.shape[1]))
    importance = np.stack([r[0] for r in results], axis=1)
    return DCIScore(disentanglement(importance), completeness(importance),
                    float(np.mean([r[1] for r in results])), float(np.mean([r[2] for r in results])), importance)
