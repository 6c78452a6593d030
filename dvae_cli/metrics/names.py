"""Metric names as typed, defaults and sample sizes (standard library only, for the CLI).

The names and the defaults are those of the registry `dvae_cli.catalogue.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from dvae_cli.catalogue.metrics import DEFAULT_METRICS, default_metrics, metric_names
from dvae_cli.errors import ConfigError, UnknownNameError

__all__ = ["CHEN_DSPRITES_FACTORS", "DEFAULT_METRICS", "FAST_BUDGET_S", "MIN_DCI_TREES", "MIN_FAST_SAMPLES",
           "SPRITES_CHEN_SIZES", "MetricSettings", "default_metrics", "metric_names", "parse_metric_names"]

#: Chen et al. score dSprites on these factors (shape is left out).
CHEN_DSPRITES_FACTORS: tuple[str, ...] = ("scale", "orientation", "posX", "posY")
#: Their numbers of values on the sprites grid (`MetricSettings.bounded`'s default).
SPRITES_CHEN_SIZES: tuple[int, ...] = (6, 40, 32, 32)
#: What ``--fast`` promises: a look in about a minute (`MetricSettings.bounded`), seconds on 2 CPU cores.
FAST_BUDGET_S = 60.0
#: `MetricSettings.bounded` keeps at least this many Monte-Carlo samples per entropy ...
MIN_FAST_SAMPLES = 250
#: ... and this many boosting stages in DCI.
MIN_DCI_TREES = 10


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
        dci_trees: Boosting stages of DCI's gradient-boosted classifiers (scikit-learn's
            and disentanglement_lib's default, 100, at learning rate 0.1; fewer stages
            take a proportionally larger rate, `dvae_cli.metrics.dci.learning_rate`).
        bounded_for: The latent dimension `bounded` lowered the sample sizes for (None: not lowered).
        budget_s: Seconds (2 CPU cores) the metrics should fit: `dvae_cli.metrics.suite.compute_metrics`
            lowers the costly sample sizes to fit them (`bounded`) once it knows the latents and
            images; ``--fast`` sets `FAST_BUDGET_S`. None: the protocol's sizes, whatever they cost.
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
    dci_trees: int = 100
    bounded_for: int | None = None
    budget_s: float | None = None

    @classmethod
    def fast(cls, seed: int = 0) -> MetricSettings:
        """A quick look, not numbers to publish (``--fast``; the README gives its noise).

        10,000 images with balanced factor values instead of all of them, 2,000
        Monte-Carlo samples per entropy instead of 10,000 (MIG, AAM), and 1,000 / 500
        classifier points instead of 10,000 / 5,000 (the other scores); for many latents,
        fewer samples and boosting stages still, to fit about a minute (`bounded`, `budget_s`).
        """
        return cls(n_samples=2_000, num_train=1_000, num_eval=500, num_variance_estimate=2_000, seed=seed,
                   max_images=10_000, budget_s=FAST_BUDGET_S)

    def with_seed(self, seed: int) -> MetricSettings:
        return replace(self, seed=seed)

    def bounded(self, latent_dim: int, n_images: int, factor_sizes: Sequence[int] = SPRITES_CHEN_SIZES,
                metrics: Sequence[str] | None = None, budget_s: float = FAST_BUDGET_S) -> MetricSettings:
        """These settings, with the costly sample sizes lowered until the metrics fit `budget_s` (``--fast``).

        The time of MIG/AAM grows with D x N x samples per entropy and with the number
        of entropies D x (1 + sum_k K_k); DCI's with D x classes x boosting stages
        (`dvae_cli.metrics.cost.estimate_seconds`). While the estimate of the metrics
        exceeds `budget_s`, the Monte-Carlo samples per entropy are halved (down to
        `MIN_FAST_SAMPLES`) and DCI's boosting stages halved (down to `MIN_DCI_TREES`);
        nothing else changes. A small model is returned as it is; a lowered one
        records `bounded_for` = `latent_dim`, and its protocols show the sizes used.

        Args:
            latent_dim: D, the latents scored.
            n_images: N, the images scored (after `max_images`).
            factor_sizes: Values of each factor scored (default: sprites' scale,
                orientation, posX, posY).
            metrics: The metrics that will run (None: the defaults).
            budget_s: Seconds to fit (estimated on 2 CPU cores).

        Returns:
            The bounded settings (a new object; `self` is unchanged).
        """
        from dvae_cli.metrics.cost import estimate_seconds

        names = tuple(metrics) if metrics is not None else default_metrics()
        images = min(n_images, self.max_images) if self.max_images is not None else n_images
        out = self
        for _ in range(16):
            times = estimate_seconds(images, latent_dim, factor_sizes, names, out)
            if sum(times.values()) <= budget_s:
                break
            mi = times.get("mig", 0.0) + times.get("aam", 0.0)
            dci = times.get("dci", 0.0)
            samples, trees = out.n_samples, out.dci_trees
            if mi > 0 and samples > MIN_FAST_SAMPLES and (mi >= dci or trees <= MIN_DCI_TREES):
                samples = max(MIN_FAST_SAMPLES, samples // 2)
            elif dci > 0 and trees > MIN_DCI_TREES:
                trees = max(MIN_DCI_TREES, trees // 2)
            else:
                break   # the other metrics' sizes are the protocol's: an estimate says what they cost
            out = replace(out, n_samples=samples, dci_trees=trees, bounded_for=latent_dim)
        return out


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
