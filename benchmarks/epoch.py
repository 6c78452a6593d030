"""One full training epoch (run by hand, or by benchmarks/gpu.sh): `Trainer.fit` over the sprites grid.

    .venv/bin/python benchmarks/epoch.py [--device cuda] [--losses VAE,betaH,betaB,factor,btcvae]
        [--batch-size 256] [--images 737280] [--compile] [--precision bf16] [--data-dir /tmp/dvbench/data]

Trains one epoch over all 737,280 `sprites` images (no test split; ``--images`` takes a
seeded subset, e.g. for a dry run on the CPU) with dvae's Trainer, the data kept on the
device: the Trainer moves the uint8 bit-packed images (377 MB) to the device once
(``data.to(device)``), and each batch is gathered and converted there. A few steps of the
same trainer first warm up the device (CUDA context, cuDNN's algorithm choice,
``--compile``'s compilation); then `Trainer.fit` runs the epoch, with its checks for
non-finite terms every 25 steps and the epoch means at its end.

Prints one table, one row per loss: the time to build the Trainer (moving the data to
the device), the epoch time, images/s, and the peak device memory (CUDA) or the peak
RSS (CPU). Goal of issue #9: < 5 s for the full epoch on a data-centre GPU.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import LOSS_NAMES, choose, device_or_exit, seeded_subset  # noqa: E402
from benchmarks.rss import PeakRss  # noqa: E402

if TYPE_CHECKING:
    from dvae_cli.data.in_memory import ImageData

EPOCH_GOAL_S = 5.0
FULL_GRID = 737_280


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def one_epoch(loss_name: str, data: ImageData, args: argparse.Namespace, device: torch.device
              ) -> tuple[float, float, int, float]:
    """(seconds to build the Trainer, seconds of the epoch, images trained, peak memory in MB)."""
    from benchmarks.train import build
    from dvae_cli.engine.trainer import Trainer

    model, loss, optimizer = build(loss_name, len(data), data.img_size, args.seed)
    rss = PeakRss()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss.reset()
    start = time.perf_counter()
    trainer = Trainer(model=model, loss=loss, optimizer=optimizer, data=data, batch_size=args.batch_size, epochs=1,
                      seed=args.seed, device=device, compile_model=args.compile, precision=args.precision)
    synchronize(device)
    build_s = time.perf_counter() - start
    for x in itertools.islice(trainer.epoch_batches(0), args.warmup):
        trainer.train_step(x)
    synchronize(device)
    trainer.state.step_in_epoch = 0   # `fit` starts the epoch over (and resets the running means)
    start = time.perf_counter()
    trainer.fit()
    synchronize(device)
    epoch_s = time.perf_counter() - start
    images = trainer.state.steps_per_epoch * args.batch_size
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else rss.peak_mb()
    return build_s, epoch_s, images, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda or cpu")
    parser.add_argument("--losses", default=",".join(LOSS_NAMES))
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--images", type=int, default=None, help="a seeded subset (default: the whole grid)")
    parser.add_argument("--warmup", type=int, default=10, help="steps before the timed epoch")
    parser.add_argument("--compile", action="store_true", help="Trainer(compile_model=True)")
    parser.add_argument("--precision", default="fp32", help="fp32 or bf16")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/dvbench/data"))
    args = parser.parse_args()
    losses = choose(args.losses, LOSS_NAMES, "loss")
    device = device_or_exit(args.device)

    from dvae_cli.data.loading import load_dataset
    from dvae_cli.engine.device import configure_threads

    configure_threads()
    data = load_dataset("sprites", args.data_dir)
    data = seeded_subset(data, args.images, args.seed)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    memory = "peak GPU mem" if device.type == "cuda" else "peak RSS"
    header = (f"{'loss':<8}{'images':>9}{'batch':>7}{'to device':>11}{'epoch':>10}{'images/s':>11}"
              f"{memory:>15}  goal < {EPOCH_GOAL_S:g} s")
    print(f"{name}, torch {torch.__version__}, {args.precision}{', compiled' if args.compile else ''}")
    print(header)
    print("-" * len(header))
    for loss_name in losses:
        build_s, epoch_s, images, peak = one_epoch(loss_name, data, args, device)
        full = len(data) == FULL_GRID
        verdict = ("met" if epoch_s < EPOCH_GOAL_S else "not met") if full else "- (not the full grid)"
        print(f"{loss_name:<8}{images:>9,}{args.batch_size:>7}{build_s:>9.2f} s{epoch_s:>8.2f} s"
              f"{images / epoch_s:>11,.0f}{peak:>12,.0f} MB  {verdict}", flush=True)
    print("-" * len(header))
    print(f"epoch: Trainer.fit over {len(data):,} images after {args.warmup} warm-up steps; "
          "to device: building the Trainer (data.to(device))")


if __name__ == "__main__":
    main()
