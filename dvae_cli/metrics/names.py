"""Metric names, defaults and sample sizes (standard library only, for the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from dvae_cli.errors import ConfigError, UnknownNameError

METRIC_NAMES: tuple[str, ...] = ("mig", "aam", "mig_discrete", "factorvae", "betavae", "dci", "sap",
                                 "modularity", "explicitness")
DEFAULT_METRICS: tuple[str, ...] = ("mig", "aam", "mig_discrete", "factorvae", "dci")
#: Chen et al. score dSprites on these factors (shape is left out).
CHEN_DSPRITES_FACTORS: tuple[str, ...] = ("scale", "orientation", "posX", "posY")


@dataclass(frozen=True)
class MetricSettings:
    """Sample sizes, as disentanglement_lib and Chen et al. use them by default.

    Attributes:
        n_samples: Monte-Carlo posterior samples per entropy (``mig``, ``aam``).
        num_train, num_eval: Points to train and to test the classifier-based scores on.
        batch_size: Images per FactorVAE vote and per BetaVAE point.
        num_variance_estimate: Images for the FactorVAE global variances.
        prune_threshold: FactorVAE's minimum global std of a latent.
        bins: Histogram bins of the discrete estimators.
        seed: Seeds every random draw.
    """

    n_samples: int = 10_000
    num_train: int = 10_000
    num_eval: int = 5_000
    batch_size: int = 64
    num_variance_estimate: int = 10_000
    prune_threshold: float = 0.05
    bins: int = 20
    seed: int = 0

    @classmethod
    def fast(cls, seed: int = 0) -> MetricSettings:
        """About 20x fewer samples: quick looks, not numbers to publish."""
        return cls(n_samples=2_000, num_train=1_000, num_eval=500, num_variance_estimate=2_000, seed=seed)

    def with_seed(self, seed: int) -> MetricSettings:
        return replace(self, seed=seed)


def parse_metric_names(text: str | None) -> tuple[str, ...]:
    """``"mig,aam"`` -> ("mig", "aam"); None -> the defaults; ``"all"`` -> every metric.

    Raises:
        UnknownNameError: for a name that is not a metric.
    """
    if text is None:
        return DEFAULT_METRICS
    names = tuple(part.strip().lower().replace("-", "_") for part in text.split(",") if part.strip())
    if names == ("all",):
        return METRIC_NAMES
    for name in names:
        if name not in METRIC_NAMES:
            raise UnknownNameError("metric", name, METRIC_NAMES)
    if not names:
        raise ConfigError(f"--metric needs at least one name; choose from: {', '.join(METRIC_NAMES)}")
    return names
