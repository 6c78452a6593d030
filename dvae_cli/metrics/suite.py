"""Run a selection of metrics on one representation and gather scores, protocols and details.

Pure computation: posterior parameters and factor classes in, plain dictionaries out
(`dvae_cli.engine.disentanglement` encodes images and writes the files).

`check_inputs` refuses, before any image is encoded, what no metric could score (a
factor that does not vary among the images, one factor for a metric that tells
factors apart). `compute_metrics` runs the metrics one at a time and hands the report
to `on_score` after each, so a caller can write every score as it completes. A score
that comes out NaN or infinite is stored as None with the reason in its protocol
(``not_computed``), never as NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.metrics.names import (CHEN_DSPRITES_FACTORS, DEFAULT_METRICS, METRIC_NAMES, MetricSettings,
                                    parse_metric_names)

if TYPE_CHECKING:
    import torch

__all__ = ["CHEN_DSPRITES_FACTORS", "DEFAULT_METRICS", "METRIC_NAMES", "MetricSettings", "MetricsReport",
           "check_inputs", "choose_factors", "compute_metrics", "parse_metric_names"]

#: Metrics that classify which factor was fixed: they need at least two factors.
NEEDS_TWO_FACTORS = ("factorvae", "betavae")


@dataclass
class MetricsReport:
    """Scores for ``metrics.log``, how they were computed, and the per-factor detail.

    A score is a float, or None when it could not be computed (its protocol then
    holds ``not_computed``: the reason).
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


def choose_factors(names: Sequence[str], sizes: Sequence[int], wanted: Sequence[str] | None
                   ) -> tuple[list[int], list[int]]:
    """(factors for ``mig``/``aam``, factors for the other metrics), as indices.

    By default the other metrics use every factor with more than one value, and
    ``mig`` uses Chen et al.'s dSprites set when the factors are dSprites'.

    Raises:
        UnknownNameError: for a factor name that is not one of `names`.
        ConfigError: for a factor with a single value (it carries no information).
    """
    if wanted is not None:
        chosen = []
        for name in wanted:
            if name not in names:
                raise UnknownNameError("factor", name, names)
            k = list(names).index(name)
            if sizes[k] < 2:
                raise ConfigError(f"factor '{name}' has a single value and cannot be scored")
            chosen.append(k)
        return chosen, chosen
    everything = [k for k, size in enumerate(sizes) if size > 1]
    if all(name in names for name in CHEN_DSPRITES_FACTORS):
        return [list(names).index(name) for name in CHEN_DSPRITES_FACTORS], everything
    return everything, everything


def check_inputs(classes: np.ndarray, factor_names: Sequence[str], factor_sizes: Sequence[int],
                 metrics: Sequence[str], factors: Sequence[str] | None = None) -> tuple[list[int], list[int]]:
    """Refuse what the metrics cannot score, before the images are encoded.

    Args:
        classes: (N, K) factor classes of the images that will be scored.
        factor_names, factor_sizes: The dataset's factors.
        metrics: Names from `METRIC_NAMES`.
        factors: The factors asked for (None: the defaults of `choose_factors`).

    Returns:
        `choose_factors`'s (mig factors, other factors).

    Raises:
        ConfigError: for fewer than 2 images, a scored factor that takes a single value
            among them (or, for MIG and AAM, a value only one image takes), or a metric
            of `NEEDS_TWO_FACTORS` with one factor.
        UnknownNameError: for an unknown metric or factor name.
    """
    for name in metrics:
        if name not in METRIC_NAMES:
            raise UnknownNameError("metric", name, METRIC_NAMES)
    mig_factors, other_factors = choose_factors(factor_names, factor_sizes, factors)
    classes = np.asarray(classes)
    n = len(classes)
    if n < 2:
        raise ConfigError(f"the metrics need at least 2 images, got {n}; raise --max-images")
    used = set(other_factors) | (set(mig_factors) if {"mig", "aam"} & set(metrics) else set())
    for k in sorted(used):
        if len(np.unique(classes[:, k])) < 2:
            raise ConfigError(f"factor '{factor_names[k]}' takes a single value among the {n:,} images scored; "
                              "score more images (--max-images) or leave it out (--factors)")
    if {"mig", "aam"} & set(metrics):   # H(z_j | v_k = v) is a mixture over the images with that value
        for k in mig_factors:
            counts = np.unique(classes[:, k], return_counts=True)[1]
            if counts.min() < 2:
                raise ConfigError(f"factor '{factor_names[k]}' has values that only one of the {n:,} images scored "
                                  "takes; MIG and AAM estimate each value's conditional entropy from at least 2 "
                                  "images: score more images (--max-images) or leave the factor out (--factors)")
    for name in metrics:
        if name in NEEDS_TWO_FACTORS and len(other_factors) < 2:
            chosen = ", ".join(factor_names[k] for k in other_factors) or "none"
            raise ConfigError(f"--metric {name} tells factors apart and needs at least 2; the factors scored "
                              f"are: {chosen} (add more with --factors, or leave {name} out)")
    return mig_factors, other_factors


