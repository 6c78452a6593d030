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

from dvae_cli.errors import ConfigError
from dvae_cli.metrics.aam import aam_clamped, aam_scores
from dvae_cli.metrics.noise import mi_noise_floor

#: What the protocols say of the clamps and the floor.
MIG_CLAMP_NOTE = ("each factor's mutual-information estimates clamped at 0 before the gap (Chen et al.'s code, "
                  "metric_helpers/mi_metric.py): a negative second-largest counts as 0")
AAM_CLAMP_NOTE = ("estimates clamped at 0, then max(0, I_(1) - sum of the others) / I_(1) (disentangling-vae); "
                  "clamped_at_0 lists the factors whose AAM is 0 by that clamp")
NOISE_FLOOR_NOTE = ("per factor, the magnitude that 99% of estimates of a true 0 stay under at these images and "
                    "samples (permutation null on trained models, dvae_cli.metrics.noise)")

if TYPE_CHECKING:
    import torch

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
    import torch

    from dvae_cli.metrics.entropy import mixture_entropy

    n, dim = mean.shape
    classes = np.asarray(classes, dtype=np.int64)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(n, dim, generator=generator).to(mean.device)
    samples = mean + torch.exp(0.5 * logvar) * noise           # z ~ q(z|x), one per image
    rng = np.random.default_rng(seed)
    groups = [[np.flatnonzero(classes[:, k] == v) for v in np.unique(classes[:, k])]
              for k in range(classes.shape[1])]
    everything = np.arange(n)
    # (rows of the mixture, latent) of every entropy, in the order their subsets are drawn
    tasks = [(everything, j) for j in range(dim)] + [(rows, j) for values in groups for rows in values
                                                      for j in range(dim)]

    def subset(rows: np.ndarray) -> np.ndarray:
        return rows if len(rows) <= n_samples else rows[np.sort(rng.choice(len(rows), n_samples, replace=False))]

    def entropy(rows: np.ndarray, chosen: np.ndarray, j: int) -> float:
        index = torch.from_numpy(rows).to(mean.device)
        picked = torch.from_numpy(chosen).to(mean.device)
        return mixture_entropy(mean[index, j], logvar[index, j], samples[picked, j])

    values = entropies_in_parallel(tasks, subset, entropy, mean.device.type == "cpu", progress)
    marginal = np.array(values[:dim])
    conditional = np.zeros((classes.shape[1], dim))
    position = dim
    for k, factor_groups in enumerate(groups):
        for rows in factor_groups:
            conditional[k] += len(rows) / n * np.array(values[position:position + dim])
            position += dim
    return MutualInformation(marginal[None, :] - conditional, marginal, conditional, factor_entropies(classes))


