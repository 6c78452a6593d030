"""Each metric's time (run by hand): ``dvae eval --metric all`` on the full 737,280-image grid, minus encoding.

    .venv/bin/python benchmarks/metric_times.py [--metric all] [--images 737280] [--fast] [--n-samples N]
        [--latent-dim D] [--bounded]

The posteriors are `benchmarks/metrics.py`'s synthetic ones (shaped like a trained
beta-TCVAE on dSprites), so the times are those of the metrics alone; encoding the
grid is a forward pass (``benchmarks/eval.py`` times that kind of pass). Runs
`dvae_cli.metrics.suite.compute_metrics`, the function ``dvae eval`` calls, and prints
one row per metric as it completes: its wall-clock time (``metrics_detail.json``'s
``seconds``) and its scores, then the total against the issue-20 goal (10 minutes on 2 CPU cores). ``--latent-dim D`` adds
D - 10 latents that carry nothing (posteriors near the prior, as a trained model's unused
latents); ``--bounded`` applies `MetricSettings.bounded` (what ``--fast`` does for large D)
and prints `dvae_cli.metrics.cost.estimate_seconds` beside each measured time.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GOAL_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metric", default="all", help="comma-separated metrics, or all")
    parser.add_argument("--images", type=int, default=737_280, help="a random subset of the grid if smaller")
    parser.add_argument("--fast", action="store_true", help="dvae eval --fast's settings")
    parser.add_argument("--n-samples", type=int, default=None, help="posterior samples per entropy (MIG, AAM)")
    parser.add_argument("--latent-dim", type=int, default=10, help="pad to D latents with uninformative ones")
    parser.add_argument("--bounded", action="store_true", help="MetricSettings.bounded for this D and N")
    args = parser.parse_args()

    from benchmarks.metrics import synthetic_posteriors
    from dvae_cli.data import sprites
    from dvae_cli.metrics.names import MetricSettings, parse_metric_names
    from dvae_cli.metrics.sampling import stratified_subset
    from dvae_cli.metrics.suite import MetricsReport, compute_metrics

    settings = MetricSettings.fast() if args.fast else MetricSettings()
    if args.n_samples is not None:
        settings = replace(settings, n_samples=args.n_samples)
    index = np.arange(sprites.N_IMAGES)
    if args.images < len(index):
        index = np.sort(np.random.default_rng(0).choice(len(index), args.images, replace=False))
    classes = sprites.index_to_classes(index).astype(np.int64)
    if settings.max_images is not None and settings.max_images < len(classes):
        classes = classes[stratified_subset(classes, settings.max_images, np.random.default_rng(settings.seed))]
    mean, logvar = synthetic_posteriors(classes)
    if args.latent_dim > mean.shape[1]:
        import torch

        extra = args.latent_dim - mean.shape[1]
        generator = torch.Generator().manual_seed(1)
        mean = torch.cat([mean, 0.03 * torch.randn(len(mean), extra, generator=generator)], dim=1)
        logvar = torch.cat([logvar, 2 * torch.log(0.95 + 0.1 * torch.rand(len(mean), extra, generator=generator))],
                           dim=1)
    from dvae_cli.catalogue.metrics import metric_info
    from dvae_cli.metrics.cost import estimate_seconds

    names = parse_metric_names(args.metric)
    chen_sizes = sprites.FACTOR_SIZES[2:]
    if args.bounded:
        settings = settings.bounded(mean.shape[1], len(classes), chen_sizes, names)
    estimate = estimate_seconds(len(classes), mean.shape[1], chen_sizes, names, settings)
    print(f"{len(classes):,} images, {mean.shape[1]} latents, {'--fast' if args.fast else 'full'} settings"
          f"{' bounded' if args.bounded else ''}: {settings.n_samples:,} samples per entropy, "
          f"{settings.dci_trees} DCI stages; estimate {sum(estimate.values()):.0f} s")
    print(f"{'metric':<14}{'time':>10}  scores")
    printed: set[str] = set()

    def print_new(report: MetricsReport) -> None:   # each row as its metric completes
        for name, seconds in report.details["seconds"].items():
            if name not in printed:
                printed.add(name)
                scores = ", ".join(f"{key} {report.scores[key]:.3f}" if report.scores.get(key) is not None
                                   else f"{key} -" for key in metric_info(name).scores)
                print(f"{name:<14}{seconds:>8.1f} s  (estimate {estimate.get(name, 0):6.1f} s)  {scores}",
                      flush=True)

    started = time.perf_counter()
    compute_metrics(mean, logvar, classes, sprites.FACTOR_NAMES, sprites.FACTOR_SIZES, names, settings,
                    on_score=print_new)
    total = time.perf_counter() - started
    print(f"{'total':<14}{total:>8.1f} s  (goal: under {GOAL_S / 60:.0f} min with encoding, 2 CPU cores)")


if __name__ == "__main__":
    main()
