"""The mutual information gap (MIG) under two protocols, and the mutual informations behind it.

Chen, R. T. Q., Li, X., Grosse, R., Duvenaud, D. "Isolating Sources of
Disentanglement in Variational Autoencoders." NeurIPS 2018.

- ``mig`` (Chen et al.): I(z_j; v_k) = H(z_j) - H(z_j | v_k) from posterior *samples*,
  entropies estimated by Monte-Carlo over the full dataset (`mutual_information`);
  MIG_k = (I_(1) - I_(2)) / H(v_k), H(v_k) = log K_k on a full grid.
- ``mig_discrete`` (Locatello et al. 2019, disentanglement_lib): posterior *means* of
  10,000 random images, each dimension discretised into 20 equal-width bins, discrete
  mutual information with each factor, normalised by the factor's discrete entropy.

Conditional entropies are taken per factor value from the per-image factor classes,
so any factor grid works (full factorial or not, balanced or not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dvae_cli.metrics.aam import aam_scores
from dvae_cli.metrics.entropy import mixture_entropy

if TYPE_CHECKING:
    from dvae_cli.metrics.runner import MetricInputs, MetricsReport


@dataclass
class MutualInformation:
    """I(z_j; v_k) and the entropies it comes from.

    Attributes:
        mi: (K, D) mutual information of each selected factor with each latent (nats).
        marginal_entropy: (D,) H(z_j).
        conditional_entropy: (K, D) H(z_j | v_k).
        factor_entropy: (K,) H(v_k).
    """

    mi: np.ndarray
    marginal_entropy: np.ndarray
    conditional_entropy: np.ndarray
    factor_entropy: np.ndarray


def factor_entropies(classes: np.ndarray) -> np.ndarray:
    """Empirical entropy H(v_k) of each column of `classes` (N, K), in nats."""
    out = []
    for column in np.asarray(classes).T:
        p = np.bincount(column.astype(np.int64)) / len(column)
        p = p[p > 0]
        out.append(float(-(p * np.log(p)).sum()))
    return np.array(out)


def mutual_information(mean: torch.Tensor, logvar: torch.Tensor, classes: np.ndarray, n_samples: int = 10_000,
                       seed: int = 0, progress: Callable[[int, int], None] | None = None) -> MutualInformation:
    """I(z_j; v_k) by Chen et al.'s estimator, from one posterior sample per image.

    H(z_j) uses `n_samples` random images' samples against the mixture of all N
    posteriors; H(z_j | v_k) = sum_v p(v) H(z_j | v_k = v), each term from up to
    `n_samples` samples of the images with v_k = v against the mixture of those images.

    Args:
        mean, logvar: Posterior parameters of every image, shape (N, D).
        classes: Factor classes of every image, shape (N, K) (only the factors to score).
        n_samples: Monte-Carlo samples per entropy.
        seed: Seeds the posterior samples and the subsets.
        progress: Called with (entropies done, entropies total).
    """
    n, dim = mean.shape
    classes = np.asarray(classes, dtype=np.int64)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(n, dim, generator=generator).to(mean.device)
    samples = mean + torch.exp(0.5 * logvar) * noise           # z ~ q(z|x), one per image
    rng = np.random.default_rng(seed)
    groups = [[np.flatnonzero(classes[:, k] == v) for v in np.unique(classes[:, k])]
              for k in range(classes.shape[1])]
    total = dim * (1 + sum(len(g) for g in groups))
    done = 0

    def entropy(rows: np.ndarray, j: int) -> float:
        nonlocal done
        chosen = rows if len(rows) <= n_samples else rows[np.sort(rng.choice(len(rows), n_samples, replace=False))]
        index = torch.from_numpy(rows).to(mean.device)
        picked = torch.from_numpy(chosen).to(mean.device)
        value = mixture_entropy(mean[index, j], logvar[index, j], samples[picked, j])
        done += 1
        if progress is not None:
            progress(done, total)
        return value

    everything = np.arange(n)
    marginal = np.array([entropy(everything, j) for j in range(dim)])
    conditional = np.zeros((classes.shape[1], dim))
    for k, values in enumerate(groups):
        for rows in values:
            weight = len(rows) / n
            for j in range(dim):
                conditional[k, j] += weight * entropy(rows, j)
    return MutualInformation(marginal[None, :] - conditional, marginal, conditional, factor_entropies(classes))


def mig_scores(mi: np.ndarray, factor_entropy: np.ndarray) -> np.ndarray:
    """MIG of each factor: (largest - second largest MI over latents) / H(v_k).

    Chen et al. 2018, Eq. 6. With a single latent the second largest MI is 0.

    Args:
        mi: (K, D) mutual information.
        factor_entropy: (K,) entropies of the factors, > 0 (a factor that does not
            vary is refused before scoring: `dvae_cli.metrics.suite.check_inputs`).

    Raises:
        ValueError: if a factor entropy is not positive.
    """
    if np.any(np.asarray(factor_entropy) <= 0):
        raise ValueError("MIG needs factors that vary (H(v_k) > 0)")
    ordered = -np.sort(-mi, axis=1)
    second = ordered[:, 1] if mi.shape[1] > 1 else np.zeros(len(mi))
    return (ordered[:, 0] - second) / factor_entropy


def histogram_discretize(codes: np.ndarray, bins: int = 20) -> np.ndarray:
    """Each column of `codes` (N, D) into `bins` equal-width bins (disentanglement_lib's rule)."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for j in range(codes.shape[1]):
        edges = np.histogram(codes[:, j], bins)[1][:-1]
        out[:, j] = np.digitize(codes[:, j], edges)
    return out


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information (nats) between two discrete label vectors, from their contingency table."""
    _, a_index = np.unique(a, return_inverse=True)
    _, b_index = np.unique(b, return_inverse=True)
    table = np.zeros((a_index.max() + 1, b_index.max() + 1))
    np.add.at(table, (a_index, b_index), 1)
    p = table / table.sum()
    pa, pb = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    value = float((p[nz] * (np.log(p[nz]) - np.log((pa @ pb)[nz]))).sum())
    return max(value, 0.0)   # MI >= 0: a negative value is round-off (-2e-16)


def discrete_mi_matrix(codes: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """(K, D) discrete MI between each factor column of `classes` and each code column."""
    return np.array([[discrete_mutual_info(classes[:, k], codes[:, j]) for j in range(codes.shape[1])]
                     for k in range(classes.shape[1])])


def mig_discrete(mean_codes: np.ndarray, classes: np.ndarray, bins: int = 20
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """disentanglement_lib's MIG on given points.

    Returns:
        (per-factor MIG (K,), MI matrix (K, D), factor entropies (K,)).
    """
    discretized = histogram_discretize(mean_codes, bins)
    mi = discrete_mi_matrix(discretized, classes)
    entropy = np.array([discrete_mutual_info(c, c) for c in np.asarray(classes).T])
    return mig_scores(mi, entropy), mi, entropy


def select_factors(names: Sequence[str], sizes: Sequence[int], wanted: Sequence[str] | None) -> list[int]:
    """Indices of `wanted` factors (all factors with more than one value if None)."""
    if wanted is None:
        return [k for k, size in enumerate(sizes) if size > 1]
    return [list(names).index(name) for name in wanted]


def chen_mutual_information(inputs: MetricInputs) -> dict[str, Any]:
    """Chen et al.'s I(z_j; v_k) on `inputs.mig_factors`, computed once for MIG and AAM (cached in `inputs`).

    Returns:
        ``mig`` and ``aam`` (the mean scores), ``protocol`` and ``detail`` (the
        ``metrics_detail.json`` entry ``mig``: the matrix, its entropies, both per-factor scores).
    """
    if "mi" not in inputs.cache:
        s = inputs.settings
        inputs.say(f"mutual information (Chen et al.): {len(inputs.codes):,} images, {s.n_samples:,} samples "
                   "per entropy")
        report = inputs.progress
        result = mutual_information(inputs.mean, inputs.logvar, inputs.classes[:, inputs.mig_factors],
                                    s.n_samples, s.seed,
                                    progress=(lambda done, total: report("mutual information", done, total))
                                    if report else None)
        chosen = [inputs.factor_names[k] for k in inputs.mig_factors]
        per_mig, per_aam = mig_scores(result.mi, result.factor_entropy), aam_scores(result.mi)
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
    cached: dict[str, Any] = inputs.cache["mi"]
    return cached


def run(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric mig``: Chen et al.'s MIG (score ``MIG``, detail ``mig``)."""
    mi = chen_mutual_information(inputs)
    report.add("MIG", mi["mig"], mi["protocol"])
    report.details["mig"] = mi["detail"]


def run_aam(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric aam``: AAM (`dvae_cli.metrics.aam`) from the same mutual informations as MIG (score ``AAM``)."""
    mi = chen_mutual_information(inputs)
    report.add("AAM", mi["aam"], {**mi["protocol"], "normalisation": "I_(1)"})
    report.details["mig"] = mi["detail"]


def run_discrete(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric mig_discrete``: disentanglement_lib's MIG (score ``MIG_discrete``, detail ``mig_discrete``)."""
    s = inputs.settings
    inputs.say(f"discrete MIG (disentanglement_lib): {s.num_train:,} points, {s.bins} bins")
    per_factor, mi_matrix, entropy = mig_discrete(inputs.x_train, inputs.y_train, s.bins)
    report.add("MIG_discrete", float(per_factor.mean()), {**inputs.sized, "estimator": "disentanglement_lib "
                                                          "histogram", "bins": s.bins,
                                                          "normalisation": "discrete H(v_k)"})
    report.details["mig_discrete"] = {"factors": inputs.names_of, "mutual_information": mi_matrix.tolist(),
                                      "factor_entropy": entropy.tolist(),
                                      "mig_per_factor": dict(zip(inputs.names_of, per_factor.tolist(), strict=True))}
