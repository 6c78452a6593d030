"""Metric names as typed, defaults and sample sizes (standard library only, for the CLI).

The names and the defaults are those of the registry `dvae_cli.catalogue.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dvae_cli.catalogue.metrics import DEFAULT_METRICS, default_metrics, metric_names
from dvae_cli.errors import ConfigError, UnknownNameError

__all__ = ["CHEN_DSPRITES_FACTORS", "DEFAULT_METRICS", "MetricSettings", "default_metrics", "metric_names",
           "parse_metric_names"]

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
        max_images: Score this many images, chosen with balanced factor values
            (`dvae_cli.metrics.sampling.stratified_subset`); None: every image.
    """

    n_samples: int = 10_000
    num_train: int = 10_000
    num_eval: int = 5_000
    batch_size: int = 64
    num_variance_estimate: int = 10_000
    prune_threshold: float = 0.05
    bins: int = 20
    seed: int = 0
    max_images: int | None = None

    @classmethod
    def fast(cls, seed: int = 0) -> MetricSettings:
        """A quick look, not numbers to publish (``--fast``; the README gives its noise).

        10,000 images with balanced factor values instead of all of them, 2,000
        Monte-Carlo samples per entropy instead of 10,000 (MIG, AAM), and 1,000 / 500
        classifier points instead of 10,000 / 5,000 (the other scores).
        """
        return cls(n_samples=2_000, num_train=1_000, num_eval=500, num_variance_estimate=2_000, seed=seed,
                   max_images=10_000)

    def with_seed(self, seed: int) -> MetricSettings:
        return replace(self, seed=seed)


def parse_metric_names(text: str | None) -> tuple[str, ...]:
    """``"mig,aam"`` -> ("mig", "aam"); None -> the defaults; ``"all"`` -> every registered metric.

    Raises:
        UnknownNameError: for a name that is not a metric.
    """
    if text is None:
        return default_metrics()
    names = tuple(part.strip().lower().replace("-", "_") for part in text.split(",") if part.strip())
    known = metric_names()
    if names == ("all",):
        return known
    for name in names:
        if name not in known:
            raise UnknownNameError("metric", name, (*known, "all"))
    if not names:
        raise ConfigError(f"--metric needs at least one name; choose from: {', '.join(known)}")
    return names