@dataclass
class _Inputs:
    """What every metric runner reads."""

    mean: Any
    logvar: Any
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
        return [self.factor_names[k] for k in self.other_factors]

    @property
    def sized(self) -> dict[str, Any]:
        s = self.settings
        return {"images": len(self.codes), "seed": s.seed, "representation": "mean", "factors": self.names_of,
                "num_train": s.num_train, "num_eval": s.num_eval}


def _mutual_information(inputs: _Inputs) -> dict[str, Any]:
    """Chen et al.'s I(z_j; v_k), computed once for MIG and AAM."""
    if "mi" not in inputs.cache:
        from dvae_cli.metrics import aam, mig

        s = inputs.settings
        inputs.say(f"mutual information (Chen et al.): {len(inputs.codes):,} images, {s.n_samples:,} samples "
                   "per entropy")
        report = inputs.progress
        result = mig.mutual_information(inputs.mean, inputs.logvar, inputs.classes[:, inputs.mig_factors],
                                        s.n_samples, s.seed,
                                        progress=(lambda done, total: report("mutual information", done, total))
                                        if report else None)
        chosen = [inputs.factor_names[k] for k in inputs.mig_factors]
        per_mig, per_aam = mig.mig_scores(result.mi, result.factor_entropy), aam.aam_scores(result.mi)
        protocol = {"estimator": "Chen et al. 2018, Monte-Carlo over the dataset", "representation": "sample",
                    "factors": chosen, "images": len(inputs.codes), "n_samples": s.n_samples, "seed": s.seed,
                    "normalisation": "H(v_k) (log K on a full grid)"}
        detail = {"factors": chosen, "mutual_information": result.mi.tolist(),
                  "marginal_entropy": result.marginal_entropy.tolist(),
                  "conditional_entropy": result.conditional_entropy.tolist(),
                  "factor_entropy": result.factor_entropy.tolist(),
                  "mig_per_factor": dict(zip(chosen, per_mig.tolist(), strict=True)),
                  "aam_per_factor": dict(zip(chosen, per_aam.tolist(), strict=True))}
        inputs.cache["mi"] = {"mig": float(per_mig.mean()), "aam": float(per_aam.mean()), "protocol": protocol,
                              "detail": detail}
    return inputs.cache["mi"]


def _run_mig(inputs: _Inputs, report: MetricsReport) -> None:
    mi = _mutual_information(inputs)
    report.add("MIG", mi["mig"], mi["protocol"])
    report.details["mig"] = mi["detail"]


def _run_aam(inputs: _Inputs, report: MetricsReport) -> None:
    mi = _mutual_information(inputs)
    report.add("AAM", mi["aam"], {**mi["protocol"], "normalisation": "I_(1)"})
    report.details["mig"] = mi["detail"]


def _run_mig_discrete(inputs: _Inputs, report: MetricsReport) -> None:
    from dvae_cli.metrics import mig

    s = inputs.settings
    inputs.say(f"discrete MIG (disentanglement_lib): {s.num_train:,} points, {s.bins} bins")
    per_factor, mi_matrix, entropy = mig.mig_discrete(inputs.x_train, inputs.y_train, s.bins)
    report.add("MIG_discrete", float(per_factor.mean()), {**inputs.sized, "estimator": "disentanglement_lib "
                                                          "histogram", "bins": s.bins,
                                                          "normalisation": "discrete H(v_k)"})
    report.details["mig_discrete"] = {"factors": inputs.names_of, "mutual_information": mi_matrix.tolist(),
                                      "factor_entropy": entropy.tolist(),
                                      "mig_per_factor": dict(zip(inputs.names_of, per_factor.tolist(), strict=True))}


def _run_factorvae(inputs: _Inputs, report: MetricsReport) -> None:
    from dvae_cli.metrics import factorvae

    s = inputs.settings
    inputs.say("FactorVAE score")
    selected = inputs.classes[:, inputs.other_factors]
    score = factorvae.factorvae_score(inputs.codes, selected, np.random.default_rng(s.seed + 1), s.batch_size,
                                      s.num_train, s.num_eval, s.num_variance_estimate, s.prune_threshold)
    report.add("FactorVAE", score.eval_accuracy, {**inputs.sized, "batch_size": s.batch_size,
                                                  "prune_threshold": s.prune_threshold,
                                                  "num_variance_estimate": s.num_variance_estimate})
    report.details["factorvae"] = {"factors": inputs.names_of, "votes": score.votes.tolist(),
                                   "active_dims": score.active_dims, "train_accuracy": score.train_accuracy}


def _run_betavae(inputs: _Inputs, report: MetricsReport) -> None:
    from dvae_cli.metrics import betavae

    s = inputs.settings
    inputs.say("BetaVAE score")
    selected = inputs.classes[:, inputs.other_factors]
    beta = betavae.betavae_score(inputs.codes, selected, np.random.default_rng(s.seed + 2), s.batch_size,
                                 s.num_train, s.num_eval)
    report.add("BetaVAE", beta.eval_accuracy, {**inputs.sized, "batch_size": s.batch_size})
    report.details["betavae"] = {"train_accuracy": beta.train_accuracy}