def entropies_in_parallel(tasks: Sequence[tuple[np.ndarray, int]], subset: Callable[[np.ndarray], np.ndarray],
                          entropy: Callable[[np.ndarray, np.ndarray, int], float], on_cpu: bool,
                          progress: Callable[[int, int], None] | None = None) -> list[float]:
    """``entropy(rows, subset(rows), j)`` of every task, the subsets drawn in the tasks' order.

    On the CPU the entropies run on `torch.get_num_threads()` threads, each with one
    torch thread: an entropy is many small tensor operations, which torch's own
    intra-op threads slow down (by 10x when other processes share the cores); the
    subsets are drawn in order first, so the result does not depend on the threads.
    The caller's torch thread count is restored.

    Args:
        tasks: (rows of the mixture, latent index) of each entropy.
        subset: Draws the Monte-Carlo samples' rows from a mixture's rows (called in order).
        entropy: The entropy of one task, given its rows, its sample rows and its latent.
        on_cpu: Parallelise over threads (False: one at a time, as on a GPU).
        progress: Called with (entropies done, entropies total).

    Returns:
        The entropies (nats), in the order of `tasks`.
    """
    from concurrent.futures import ThreadPoolExecutor

    import torch

    total = len(tasks)
    threads = torch.get_num_threads()
    workers = max(1, threads) if on_cpu else 1
    out: list[float] = []
    chunk = max(1, 4 * workers)
    if on_cpu:
        torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(max_workers=workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            for start in range(0, total, chunk):
                batch = [(rows, subset(rows), j) for rows, j in tasks[start:start + chunk]]
                out.extend(pool.map(lambda task: entropy(*task), batch))
                if progress is not None:
                    progress(len(out), total)
    finally:
        if on_cpu:
            torch.set_num_threads(threads)
    return out


def mig_scores(mi: np.ndarray, factor_entropy: np.ndarray, clamp: bool = True) -> np.ndarray:
    """MIG of each factor: (largest - second largest MI over latents) / H(v_k).

    Chen et al. 2018, Eq. 6. With a single latent the second largest MI is 0. As
    Chen et al.'s code (``metric_helpers/mi_metric.py`` of rtqichen/beta-tcvae, and
    disentangling-vae after it), each factor's mutual informations are clamped at 0
    before the gap: an estimate below 0 is the estimator's noise (the true value is
    never negative), so a negative second-largest counts as 0 and does not widen the
    gap, and a factor whose every estimate is negative scores 0. A discrete (plug-in)
    mutual information is never negative, so the clamp leaves ``mig_discrete`` as it is.

    Args:
        mi: (K, D) mutual information (nats).
        factor_entropy: (K,) entropies of the factors, > 0 (a factor that does not
            vary is refused before scoring: `dvae_cli.metrics.suite.check_inputs`).
        clamp: False: the gap of the raw estimates (a negative second-largest widens it).

    Returns:
        (K,) the MIG of each factor.

    Raises:
        ValueError: if a factor entropy is not positive.
    """
    if np.any(np.asarray(factor_entropy) <= 0):
        raise ValueError("MIG needs factors that vary (H(v_k) > 0)")
    values = np.clip(mi, 0.0, None) if clamp else np.asarray(mi, dtype=float)
    ordered = -np.sort(-values, axis=1)
    second = ordered[:, 1] if mi.shape[1] > 1 else np.zeros(len(mi))
    return (ordered[:, 0] - second) / factor_entropy


def negative_second(mi: np.ndarray) -> np.ndarray:
    """(K,) whether each factor's second-largest mutual information estimate is negative (clamped by `mig_scores`)."""
    if mi.shape[1] < 2:
        return np.zeros(len(mi), dtype=bool)
    return np.asarray(-np.sort(-np.asarray(mi, dtype=float), axis=1)[:, 1] < 0)


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
        if inputs.logvar is None:
            raise ConfigError("MIG and AAM (Chen et al.) sample the posterior: they need log-variances")
        import torch

        result = mutual_information(torch.as_tensor(inputs.mean), torch.as_tensor(inputs.logvar),
                                    inputs.classes[:, inputs.mig_factors],
                                    s.n_samples, s.seed,
                                    progress=(lambda done, total: report("mutual information", done, total))
                                    if report else None)
        chosen = [inputs.factor_names[k] for k in inputs.mig_factors]
        per_mig, per_aam = mig_scores(result.mi, result.factor_entropy), aam_scores(result.mi)
        scored = inputs.classes[:, inputs.mig_factors]
        floor = np.array([mi_noise_floor(len(inputs.codes), s.n_samples, len(np.unique(scored[:, k])))
                          for k in range(scored.shape[1])])
        top = result.mi.max(axis=1)
        clamped, below = aam_clamped(result.mi), top < floor
        second_negative = negative_second(result.mi)
        protocol = {"estimator": "Chen et al. 2018, Monte-Carlo over the dataset", "representation": "sample",
                    "factors": chosen, "images": len(inputs.codes), "n_samples": s.n_samples, "seed": s.seed,
                    "normalisation": "H(v_k) (log K on a full grid)",
                    "noise_floor_nats": dict(zip(chosen, np.round(floor, 4).tolist(), strict=True)),
                    "noise_floor": NOISE_FLOOR_NOTE}
        if s.bounded_for is not None:
            protocol["bounded_for_latent_dim"] = s.bounded_for
        detail = {"factors": chosen, "mutual_information": result.mi.tolist(),
                  "marginal_entropy": result.marginal_entropy.tolist(),
                  "conditional_entropy": result.conditional_entropy.tolist(),
                  "factor_entropy": result.factor_entropy.tolist(),
                  "mig_per_factor": dict(zip(chosen, per_mig.tolist(), strict=True)),
                  "aam_per_factor": dict(zip(chosen, per_aam.tolist(), strict=True)),
                  "noise_floor": dict(zip(chosen, floor.tolist(), strict=True)),
                  "second_mi_negative": dict(zip(chosen, second_negative.tolist(), strict=True)),
                  "aam_clamped": dict(zip(chosen, clamped.tolist(), strict=True)),
                  "top_mi_below_floor": dict(zip(chosen, below.tolist(), strict=True))}
        noisy = [f for f, b in zip(chosen, below, strict=True) if b]
        mig_protocol = {**protocol, "clamp": MIG_CLAMP_NOTE,
                        "second_mi_clamped": [f for f, neg in zip(chosen, second_negative, strict=True) if neg],
                        "top_mi_below_floor": noisy}
        if noisy:
            inputs.say(f"note: at {len(inputs.codes):,} images the largest mutual information of {', '.join(noisy)} "
                       "is under its noise floor: MIG and AAM of these factors are noise (top_mi_below_floor)")
        aam_protocol = {**protocol, "normalisation": "I_(1)", "clamp": AAM_CLAMP_NOTE,
                        "clamped_at_0": [f for f, c in zip(chosen, clamped, strict=True) if c],
                        "top_mi_below_floor": [f for f, b in zip(chosen, below, strict=True) if b]}
        inputs.cache["mi"] = {"mig": float(per_mig.mean()), "aam": float(per_aam.mean()),
                              "protocol": mig_protocol, "aam_protocol": aam_protocol, "detail": detail}
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
    report.add("AAM", mi["aam"], mi["aam_protocol"])
    report.details["mig"] = mi["detail"]


def run_discrete(inputs: MetricInputs, report: MetricsReport) -> None:
    """``--metric mig_discrete``: disentanglement_lib's MIG (score ``MIG_discrete``, detail ``mig_discrete``)."""
    s = inputs.settings
    inputs.say(f"discrete MIG (disentanglement_lib): {len(inputs.x_points):,} points, {s.bins} bins")
    per_factor, mi_matrix, entropy = mig_discrete(inputs.x_points, inputs.y_points, s.bins)
    report.add("MIG_discrete", float(per_factor.mean()), {**inputs.points, "estimator": "disentanglement_lib "
                                                          "histogram", "bins": s.bins,
                                                          "normalisation": "discrete H(v_k)"})
    report.details["mig_discrete"] = {"factors": inputs.names_of, "mutual_information": mi_matrix.tolist(),
                                      "factor_entropy": entropy.tolist(),
                                      "mig_per_factor": dict(zip(inputs.names_of, per_factor.tolist(), strict=True))}
