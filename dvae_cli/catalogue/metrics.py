"""The disentanglement metrics dvae knows: one torch-free `MetricInfo` each, and `register_metric` for more.

Everything about a metric outside its own module comes from here: its ``--metric``
key and whether it is computed by default, the scores it writes to ``metrics.log``,
how it was computed (the protocol the README states), and what it needs of the
images scored, which `dvae_cli.metrics.suite.check_inputs` checks before any image
is encoded. Its runner, ``run(inputs, report)`` next to the metric's maths
(`dvae_cli.metrics.runner.MetricRunner`), is imported only when it is computed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dvae_cli.errors import ConfigError
from dvae_cli.plugins import Registry

#: Keys of ``metrics.log`` that are not scores.
RESERVED_KEYS = ("protocols", "dataset")


@dataclass(frozen=True)
class MetricInfo:
    """A disentanglement metric, described without importing it.

    Attributes:
        name: Its ``--metric`` key (lower case, e.g. ``dci``).
        scores: The keys it writes to ``metrics.log`` (``DCI_disentanglement``, ...).
        title: What it measures, in a few words.
        paper: The citation of the metric.
        protocol: How dvae computes it (estimator, representation, sample sizes), as the
            README's table of metrics says.
        runner: ``"module:function"`` of its `dvae_cli.metrics.runner.MetricRunner` (or
            the function): ``run(inputs, report)`` adds its scores and detail to the report.
        default: Whether ``dvae eval --metrics`` computes it when no ``--metric`` is given.
        needs_factors: Whether it needs ground-truth factors at all (a dataset with factors).
        min_factors: The fewest factors it can score (2 for the metrics that classify
            which factor was fixed).
        min_images_per_value: The fewest images scored that each value of each of its
            factors needs (2 for the conditional entropies of MIG and AAM).
        chen_factors: Whether it scores Chen et al.'s factors of dSprites (scale,
            orientation, posX, posY: `MetricInputs.mig_factors`) rather than every
            factor that varies (`MetricInputs.other_factors`); both are the factors
            of ``--factors`` when it is given.
        held_out: Whether it fits a classifier (or votes) on some images and is scored on
            others (`dvae_cli.metrics.sampling.held_out_split`); it then needs
            `dvae_cli.metrics.sampling.MIN_HELD_OUT_IMAGES` images.
        needs_posterior: Whether it samples the posterior (needs log-variances, not only codes).
    """

    name: str
    scores: tuple[str, ...]
    title: str
    paper: str
    protocol: str
    runner: str | Callable[..., Any]
    default: bool = False
    needs_factors: bool = True
    min_factors: int = 1
    min_images_per_value: int = 1
    chen_factors: bool = False
    held_out: bool = False
    needs_posterior: bool = False


def _check(info: MetricInfo) -> None:
    if info.name == "all" or not info.name.isidentifier() or info.name != info.name.lower():
        raise ConfigError(f"a metric name must be a lower-case identifier other than 'all', got '{info.name}'")
    if not info.scores:
        raise ConfigError(f"metric '{info.name}' names no score")
    for score in info.scores:
        if score in RESERVED_KEYS:
            raise ConfigError(f"metric '{info.name}': '{score}' is not a score name ({', '.join(RESERVED_KEYS)} "
                              "are taken in metrics.log)")
        owner = next((m.name for m in METRICS._items.values() if score in m.scores and m.name != info.name), None)
        if owner is not None:   # no plugin loading here: called while registering
            raise ConfigError(f"metric '{info.name}' writes score '{score}', which metric '{owner}' writes")
    if info.min_factors < 1 or info.min_images_per_value < 1:
        raise ConfigError(f"metric '{info.name}': min_factors and min_images_per_value must be >= 1")


METRICS: Registry[MetricInfo] = Registry("metric", "dvae.metrics", _check)


def register_metric(info: MetricInfo, replace: bool = False) -> MetricInfo:
    """Make a metric known to ``dvae eval`` and `dvae_cli.engine.disentanglement` (see `dvae_cli.plugins`).

    Raises:
        ConfigError: for a name already registered (without `replace`), or a score
            another metric writes.
    """
    return METRICS.register(info, replace)


def metric_info(name: str) -> MetricInfo:
    """The `MetricInfo` of `name` (raises `UnknownNameError` with the choices)."""
    return METRICS.get(name)


def metric_names() -> tuple[str, ...]:
    """Every metric, in the order they are computed (the built-ins first)."""
    return METRICS.names()


def needs_factors(names: Sequence[str]) -> bool:
    """Whether any of the metrics `names` needs ground-truth factors (`MetricInfo.needs_factors`).

    Raises:
        UnknownNameError: for a name that is not a metric.
    """
    return any(metric_info(name).needs_factors for name in names)


def factor_free_metrics() -> tuple[str, ...]:
    """The metrics that need no ground-truth factors (``dvae eval --metrics`` on mnist, celeba, chairs, ...)."""
    return tuple(info.name for info in METRICS.values() if not info.needs_factors)


def default_metrics() -> tuple[str, ...]:
    """The metrics ``dvae eval --metrics`` computes without ``--metric``."""
    return tuple(info.name for info in METRICS.values() if info.default)


_CHEN = "Chen et al., Isolating Sources of Disentanglement in Variational Autoencoders, NeurIPS 2018"
_RIDGEWAY = "Ridgeway & Mozer, Learning Deep Disentangled Embeddings with the F-Statistic Loss, NeurIPS 2018"
_LOCATELLO = ("Locatello et al., Challenging Common Assumptions in the Unsupervised Learning of Disentangled "
              "Representations, ICML 2019")
_BUILT_IN = (
    MetricInfo("mig", ("MIG",), "mutual information gap", _CHEN,
               "Chen et al. 2018: posterior *samples*, entropies by Monte-Carlo over every image, dSprites factors "
               "scale/orientation/posX/posY, normalised by H(v_k)", "dvae_cli.metrics.mig:run", default=True,
               min_images_per_value=2, chen_factors=True, needs_posterior=True),
    MetricInfo("aam", ("AAM",), "axis alignment metric (disentangling-vae)",
               "Dubois et al., disentangling-vae (github.com/YannDubs/disentangling-vae), 2019",
               "same mutual informations", "dvae_cli.metrics.mig:run_aam", default=True, min_images_per_value=2,
               chen_factors=True, needs_posterior=True),
    MetricInfo("mig_discrete", ("MIG_discrete",), "MIG", f"{_CHEN}; as disentanglement_lib (Locatello et al., "
               "Challenging Common Assumptions in the Unsupervised Learning of Disentangled Representations, "
               "ICML 2019)", "disentanglement_lib: posterior *means* of 10,000 images, 20-bin histograms, all "
               "factors, discrete entropy", "dvae_cli.metrics.mig:run_discrete", default=True),
    MetricInfo("factorvae", ("FactorVAE",), "FactorVAE score (Kim & Mnih 2018)",
               "Kim & Mnih, Disentangling by Factorising, ICML 2018",
               "batch 64, 10,000/5,000 votes, prune threshold 0.05", "dvae_cli.metrics.factorvae:run",
               default=True, min_factors=2, held_out=True),
    MetricInfo("betavae", ("BetaVAE",), "BetaVAE score (Higgins et al. 2017)",
               "Higgins et al., beta-VAE: Learning Basic Visual Concepts with a Constrained Variational "
               "Framework, ICLR 2017", "batch 64, 10,000/5,000 points, logistic regression",
               "dvae_cli.metrics.betavae:run", min_factors=2, held_out=True),
    MetricInfo("dci", ("DCI_disentanglement", "DCI_completeness", "DCI_informativeness"),
               "disentanglement, completeness, informativeness (Eastwood & Williams 2018)",
               "Eastwood & Williams, A Framework for the Quantitative Evaluation of Disentangled "
               "Representations, ICLR 2018", "gradient-boosted trees on 10,000/5,000 points",
               "dvae_cli.metrics.dci:run", default=True, held_out=True),
    MetricInfo("sap", ("SAP",), "SAP (Kumar et al. 2018)",
               "Kumar, Sattigeri & Balakrishnan, Variational Inference of Disentangled Latent Concepts from "
               "Unlabeled Observations, ICLR 2018", "linear SVMs, 10,000/5,000 points", "dvae_cli.metrics.sap:run",
               held_out=True),
    MetricInfo("modularity", ("modularity",), "Ridgeway & Mozer 2018", _RIDGEWAY, "20 bins",
               "dvae_cli.metrics.modularity:run"),
    MetricInfo("explicitness", ("explicitness",), "Ridgeway & Mozer 2018", _RIDGEWAY,
               "logistic regression ROC-AUC", "dvae_cli.metrics.modularity:run_explicitness", held_out=True),
    MetricInfo("irs", ("IRS",), "interventional robustness score (Suter et al. 2019)",
               "Suter, Miladinovic, Schoelkopf & Bauer, Robustly Disentangled Causal Mechanisms: Validating Deep "
               "Representations for Interventional Robustness, ICML 2019",
               "disentanglement_lib: means of 10,000 points, factors in 20 equal-width bins, 99th-percentile "
               "deviation, constant latents dropped", "dvae_cli.metrics.irs:run"),
    MetricInfo("irs_unbinned", ("IRS_unbinned",), "IRS with each factor held at each of its values",
               "Suter, Miladinovic, Schoelkopf & Bauer, Robustly Disentangled Causal Mechanisms: Validating Deep "
               "Representations for Interventional Robustness, ICML 2019",
               "as irs, factors not binned", "dvae_cli.metrics.irs:run_unbinned"),
    MetricInfo("unsupervised", ("gaussian_total_correlation", "gaussian_wasserstein_correlation",
                                "gaussian_wasserstein_correlation_norm", "mutual_info_score"),
               "dependence between the latents (no factors needed)", _LOCATELLO,
               "disentanglement_lib: means of 10,000 points, Gaussian total correlation and Wasserstein "
               "dependency of their covariance, discrete MI of 20-bin histograms",
               "dvae_cli.metrics.unsupervised:run", needs_factors=False),
    MetricInfo("dci_es", ("DCI_ES_disentanglement", "DCI_ES_completeness", "DCI_ES_informativeness",
                          "DCI_ES_explicitness", "DCI_ES_size"), "DCI with explicitness and size (Eastwood et al. "
               "2023)", "Eastwood, Nicolicioiu, von Kuegelgen, Kekic, Traeuble, Dittadi & Schoelkopf, DCI-ES: An "
               "Extended Disentanglement Framework with Connections to Identifiability, ICLR 2023",
               "random-forest probes of depth 1-16 on 10,000/5,000 points, area under the loss-capacity curve",
               "dvae_cli.metrics.dci_es:run", held_out=True),
    MetricInfo("infomec", ("InfoM", "InfoE", "InfoC"), "modularity, explicitness, compactness (Hsu et al. 2023)",
               "Hsu, Dorrell, Whittington, Wu & Finn, Disentanglement via Latent Quantization, NeurIPS 2023",
               "kNN normalised MI on 10,000 points, inactive latents pruned, logistic-regression InfoE",
               "dvae_cli.metrics.infomec:run", held_out=True),
)
for _info in _BUILT_IN:
    register_metric(_info)

#: The built-in defaults (`default_metrics` adds a registered metric marked `MetricInfo.default`).
DEFAULT_METRICS: tuple[str, ...] = tuple(info.name for info in _BUILT_IN if info.default)
