"""Training images/s with and without each experiment tracker, side by side (run by hand).

    .venv/bin/python benchmarks/trackers.py [--images 16384] [--epochs 2] [--repeats 3] [--batch-size 64]

Trains the same run (sprites, betaB, the quickstart model) in this process with no
tracker, then with each of ``tensorboard``, ``wandb`` (``WANDB_MODE=offline``) and
``mlflow`` (a file store in a temporary folder), in alternating order, `--repeats`
times. The time is that of `Trainer.fit` between the trackers' start and finish (the
epoch-end images are in it; opening a W&B run is not), over the images trained.
Prints the median images/s of each and its ratio to no tracker.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=16_384, help="training images (a subsample of sprites)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trackers", default="tensorboard,wandb,mlflow")
    args = parser.parse_args()

    import torch

    from dvae_cli.catalogue.trackers import check_installed, parse_trackers
    from dvae_cli.config import resolve_run
    from dvae_cli.engine.hooks import Callback
    from dvae_cli.engine.run import train_run
    from dvae_cli.runs.folder import default_data_dir
    from dvae_cli.trackers.callback import Tracking

    trackers = parse_trackers(args.trackers)
    check_installed(trackers)
    work = Path(tempfile.mkdtemp(prefix="dvae-trackers-"))
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("MLFLOW_TRACKING_URI", (work / "mlruns").as_uri())
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

    class Clock(Callback):
        def on_train_start(self, state):
            self.start = time.perf_counter()

        def on_train_end(self, state):
            self.seconds, self.images = time.perf_counter() - self.start, state.images_seen

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.images:,} images, "
          f"{args.epochs} epochs, batch {args.batch_size}, {args.repeats} repeats")
    rates: dict[str, list[float]] = {name: [] for name in ["none", *trackers]}
    for repeat in range(args.repeats):
        order = ["none", *trackers] if repeat % 2 == 0 else [*trackers, "none"]
        for name in order:
            flags = {"subsample": args.images, "epochs": args.epochs, "batch_size": args.batch_size,
                     "device": "cpu", "no_test": True, "test_fraction": 0.0}
            spec = resolve_run(f"{name}-{repeat}", None, flags).spec
            clock = Clock()
            callbacks: list = []
            tracking = None
            if name != "none":
                tracking = Tracking([name])
                callbacks.append(tracking)
            callbacks.append(clock)
            train_run(spec, work / "results", default_data_dir(), callbacks=callbacks, handle_signals=False)
            if tracking is not None:
                tracking.finish()
            rates[name].append(clock.images / clock.seconds)
            print(f"  {name:12s} repeat {repeat + 1}: {rates[name][-1]:8.1f} img/s", flush=True)
    base = statistics.median(rates["none"])
    print(f"\n{'tracker':12s} {'median img/s':>13s} {'vs none':>8s}")
    for name, values in rates.items():
        median = statistics.median(values)
        print(f"{name:12s} {median:13.1f} {median / base:8.3f}")
    print(f"(runs in {work})")


if __name__ == "__main__":
    main()
