"""Run a selection of metrics on one representation and gather scores, protocols and details.

Pure computation: posterior parameters and factor classes in, plain dictionaries out
(`dvae_cli.engine.disentanglement` encodes images and writes the files).
"""

from __future__ import annotations

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
           "choose_factors", "compute_metrics", "parse_metric_names"]

@dataclass
class MetricsReport:
    """Scores for ``metrics.log``, how they were computed, and the per-factor detail."""

    scores: dict[str, float] = field(default_factory=dict)
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


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


def compute_metrics(mean: torch.Tensor, logvar: torch.Tensor, classes: np.ndarray, factor_names: Sequence[str],
                    factor_sizes: Sequence[int], metrics: Sequence[str] = DEFAULT_METRICS,
                    settings: MetricSettings | None = None, factors: Sequence[str] | None = None,
                    log: Callable[[str], None] | None = None) -> MetricsReport:
    """Every metric of `metrics` on posteriors (N, D) of images with factor `classes` (N, K).

    Args:
        mean, logvar: Posterior parameters of each image.
        classes: Factor classes of each image.
        factor_names, factor_sizes: The dataset's factors.
        metrics: Names from `METRIC_NAMES`.
        settings: Sample sizes and seed.
        factors: Restrict every metric to these factor names.
        log: Called with a line as each metric starts.
    """
    from dvae_cli.metrics import aam, betavae, dci, factorvae, mig, modularity, sap

    say = log or (lambda message: None)
    settings = settings or MetricSettings()
    report = MetricsReport()
    classes = np.asarray(classes, dtype=np.int64)
    mig_factors, other_factors = choose_factors(factor_names, factor_sizes, factors)
    names_of = [factor_names[k] for k in other_factors]
    codes = mean.detach().double().cpu().numpy()
    n, latent_dim = codes.shape
    report.details["latent_dim"] = latent_dim
    report.details["n_images"] = n
    base = {"images": n, "seed": settings.seed, "representation": "mean"}

    if "mig" in metrics or "aam" in metrics:
        say(f"mutual information (Chen et al.): {n:,} images, {settings.n_samples:,} samples per entropy")
        result = mig.mutual_information(mean, logvar, classes[:, mig_factors], settings.n_samples, settings.seed)
        per_mig = mig.mig_scores(result.mi, result.factor_entropy)
        per_aam = aam.aam_scores(result.mi)
        chosen = [factor_names[k] for k in mig_factors]
        protocol = {"estimator": "Chen et al. 2018, Monte-Carlo over the dataset", "representation": "sample",
                    "factors": chosen, "images": n, "n_samples": settings.n_samples, "seed": settings.seed,
                    "normalisation": "H(v_k) (log K on a full grid)"}
        if "mig" in metrics:
            report.scores["MIG"] = float(per_mig.mean())
            report.protocols["MIG"] = protocol
        if "aam" in metrics:
            report.scores["AAM"] = float(per_aam.mean())
            report.protocols["AAM"] = {**protocol, "normalisation": "I_(1)"}
        report.details["mig"] = {
            "factors": chosen, "mutual_information": result.mi.tolist(),
            "marginal_entropy": result.marginal_entropy.tolist(),
            "conditional_entropy": result.conditional_entropy.tolist(),
            "factor_entropy": result.factor_entropy.tolist(),
            "mig_per_factor": dict(zip(chosen, per_mig.tolist(), strict=True)),
            "aam_per_factor": dict(zip(chosen, per_aam.tolist(), strict=True))}

    rng = np.random.default_rng(settings.seed)
    selected = classes[:, other_factors]
    train_rows = rng.integers(0, n, settings.num_train)
    test_rows = rng.integers(0, n, settings.num_eval)
    x_train, y_train = codes[train_rows], selected[train_rows]
    x_test, y_test = codes[test_rows], selected[test_rows]
    sized = {**base, "factors": names_of, "num_train": settings.num_train, "num_eval": settings.num_eval}

    if "mig_discrete" in metrics:
        say(f"discrete MIG (disentanglement_lib): {settings.num_train:,} points, {settings.bins} bins")
        per_factor, mi_matrix, entropy = mig.mig_discrete(x_train, y_train, settings.bins)
        report.scores["MIG_discrete"] = float(per_factor.mean())
        report.protocols["MIG_discrete"] = {**sized, "estimator": "disentanglement_lib histogram",
                                            "bins": settings.bins, "normalisation": "discrete H(v_k)"}
        report.details["mig_discrete"] = {"factors": names_of, "mutual_information": mi_matrix.tolist(),
                                          "factor_entropy": entropy.tolist(),
                                          "mig_per_factor": dict(zip(names_of, per_factor.tolist(), strict=True))}
    if "factorvae" in metrics:
        say("FactorVAE score")
        score = factorvae.factorvae_score(codes, selected, np.random.default_rng(settings.seed + 1),
                                          settings.batch_size, settings.num_train, settings.num_eval,
                                          settings.num_variance_estimate, settings.prune_threshold)
        report.scores["FactorVAE"] = score.eval_accuracy
        report.protocols["FactorVAE"] = {**sized, "batch_size": settings.batch_size,
                                         "prune_threshold": settings.prune_threshold,
                                         "num_variance_estimate": settings.num_variance_estimate}
        report.details["factorvae"] = {"factors": names_of, "votes": score.votes.tolist(),
                                       "active_dims": score.active_dims, "train_accuracy": score.train_accuracy}
    if "betavae" in metrics:
        say("BetaVAE score")
        beta = betavae.betavae_score(codes, selected, np.random.default_rng(settings.seed + 2),
                                     settings.batch_size, settings.num_train, settings.num_eval)
        report.scores["BetaVAE"] = beta.eval_accuracy
        report.protocols["BetaVAE"] = {**sized, "batch_size": settings.batch_size}
        report.details["betavae"] = {"train_accuracy": beta.train_accuracy}
    if "dci" in metrics:
        say("DCI (gradient-boosted trees, one per factor)")
        result_dci = dci.dci_score(x_train, y_train, x_test, y_test, seed=settings.seed)
        report.scores["DCI_disentanglement"] = result_dci.disentanglement
        report.scores["DCI_completeness"] = result_dci.completeness
        report.scores["DCI_informativeness"] = result_dci.informativeness_test
        for key in ("DCI_disentanglement", "DCI_completeness", "DCI_informativeness"):
            report.protocols[key] = {**sized, "classifier": "GradientBoostingClassifier()"}
        report.details["dci"] = {"factors": names_of, "importance": result_dci.importance.tolist(),
                                 "informativeness_train": result_dci.informativeness_train}
    if "sap" in metrics:
        say("SAP score")
        result_sap = sap.sap_score(x_train, y_train, x_test, y_test)
        report.scores["SAP"] = result_sap.score
        report.protocols["SAP"] = {**sized, "classifier": "LinearSVC(C=0.01, balanced)"}
        report.details["sap"] = {"factors": names_of, "matrix": result_sap.matrix.tolist()}
    if "modularity" in metrics:
        say("modularity")
        result_mod = modularity.modularity_score(x_train, y_train, settings.bins)
        report.scores["modularity"] = result_mod.modularity
        report.protocols["modularity"] = {**sized, "bins": settings.bins}
        report.details["modularity"] = {"per_latent": result_mod.per_latent.tolist()}
    if "explicitness" in metrics:
        say("explicitness")
        result_exp = modularity.explicitness_score(x_train, y_train, x_test, y_test)
        report.scores["explicitness"] = result_exp.test
        report.protocols["explicitness"] = {**sized, "classifier": "LogisticRegression, ROC-AUC"}
        report.details["explicitness"] = {"factors": names_of, "per_factor": result_exp.per_factor.tolist(),
                                          "train": result_exp.train}
    report.details["settings"] = asdict(settings)
    return report