def _run_dci(inputs: _Inputs, report: MetricsReport) -> None:
    from dvae_cli.metrics import dci

    inputs.say("DCI (gradient-boosted trees, one per factor)")
    result = dci.dci_score(inputs.x_train, inputs.y_train, inputs.x_test, inputs.y_test, seed=inputs.settings.seed)
    protocol = {**inputs.sized, "classifier": "GradientBoostingClassifier()"}
    report.add("DCI_disentanglement", result.disentanglement, protocol)
    report.add("DCI_completeness", result.completeness, protocol)
    report.add("DCI_informativeness", result.informativeness_test, protocol)
    report.details["dci"] = {"factors": inputs.names_of, "importance": result.importance.tolist(),
                             "informativeness_train": result.informativeness_train}


def _run_sap(inputs: _Inputs, report: MetricsReport) -> None:
    from dvae_cli.metrics import sap

    inputs.say("SAP score")
    result = sap.sap_score(inputs.x_train, inputs.y_train, inputs.x_test, inputs.y_test)
    report.add("SAP", result.score, {**inputs.sized, "classifier": "LinearSVC(C=0.01, balanced)"})
    report.details["sap"] = {"factors": inputs.names_of, "matrix": result.matrix.tolist()}


def _run_modularity(inputs: _Inputs, report: MetricsReport) -> None:
    from dvae_cli.metrics import modularity

    inputs.say("modularity")
    result = modularity.modularity_score(inputs.x_train, inputs.y_train, inputs.settings.bins)
    report.add("modularity", result.modularity, {**inputs.sized, "bins": inputs.settings.bins})
    report.details["modularity"] = {"per_latent": result.per_latent.tolist()}


def _run_explicitness(inputs: _Inputs, report: MetricsReport) -> None:
    from dvae_cli.metrics import modularity

    inputs.say("explicitness")
    result = modularity.explicitness_score(inputs.x_train, inputs.y_train, inputs.x_test, inputs.y_test)
    report.add("explicitness", result.test, {**inputs.sized, "classifier": "LogisticRegression, ROC-AUC"})
    report.details["explicitness"] = {"factors": inputs.names_of, "per_factor": result.per_factor.tolist(),
                                      "train": result.train}


_RUNNERS: dict[str, Callable[[_Inputs, MetricsReport], None]] = {
    "mig": _run_mig, "aam": _run_aam, "mig_discrete": _run_mig_discrete, "factorvae": _run_factorvae,
    "betavae": _run_betavae, "dci": _run_dci, "sap": _run_sap, "modularity": _run_modularity,
    "explicitness": _run_explicitness}


def compute_metrics(mean: torch.Tensor, logvar: torch.Tensor, classes: np.ndarray, factor_names: Sequence[str],
                    factor_sizes: Sequence[int], metrics: Sequence[str] = DEFAULT_METRICS,
                    settings: MetricSettings | None = None, factors: Sequence[str] | None = None,
                    log: Callable[[str], None] | None = None,
                    on_score: Callable[[MetricsReport], None] | None = None,
                    progress: Callable[[str, int, int], None] | None = None) -> MetricsReport:
    """Every metric of `metrics` on posteriors (N, D) of images with factor `classes` (N, K).

    Args:
        mean, logvar: Posterior parameters of each image.
        classes: Factor classes of each image.
        factor_names, factor_sizes: The dataset's factors.
        metrics: Names from `METRIC_NAMES`, computed in the order of `METRIC_NAMES`.
        settings: Sample sizes and seed.
        factors: Restrict every metric to these factor names.
        log: Called with a line as each metric starts.
        on_score: Called with the report after each metric has added its scores.
        progress: Called with (phase, done, total) during long computations.

    Raises:
        ConfigError, UnknownNameError: see `check_inputs` (checked first).
    """
    settings = settings or MetricSettings()
    classes = np.asarray(classes, dtype=np.int64)
    mig_factors, other_factors = check_inputs(classes, factor_names, factor_sizes, metrics, factors)
    codes = mean.detach().double().cpu().numpy()
    n, latent_dim = codes.shape
    rng = np.random.default_rng(settings.seed)
    selected = classes[:, other_factors]
    train_rows = rng.integers(0, n, settings.num_train)
    test_rows = rng.integers(0, n, settings.num_eval)
    inputs = _Inputs(mean, logvar, codes, classes, factor_names, mig_factors, other_factors, settings,
                     codes[train_rows], selected[train_rows], codes[test_rows], selected[test_rows],
                     log or (lambda message: None), progress)
    report = MetricsReport()
    report.details["latent_dim"] = latent_dim
    report.details["n_images"] = n
    report.details["settings"] = asdict(settings)
    for name in METRIC_NAMES:
        if name in metrics:
            _RUNNERS[name](inputs, report)
            if on_score is not None:
                on_score(report)
    return report
