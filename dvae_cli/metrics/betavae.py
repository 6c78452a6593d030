"""The BetaVAE score of Higgins et al. 2017, with disentanglement_lib's protocol.

Higgins, I., et al. "beta-VAE: Learning Basic Visual Concepts with a Constrained
Variational Framework." ICLR 2017 (Section 3).

Each training point fixes one random factor between 64 pairs of images; its feature is
the mean absolute difference of the pairs' representations, its label the factor. The
score is the test accuracy of a logistic regression predicting the factor, on points
built from images disjoint from those of its training points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from dvae_cli.metrics.sampling import FactorSampler

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport


@dataclass
class BetaVAEScore:
    train_accuracy: float
    eval_accuracy: float


def _points(codes: np.ndarray, sampler: FactorSampler, batch_size: int, num_points: int
            ) -> tuple[np.ndarray, np.ndarray]:
    labels = sampler.rng.integers(0, sampler.num_factors, size=num_points)
    first = sampler.uniform(num_points * batch_size).reshape(num_points, batch_size)
    second = np.empty_like(first)
    for factor in range(sampler.num_factors):
        rows = np.flatnonzero(labels == factor)
        if len(rows):
            values = sampler.classes[first[rows], factor].reshape(-1)
            second[rows] = sampler.with_factor(factor, values).reshape(len(rows), batch_size)
    features = np.abs(codes[first] - codes[second]).mean(axis=1)
    return features, labels


def betavae_score(codes: np.ndarray, classes: np.ndarray, rng: np.random.Generator, batch_size: int = 64,
                  num_train: int = 10_000, num_eval: int = 5_000,
                  pools: tuple[np.ndarray, np.ndarray] | None = None) -> BetaVAEScore:
    """The BetaVAE score of mean representations `codes` (N, D) of images with `classes` (N, K).

    Args:
        codes, classes: The representation and factor classes of the N images.
        rng: Seeds every draw and the regression.
        batch_size: Pairs of images per point (64).
        num_train, num_eval: Points to fit the logistic regression on and to score it on.
        pools: (training images, test images), disjoint (`dvae_cli.metrics.sampling.held_out_split`):
            the training points' pairs come from the first, the scored points' from the second.
            None: both from all N images.
    """
    from sklearn.linear_model import LogisticRegression

    train_rows, test_rows = pools if pools is not None else (None, None)
    train_sampler = FactorSampler(classes, rng, train_rows)
    x_train, y_train = _points(codes, train_sampler, batch_size, num_train)
    model = LogisticRegression(random_state=int(rng.integers(2**31)), max_iter=1000)
    model.fit(x_train, y_train)
    test_sampler = train_sampler if test_rows is None else FactorSampler(classes, rng, test_rows)
    x_eval, y_eval = _points(codes, test_sampler, batch_size, num_eval)
    return BetaVAEScore(float(model.score(x_train, y_train)), float(model.score(x_eval, y_eval)))


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric betavae`` (score ``BetaVAE``, detail ``betavae``)."""
    s = inputs.settings
    inputs.say("BetaVAE score")
    selected = inputs.classes[:, inputs.other_factors]
    beta = betavae_score(inputs.codes, selected, np.random.default_rng(s.seed + 2), s.batch_size, s.num_train,
                         s.num_eval, (inputs.split.train_pool, inputs.split.test_pool))
    report.add("BetaVAE", beta.eval_accuracy, {**inputs.pooled, "batch_size": s.batch_size})
    report.details["betavae"] = {"train_accuracy": beta.train_accuracy}
