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
from dvae_cli.metrics.sampling import HeldOutSplit

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

    def undefined(self, name: str, protocol: dict[str, Any], reason: str) -> None:
        """Record a score that has no defined value on these inputs: None, with `reason` in its protocol."""
        self.scores[name] = None
        self.protocols[name] = {**protocol, "not_computed": reason}


@dataclass
class MetricInputs:
    """What every metric runner reads.

    Attributes:
        mean, logvar: (N, D) posterior parameters of the images scored (torch tensors or numpy
            arrays); logvar is None for a deterministic code (no metric that samples the
            posterior is then asked for: `dvae_cli.metrics.suite.check_inputs`).
        codes: (N, D) posterior means as float64 numpy (the representation scored).
        classes: (N, K) factor classes of the images (K = 0 when no metric needs factors).
        factor_names: The K factor names.
        mig_factors: Indices of the factors of the metrics with `MetricInfo.chen_factors`.
        other_factors: Indices of the factors of the other metrics.
        settings: Sample sizes and seed.
        split: The disjoint training and test images (`dvae_cli.metrics.sampling.held_out_split`).
        x_train, y_train: The codes of `split.train_rows` (up to `settings.num_train` distinct
            images) and their `other_factors` classes: the classifier-based scores' training points.
        x_test, y_test: Those of `split.test_rows` (up to `settings.num_eval` images, none of
            them a training image): the points they are scored on.
        say: Called with a line as a metric starts.
        progress: Called with (phase, done, total) during long computations.
        cache: Results shared between runners (MIG and AAM share their mutual informations).
        x_points, y_points: Up to `settings.num_train` distinct images of all N (not only the
            training pool) and their `other_factors` classes: the points of the scores that
            neither fit nor test a classifier (MIG_discrete, modularity, IRS, the unsupervised scores).
    """

    mean: torch.Tensor | np.ndarray
    logvar: torch.Tensor | np.ndarray | None
    codes: np.ndarray
    classes: np.ndarray
    factor_names: Sequence[str]
    mig_factors: list[int]
    other_factors: list[int]
    settings: MetricSettings
    split: HeldOutSplit
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    say: Callable[[str], None]
    progress: Callable[[str, int, int], None] | None = None
    cache: dict[str, Any] = field(default_factory=dict)
    x_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    y_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))

    @property
    def names_of(self) -> list[str]:
        """The names of `other_factors`."""
        return [self.factor_names[k] for k in self.other_factors]

    @property
    def sized(self) -> dict[str, Any]:
        """The protocol entries every classifier-based score shares (images, seed, factors, points)."""
        s = self.settings
        return {"images": len(self.codes), "seed": s.seed, "representation": "mean", "factors": self.names_of,
                "num_train": len(self.x_train), "num_eval": len(self.x_test)}

    @property
    def points(self) -> dict[str, Any]:
        """The protocol of the scores computed on `x_points` (``shrunk_from`` when fewer than asked)."""
        s = self.settings
        entry = {"images": len(self.codes), "seed": s.seed, "representation": "mean", "factors": self.names_of,
                 "num_train": len(self.x_points)}
        if len(self.x_points) < s.num_train:
            entry["shrunk_from"] = s.num_train
        return entry

    @property
    def held_out(self) -> dict[str, Any]:
        """`sized` and the split of the scores that train on some images and are scored on others."""
        return {**self.sized, **self.split.protocol()}

    @property
    def pooled(self) -> dict[str, Any]:
        """The protocol of the scores that draw their training and test points from the two pools
        (BetaVAE, FactorVAE): `settings.num_train` and `settings.num_eval` points, drawn with
        replacement among the images of the pool."""
        s = self.settings
        pools = {key: value for key, value in self.split.protocol().items() if key != "shrunk_from"}
        return {**self.sized, "num_train": s.num_train, "num_eval": s.num_eval, **pools}


class MetricRunner(Protocol):
    """Computes one metric: adds its scores (`MetricsReport.add`) and its detail to `report`."""

    def __call__(self, inputs: MetricInputs, report: MetricsReport) -> None: ...
