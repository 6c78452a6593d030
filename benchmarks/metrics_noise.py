"""How noisy ``--fast`` is, and the bias of the MIG estimator (run by hand; the README quotes it).

    .venv/bin/python benchmarks/metrics_noise.py RUN [--results-dir results] [--seeds 5] [--full]

1. For a trained run: the default metrics with ``--fast`` settings and `--seeds` seeds,
   their mean and standard deviation over seeds, beside the full settings' values
   (computed with ``--full``, about 15 min on 2 cores for sprites, else read from the
   run's ``metrics.log`` when its protocols are the full ones).
2. The bias of Chen et al.'s mutual-information estimator: I(z_j; v_k) for latents that
   are independent of every factor (true value 0), at the ``--fast`` and full sample
   sizes, on the sprites grid. Its mean is the bias, its spread the noise floor under
   which a mutual information (and so a MIG or AAM difference) means nothing.
3. ``--floor RUN [RUN ...]``: the noise floor on trained models, by a permutation null.
   Each run's posteriors of N images (balanced factor values, as ``--max-images``) are
   scored against the Chen factors' classes *permuted* across the images: the latents
   keep their marginals, the factors theirs, and the true mutual information is 0. Over
   ``--permutations`` permutations, at the ``--fast`` (2,000) and full (10,000) samples per
   entropy and at each ``--images`` N (``0``: the whole grid, ``--grid-permutations``
   permutations, first run only): the mean (bias), std, 1st/99th percentiles and the
   share of negative estimates, per N and per images-per-factor-value m = N / K_k;
   then the least-squares fit of log |q| = log a - b log m that `dvae_cli.metrics.noise`
   states (``--json PATH`` writes every null estimate).

    .venv/bin/python benchmarks/metrics_noise.py --floor qs10 qs32 --results-dir /tmp/noise_results
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def fast_noise(run: str, results_dir: Path, data_dir: Path, seeds: int, full: bool) -> None:
    from dvae_cli.engine.disentanglement import evaluate_metrics
    from dvae_cli.metrics.names import MetricSettings
    from dvae_cli.runs.folder import RunFolder

    folder = RunFolder.find(run, results_dir)
    spec = folder.read_spec()
    rows: dict[str, list[float]] = {}
    times = []
    for seed in range(seeds):
        started = time.perf_counter()
        result = evaluate_metrics(folder, data_dir, settings=MetricSettings.fast(seed=seed), device="cpu")
        times.append(time.perf_counter() - started)
        for key, value in result.report.scores.items():
            rows.setdefault(key, []).append(np.nan if value is None else value)
    reference: dict[str, float] = {}
    if full:
        started = time.perf_counter()
        result = evaluate_metrics(folder, data_dir, settings=MetricSettings(seed=spec.seed), device="cpu")
        print(f"full settings: {time.perf_counter() - started:.0f} s")
        reference = {k: v for k, v in result.report.scores.items() if v is not None}
    print(f"--fast over {seeds} seeds: {np.mean(times):.1f} s each (median {np.median(times):.1f} s)")
    print(f"{'score':<22}{'fast mean':>10}{'fast std':>10}{'full':>10}{'fast-full':>11}")
    for key, values in rows.items():
        full_value = reference.get(key, np.nan)
        print(f"{key:<22}{np.nanmean(values):>10.4f}{np.nanstd(values, ddof=1):>10.4f}{full_value:>10.4f}"
              f"{np.nanmean(values) - full_value:>11.4f}")


def estimator_bias(data_dir: Path, images: int, n_samples: int, seed: int = 0) -> tuple[float, float, float]:
    """(mean, std, most negative) of I(z; v_k) for 10 latents independent of the factors (true value 0)."""
    from dvae_cli.data import sprites
    from dvae_cli.metrics.mig import mutual_information
    from dvae_cli.metrics.sampling import stratified_subset

    factors = sprites.sprites_factors()
    rng = np.random.default_rng(seed)
    chosen = stratified_subset(factors.classes, images, rng)
    classes = factors.classes[chosen][:, 2:]                    # scale, orientation, posX, posY
    n = len(classes)
    mean = torch.from_numpy(rng.normal(0, 1, (n, 10)))
    logvar = torch.from_numpy(np.log(rng.uniform(0.01, 1.0, (n, 10)) ** 2))
    result = mutual_information(mean.float(), logvar.float(), classes, n_samples=n_samples, seed=seed)
    return float(result.mi.mean()), float(result.mi.std()), float(result.mi.min())


PROTOCOLS = {2_000: "--fast", 10_000: "full"}


def permutation_null(run: str, results_dir: Path, data_dir: Path, sizes: list[int], permutations: int,
                     grid_permutations: int, samples: list[int]) -> list[dict[str, object]]:
    """Null estimates I(z_j; pi(v_k)) of one trained run (see the module docstring, part 3).

    Returns:
        One row per (N, protocol, permutation, factor k, latent j): ``run``, ``latent_dim``,
        ``images``, ``protocol``, ``n_samples``, ``permutation``, ``factor``, ``values`` (K_k),
        ``latent``, ``mi`` (nats), ``kl`` (the latent's mean KL to the prior, nats).
    """
    from dvae_cli.data.sprites import FACTOR_NAMES
    from dvae_cli.engine.disentanglement import encode
    from dvae_cli.engine.eval_context import EvaluationContext
    from dvae_cli.metrics.mig import mutual_information
    from dvae_cli.metrics.names import CHEN_DSPRITES_FACTORS
    from dvae_cli.metrics.sampling import stratified_subset
    from dvae_cli.runs.folder import RunFolder

    context = EvaluationContext(RunFolder.find(run, results_dir), data_dir, device="cpu", write=False,
                                validate=False)
    model, data = context.model(), context.images()
    assert data.factors is not None
    chen = [FACTOR_NAMES.index(name) for name in CHEN_DSPRITES_FACTORS]
    rows: list[dict[str, object]] = []
    for images in sizes:
        n = images or len(data)
        chosen = stratified_subset(data.factors.classes, n, np.random.default_rng(0))
        started = time.perf_counter()
        mean, logvar = encode(model, data.subset(chosen), batch_size=1000)
        encoded = time.perf_counter() - started
        kl = (0.5 * (mean ** 2 + logvar.exp() - 1 - logvar)).mean(0).tolist()
        classes = data.factors.classes[chosen][:, chen].astype(np.int64)
        for n_samples in samples:
            protocol = PROTOCOLS.get(n_samples, f"s={n_samples}")
            count = permutations if images else grid_permutations
            started = time.perf_counter()
            for p in range(count):
                permuted = classes[np.random.default_rng(1000 + p).permutation(n)]
                mi = mutual_information(mean, logvar, permuted, n_samples=n_samples, seed=p).mi
                for (k, j), value in np.ndenumerate(mi):
                    rows.append({"run": run, "latent_dim": mean.shape[1], "images": n, "protocol": protocol,
                                 "n_samples": n_samples, "permutation": p, "factor": CHEN_DSPRITES_FACTORS[k],
                                 "values": int(classes[:, k].max() + 1), "latent": j, "mi": float(value),
                                 "kl": float(kl[j])})
            print(f"  {run}: {n:>7,} images ({encoded:.0f} s to encode), {protocol:<6} {count} permutations "
                  f"in {time.perf_counter() - started:.0f} s", flush=True)
    return rows


def summarise(rows: list[dict[str, object]]) -> None:
    """Print the floor tables (by N and protocol, by images per value) and the power-law fit."""
    def stats(values: np.ndarray) -> str:
        q01, q99 = np.quantile(values, [0.01, 0.99])
        return (f"{len(values):>6}{values.mean():>9.4f}{values.std():>8.4f}{q01:>9.4f}{q99:>8.4f}"
                f"{np.abs(values).max():>8.4f}{(values < 0).mean():>7.0%}")

    header = f"{'n':>6}{'mean':>9}{'std':>8}{'1%':>9}{'99%':>8}{'|max|':>8}{'neg':>7}"
    print("\nPermutation null I(z_j; pi(v_k)), nats (true value 0), by images scored N and protocol:")
    print(f"{'run':<8}{'N':>8} {'protocol':<8}" + header)
    keys = sorted({(str(r["run"]), int(r["images"]), str(r["protocol"])) for r in rows},  # type: ignore[call-overload]
                  key=lambda key: (key[0], key[1], key[2]))
    for run, images, protocol in keys:
        values = np.array([r["mi"] for r in rows if (r["run"], r["images"], r["protocol"]) == (run, images,
                                                                                              protocol)])
        print(f"{run:<8}{images:>8,} {protocol:<8}" + stats(values))
    print("\nby images per factor value m = N / K_k (all runs), protocol, samples per entropy:")
    print(f"{'N':>8}{'K_k':>5}{'m':>8} {'protocol':<8}" + header)
    fit: list[tuple[float, float, float, float]] = []
    for images, values_k, protocol in sorted({(int(r["images"]), int(r["values"]), str(r["protocol"]))  # type: ignore[call-overload]
                                              for r in rows}):
        values = np.array([r["mi"] for r in rows
                           if (r["images"], r["values"], r["protocol"]) == (images, values_k, protocol)])
        m = images / values_k
        print(f"{images:>8,}{values_k:>5}{m:>8.0f} {protocol:<8}" + stats(values))
        fit.append((m, float(values.mean()), float(values.std()), float(np.quantile(np.abs(values), 0.99))))
    table = np.array(fit)
    for column, label in ((2, "std"), (3, "99% of |I|")):
        slope, intercept = np.polyfit(np.log(table[:, 0]), np.log(table[:, column]), 1)
        print(f"fit {label:<11} = {np.exp(intercept):.3f} * m^-{-slope:.3f}  (m = images per factor value)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?")
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="also compute the full settings' values")
    parser.add_argument("--floor", nargs="+", metavar="RUN", help="the permutation-null floor of these runs")
    parser.add_argument("--images", type=int, nargs="+", default=[1_000, 3_000, 10_000, 0],
                        help="images scored (0: the whole grid, first run only)")
    parser.add_argument("--permutations", type=int, default=5)
    parser.add_argument("--grid-permutations", type=int, default=1)
    parser.add_argument("--samples", type=int, nargs="+", default=[2_000, 10_000],
                        help="Monte-Carlo samples per entropy (2,000: --fast, 10,000: full)")
    parser.add_argument("--json", type=Path, help="write every null estimate here")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    if args.floor:
        rows: list[dict[str, object]] = []
        for i, run in enumerate(args.floor):
            sizes = [n for n in args.images if n or i == 0]
            rows += permutation_null(run, args.results_dir, args.data_dir, sizes, args.permutations,
                                     args.grid_permutations, args.samples)
            if args.json:
                args.json.write_text(json.dumps(rows))
        summarise(rows)
        return
    if args.run:
        fast_noise(args.run, args.results_dir, args.data_dir, args.seeds, args.full)
    print("\nMI estimator on latents independent of the factors (true MI 0), nats:")
    print(f"{'setting':<34}{'mean':>9}{'std':>9}{'min':>9}")
    for label, images, n_samples in (("--fast: 10,000 images, 2,000 samples", 10_000, 2_000),
                                     ("full: 737,280 images, 10,000 samples", 737_280, 10_000)):
        bias = estimator_bias(args.data_dir, images, n_samples)
        print(f"{label:<34}{bias[0]:>9.4f}{bias[1]:>9.4f}{bias[2]:>9.4f}")


if __name__ == "__main__":
    main()
