"""DCI-ES: DCI with explicitness (E) and size (S), from loss-capacity curves (Eastwood et al. 2023).

Eastwood, C., Nicolicioiu, A. L., von Kuegelgen, J., Kekic, A., Traeuble, F., Dittadi, A.,
Schoelkopf, B. "DCI-ES: An Extended Disentanglement Framework with Connections to
Identifiability." ICLR 2023.

For each factor v_j (class index scaled to [0, 1]) a family of probes f of growing
capacity kappa predicts v_j from the code c; the loss-capacity curve is the test MSE
l_j(kappa), each point the lowest loss reached up to that capacity (as the authors do).
With the capacities rescaled to [0, 1], l_b,j the loss of the best constant predictor
(the factor's variance) and the loss floor l* = 0 (noiseless factors):

    AULCC_j = integral_0^1 (l_j(kappa) - l*) dkappa   (trapezoids),  Z_j = l_b,j - l*,
    E_j = 1 - AULCC_j / Z_j,   E = mean_j E_j        (Section 4.1),
    S = K / L                                         (Section 4.2: K factors, L latents),

and, from the highest-capacity probe, the D, C and I of Eastwood & Williams 2018:
D and C from its feature importances R (L x K) as in `dvae_cli.metrics.dci`, and
I = mean_j max(0, 1 - l_j(kappa_max) / l_b,j).

Probe family: random forests (10 trees) of maximum depth 1, 2, 3, 4, 6, 8, 12, 16, the
depth being the capacity; fitted on ``num_train`` points, tested on ``num_eval``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.metrics.dci import completeness, disentanglement

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport

DEPTHS = (1, 2, 3, 4, 6, 8, 12, 16)
TREES = 10
PROBE_FAMILY = f"RandomForestRegressor(n_estimators={TREES}, max_depth in {list(DEPTHS)})"


@dataclass
class DCIESScore:
    disentanglement: float
    completeness: float
    informativeness: float
    explicitness: float
    size: float
    importance: np.ndarray        # (L, K) of the largest probes
    curves: np.ndarray            # (K, len(DEPTHS)) test MSE, running minimum
    baseline: np.ndarray          # (K,) l_b
    per_factor_explicitness: np.ndarray   # (K,)


def explicitness(capacities: np.ndarray, losses: np.ndarray, baseline: float, floor: float = 0.0) -> float:
    """E = 1 - AULCC / Z of one loss-capacity curve (Eastwood et al. 2023, Section 4.1).

    Args:
        capacities: Increasing capacities, shape (C,), C >= 2 (rescaled to [0, 1] here).
        losses: Test loss at each capacity, shape (C,) (the running minimum is taken).
        baseline: l_b, the loss of the best constant predictor.
        floor: l*, the lowest loss possible.

    Returns:
        E, clipped to [0, 1] (0 when the baseline is not above the floor).
    """
    x = (capacities - capacities[0]) / (capacities[-1] - capacities[0])
    y = np.minimum.accumulate(np.asarray(losses, dtype=np.float64)) - floor
    z = baseline - floor
    if z <= 0:
        return 0.0
    area = float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(x)))
    return float(np.clip(1.0 - area / z, 0.0, 1.0))


def _curve(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int
           ) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.ensemble import RandomForestRegressor

    losses, importance = [], np.zeros(x_train.shape[1])
    for depth in DEPTHS:
        probe = RandomForestRegressor(n_estimators=TREES, max_depth=depth, random_state=seed, n_jobs=1)
        probe.fit(x_train, y_train)
        losses.append(float(np.mean((probe.predict(x_test) - y_test) ** 2)))
        importance = probe.feature_importances_
    return np.array(losses), np.abs(importance)


def dci_es_score(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                 seed: int = 0) -> DCIESScore:
    """DCI-ES of codes (N, L) with factor classes (N, K); see the module docstring."""
    from joblib import Parallel, delayed

    low, high = y_train.min(axis=0), y_train.max(axis=0)
    span = np.where(high > low, high - low, 1)
    v_train, v_test = (y_train - low) / span, (y_test - low) / span
    k_count = y_train.shape[1]
    results = Parallel(n_jobs=min(k_count, 2))(
        delayed(_curve)(x_train, v_train[:, k], x_test, v_test[:, k], seed + k) for k in range(k_count))
    curves = np.minimum.accumulate(np.stack([r[0] for r in results]), axis=1)
    importance = np.stack([r[1] for r in results], axis=1)
    baseline = np.mean((v_test - v_train.mean(axis=0)) ** 2, axis=0)
    capacities = np.array(DEPTHS, dtype=np.float64)
    per_e = np.array([explicitness(capacities, curves[k], baseline[k]) for k in range(k_count)])
    informativeness = np.clip(1.0 - curves[:, -1] / np.where(baseline > 0, baseline, 1.0), 0.0, 1.0)
    return DCIESScore(disentanglement(importance), completeness(importance), float(np.mean(informativeness)),
                      float(np.mean(per_e)), k_count / x_train.shape[1], importance, curves, baseline, per_e)


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric dci_es`` (scores ``DCI_ES_*``, detail ``dci_es``)."""
    inputs.say("DCI-ES (random-forest probes of growing depth, one curve per factor)")
    result = dci_es_score(inputs.x_train, inputs.y_train, inputs.x_test, inputs.y_test, seed=inputs.settings.seed)
    protocol = {**inputs.held_out, "probe_family": PROBE_FAMILY, "capacity": "max_depth, rescaled to [0, 1]",
                "loss": "test MSE of the factor class scaled to [0, 1]", "loss_floor": 0.0,
                "baseline": "MSE of the training mean"}
    for name in ("disentanglement", "completeness", "informativeness", "explicitness", "size"):
        report.add(f"DCI_ES_{name}", getattr(result, name), protocol)
    report.details["dci_es"] = {"factors": inputs.names_of, "probe_family": PROBE_FAMILY,
                                "capacities": list(DEPTHS), "loss_capacity": result.curves.tolist(),
                                "baseline_loss": result.baseline.tolist(), "importance": result.importance.tolist(),
                                "explicitness_per_factor": result.per_factor_explicitness.tolist()}
