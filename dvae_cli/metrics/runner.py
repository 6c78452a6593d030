"""What a metric's runner reads and writes: `MetricInputs` in, `MetricsReport` out.

Each metric of `dvae_cli.catalogue.metrics` names a runner, ``run(inputs, report)``
(the `MetricRunner` protocol), that computes its scores from the representation and
the factor classes of the images scored and adds them, with how they were computed
and their per-factor detail, to the report. `dvae_cli.metrics.suite.compute_metrics`
builds the inputs once and calls every runner asked for in turn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from dvae_cli.metrics.names import MetricSettings

if TYPE_CHECKING:
    import torch


@dataclass
class MetricsReport:
    """Scores for ``metrics.log``, how they were computed, and the per-factor detail.

    A score is a float, or None when it could not be computed (its protocol then
    holds ``not_computed``: the reason).

    Attributes:
        scores: Score key (a `MetricInfo.scores` entry) -> value.
        protocols: Score key -> how it was computed (written under ``protocols``).
        details: Entry of ``metrics_detail.json`` (by convention the metric's name) -> detail.
    """

    scores: dict[str, float | None] = field(default_factory=dict)
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, value: float, protocol: dict[str, Any]) -> None:
        """Record one score; a non-finite value becomes None with the reason in its protocol."""
        value = float(value)
        if math.isfinite(value):
            self.scores[name] = value
            self.protocols[name] = protocol
        else:
            self.scores[name] = None
            self.protocols[name] = {**protocol, "not_computed": f"the estimate was {value} (not a number)"}


@dataclass
class MetricInputs:
    """What every metric runner reads.

    Attributes:
        mean, logvar: (N, D) posterior parameters of the images scored (torch tensors).
        codes: (N, D) posterior means as float64 numpy (the representation scored).
        classes: (N, K) factor classes of the images (K = 0 when no metric needs factors).
        factor_names: The K factor names.
        mig_factors: Indices of the factors of the metrics with `MetricInfo.chen_factors`.
        other_factors: Indices of the factors of the other metrics.
        settings: Sample sizes and seed.
        x_train, y_train: `settings.num_train` codes drawn with replacement and their
            `other_factors` classes (the classifier-based scores' training points).
        x_test, y_test: `settings.num_eval` such points to test on.
        say: Called with a line as a metric starts.
        progress: Called with (phase, done, total) during long computations.
        cache: Results shared between runners (MIG and AAM share their mutual informations).
    """

    mean: torch.Tensor
    logvar: torch.Tensor
    codes: np.ndarray
    classes: np.ndarray
    factor_names: Sequence[str]
    mig_factors: list[int]
    other_factors: list[int]
    settings: MetricSettings
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    say: Callable[[str], None]
    progress: Callable[[str, int, int], None] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def names_of(self) -> list[str]:
        """The names of `other_factors`."""
        return [self.factor_names[k] for k in self.other_factors]

    @property
    def sized(self) -> dict[str, Any]:
        """The protocol entries every classifier-based score shares (images, seed, factors, points)."""
        s = self.settings
        return {"images": len(self.codes), "seed": s.seed, "representation": "mean", "factors": self.names_of,
                "num_train": s.num_train, "num_eval": s.num_eval}


class MetricRunner(Protocol):
    """Computes one metric: adds its scores (`MetricsReport.add`) and its detail to `report`."""

    def __call__(self, inputs: MetricInputs, report: MetricsReport) -> None: ...
