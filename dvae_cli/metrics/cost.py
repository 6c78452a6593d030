"""How long each metric takes, estimated before any image is encoded (standard library only).

`estimate_seconds` is a cost model whose constants were measured on an AMD EPYC (AVX-512)
with 2 cores, as the process CPU time / 2 (the wall-clock time of 2 free cores) of
`dvae_cli.metrics.mig.mutual_information` and `dvae_cli.metrics.dci.dci_score` on
``benchmarks/metrics.py``'s synthetic posteriors of 10,000 sprites padded to D latents
(``benchmarks/metric_times.py --latent-dim D``): mutual information 3.6 s at D = 10 and
2,000 samples, 27 s at D = 128 and 250 samples; DCI 20 s at D = 10 and 100 stages,
13 s at D = 128 and 10 stages. The other scores' constants are rougher (their time
at D = 10, scaled with D). On a machine whose cores are shared, wall-clock times are
longer (1.5-3x measured). What drives each metric's time:

- ``mig``/``aam`` (one computation for both, Chen et al.'s estimator): an entropy per
  latent and mixture, D x (1 + sum_k K_k) of them, each a fixed cost plus one
  log-density evaluation per (sample, mixture component): samples min(s, N) against
  N components for H(z_j), and min(s, N / K_k) against N / K_k per factor value for
  H(z_j | v_k), so D x N x (min(s, N) + sum_k min(s, N / K_k)) in all (s: samples per entropy),
  the components of a mixture counted up to MERGED (the estimator merges near-identical
  components and skips far ones; MERGED is fitted with the two measurements below and
  gives 216 s for the full 737,280-image grid at 10,000 samples and D = 10, where the
  README measured 131 s on free cores);
- ``dci``: one gradient-boosted classifier per factor, a regression tree per class and
  stage on num_train points (a fixed part per point and a part per point and feature),
  two factors at a time: num_train x sum_k C_k x stages x (DCI_POINT_S + D x DCI_S) / 2
  (C_k: K_k classes, 1 for a binary factor);
- ``dci_es``: random forests of 10 trees at 16 depths per factor: num_train x D x K x 160;
- the other scores: linear in the points they use times D (``mig_discrete``,
  ``factorvae``, ``betavae``, ``sap``, ``modularity``, ``explicitness``, ``irs``,
  ``unsupervised``, ``infomec``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol


class SampleSizes(Protocol):
    """What the cost depends on of `dvae_cli.metrics.names.MetricSettings` (which imports this module)."""

    @property
    def n_samples(self) -> int: ...
    @property
    def num_train(self) -> int: ...
    @property
    def num_eval(self) -> int: ...
    @property
    def max_images(self) -> int | None: ...
    @property
    def dci_trees(self) -> int: ...

#: Seconds per entropy (the fixed part) and per log-density evaluation (MIG/AAM).
ENTROPY_S, PAIR_S = 1.2e-3, 7.4e-9
#: Components of a mixture that cost a log-density evaluation at most (after merging and windowing).
MERGED = 2_600
#: Seconds per (training point x class x boosting stage) of DCI's classifiers, and per latent more.
DCI_POINT_S, DCI_S = 1.8e-6, 1.7e-7
#: Seconds per (training point x latent x factor x tree-depth) of DCI-ES's forests.
DCI_ES_S = 4.0e-8
#: Seconds per (point x latent) of the other scores, at their own points (num_train + num_eval).
LINEAR_S: dict[str, float] = {"mig_discrete": 2e-6, "factorvae": 2e-6, "betavae": 2e-5, "sap": 4e-6,
                              "modularity": 2e-6, "explicitness": 4e-5, "irs": 4e-6, "unsupervised": 1e-6,
                              "infomec": 2e-5}
#: A metric this model does not know is given this many seconds per (point x latent).
UNKNOWN_S = 2e-5


def estimate_seconds(n_images: int, latent_dim: int, n_factors: int | Sequence[int], metrics: Sequence[str],
                     settings: SampleSizes) -> dict[str, float]:
    """Estimated wall-clock seconds of each metric on 2 CPU cores (encoding the images not included).

    Args:
        n_images: N, the images scored (after ``--max-images`` / ``--fast``'s selection).
        latent_dim: D, the latents.
        n_factors: The values of each factor scored (K_k, e.g. ``(6, 40, 32, 32)``), or
            just how many factors there are (each then taken to have 32 values).
        metrics: Registered metric names; the factor-free ones are estimated too.
        settings: The sample sizes (`MetricSettings`, bounded or not).

    Returns:
        Metric name -> seconds, for every name of `metrics`; ``aam`` is 0 when ``mig``
        is also asked for (they share one computation).

    Raises:
        ValueError: for a negative count.
    """
    if n_images < 0 or latent_dim < 0:
        raise ValueError(f"counts must not be negative: n_images={n_images}, latent_dim={latent_dim}")
    sizes = [32] * n_factors if isinstance(n_factors, int) else [max(1, int(k)) for k in n_factors]
    n = min(n_images, settings.max_images) if settings.max_images is not None else n_images
    d = latent_dim
    points = min(settings.num_train, n) + min(settings.num_eval, n)
    out: dict[str, float] = {}
    for name in metrics:
        if name in ("mig", "aam"):
            out[name] = 0.0 if name == "aam" and "mig" in metrics else mutual_information_seconds(
                n, d, sizes, settings.n_samples)
        elif name == "dci":
            classes = sum(1 if k == 2 else k for k in sizes)
            out[name] = (DCI_POINT_S + d * DCI_S) * min(settings.num_train, n) * classes * settings.dci_trees / 2
        elif name == "dci_es":
            out[name] = DCI_ES_S * min(settings.num_train, n) * d * len(sizes) * 160
        else:
            out[name] = LINEAR_S.get(name, UNKNOWN_S) * points * d
    return out


def mutual_information_seconds(n_images: int, latent_dim: int, sizes: Sequence[int], n_samples: int) -> float:
    """Seconds of `dvae_cli.metrics.mig.mutual_information` (see the module docstring)."""
    n, s = n_images, n_samples
    entropies = latent_dim * (1 + sum(sizes))
    marginal = min(s, n) * min(n, MERGED)
    conditional = sum(k * min(s, math.ceil(n / k)) * min(math.ceil(n / k), MERGED) for k in sizes)
    return ENTROPY_S * entropies + PAIR_S * latent_dim * (marginal + conditional)
