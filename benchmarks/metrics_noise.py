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
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", nargs="?")
    parser.add_argument("--results-dir", type=Path, default=Path("results"))
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="also compute the full settings' values")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
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
