"""Evaluation benchmarks (run by hand): test losses, MIG, `dvae --help`, `dvae browse` first paint.

    .venv/bin/python benchmarks/eval.py [--losses betaB,btcvae] [--skip-mig] [--help-runs 5]
        [--browse-runs 200] [--data-dir /tmp/dvbench/data]

Prints one table, one row per measurement, with its time, images/s where it applies, and
peak memory:

- test losses: one full pass of `dvae_cli.engine.evaluate.evaluate_losses` (what
  ``dvae eval`` and the end of ``dvae train`` run) over the `sprites` test split (10 %,
  73,728 images) in batches of 1000 (the default ``eval_batchsize``), per loss, with a
  freshly initialised model (the time does not depend on the weights).
- MIG: Chen et al.'s estimator (`dvae_cli.metrics.mig`) on the full 737,280-image grid
  with 10,000 samples per entropy, on `benchmarks/metrics.py`'s synthetic posteriors:
  the metric alone (encoding the grid is a forward pass like the test losses').
- ``dvae --help``: wall time of the console script in a fresh process, median of
  ``--help-runs`` (goal of issue #9: < 0.5 s).
- ``dvae browse``: `benchmarks/browse.py` in a subprocess with ``--browse-runs`` run
  folders, its median times from the App start to the first rows and to all rows.

Memory: in-process rows show the RSS high-water mark during the measurement (reset before
it, `benchmarks/rss.py`) and, in brackets, what it added over the RSS before it; the
``--help`` row shows the child's peak RSS (``os.wait4``), the browse rows the peak RSS and
the peak of Python allocations (tracemalloc) that browse.py reports.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import LOSS_NAMES, choose  # noqa: E402
from benchmarks.rss import PeakRss, current_rss_mb  # noqa: E402

if TYPE_CHECKING:
    from dvae_cli.data.in_memory import ImageData

# torch and numpy are imported where they are used: a child process started while this one
# holds torch would inherit its RSS high-water mark (Linux keeps the peak of the image it
# replaces at exec), so the subprocess rows run first, from a small process.

HELP_GOAL_S = 0.5


@dataclass
class Row:
    """One line of the table."""

    measure: str
    seconds: float
    memory: str
    rate: float | None = None
    goal: str = ""


def in_process(rss: PeakRss, before: float) -> str:
    """`peak (+added)` of the measurement that started at RSS `before`."""
    peak = rss.peak_mb()
    return f"{peak:,.0f} MB RSS (+{max(peak - before, 0):,.0f})"


def test_loss_pass(loss_name: str, test: ImageData, n_train: int, batch_size: int, rss: PeakRss) -> Row:
    """One `evaluate_losses` pass over the test images."""
    from benchmarks.train import build
    from dvae_cli.engine.evaluate import evaluate_losses

    model, loss, _ = build(loss_name, n_train, test.img_size, seed=0)
    before = current_rss_mb()
    rss.reset()
    start = time.perf_counter()
    evaluate_losses(model, loss, test, batch_size, "cpu")
    seconds = time.perf_counter() - start
    return Row(f"test losses, {loss_name} ({len(test):,} images, batch {batch_size})", seconds,
               in_process(rss, before), rate=len(test) / seconds)


def mig_full_grid(n_samples: int, rss: PeakRss) -> Row:
    """Chen et al.'s MI matrix and MIG on the full grid (benchmarks/metrics.py's protocol)."""
    import numpy as np

    from benchmarks.metrics import synthetic_posteriors
    from dvae_cli.data import sprites
    from dvae_cli.metrics.mig import mig_scores, mutual_information

    classes = sprites.index_to_classes(np.arange(sprites.N_IMAGES)).astype(np.int64)
    mean, logvar = synthetic_posteriors(classes)
    factors = [2, 3, 4, 5]   # scale, orientation, posX, posY
    before = current_rss_mb()
    rss.reset()
    start = time.perf_counter()
    result = mutual_information(mean, logvar, classes[:, factors], n_samples=n_samples, seed=0)
    mig = float(mig_scores(result.mi, result.factor_entropy).mean())
    seconds = time.perf_counter() - start
    return Row(f"MIG, full grid ({len(classes):,} x {n_samples:,} samples; MIG {mig:.3f})", seconds,
               in_process(rss, before))


def help_wall_time(runs: int) -> Row:
    """Median wall time of ``dvae --help`` in fresh processes, and the largest peak RSS of them."""
    script = Path(sys.executable).with_name("dvae")
    command = [str(script), "--help"] if script.is_file() else [sys.executable, "-m", "dvae_cli", "--help"]
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        times.append(time.perf_counter() - start)
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            raise SystemExit(f"error: {' '.join(command)} exited with {process.returncode}")
        peaks.append(usage.ru_maxrss / 1024)   # kB on Linux
    median = statistics.median(times)
    verdict = "met" if median < HELP_GOAL_S else "NOT met"
    return Row(f"dvae --help (median of {runs}; min {min(times):.2f} s, max {max(times):.2f} s)", median,
               f"{max(peaks):,.0f} MB RSS", goal=f"< {HELP_GOAL_S} s: {verdict}")


def browse_first_paint(runs: int, repeat: int) -> list[Row]:
    """Run benchmarks/browse.py and read its table (median times from the App start)."""
    command = [sys.executable, str(ROOT / "benchmarks" / "browse.py"), "--runs", str(runs), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    lines = done.stdout.splitlines()
    try:
        header = [cell.strip() for cell in lines[0].split("|")]
        cells = dict(zip(header, (cell.strip() for cell in lines[1].split("|")), strict=True))
        first, every = (float(cells[key].split()[0]) / 1000 for key in ("first rows", "all rows"))
        memory = f"{cells['RSS peak']} RSS, {cells['py peak']} py"
    except (IndexError, KeyError, ValueError):
        raise SystemExit(f"error: could not read the output of {' '.join(command)} (exit {done.returncode}):\n"
                         f"{done.stdout}{done.stderr}") from None
    return [Row(f"dvae browse, {runs} runs: first rows painted (median of {repeat})", first, memory),
            Row(f"dvae browse, {runs} runs: all rows listed", every, memory)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--losses", default="betaB,btcvae", help=f"comma-separated, of: {','.join(LOSS_NAMES)}")
    parser.add_argument("--eval-batch-size", type=int, default=1000)
    parser.add_argument("--skip-mig", action="store_true", help="leave out the MIG (2-3 min on 2 cores)")
    parser.add_argument("--n-samples", type=int, default=10_000, help="MIG samples per entropy")
    parser.add_argument("--help-runs", type=int, default=5)
    parser.add_argument("--browse-runs", type=int, default=200)
    parser.add_argument("--browse-repeat", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/dvbench/data"))
    args = parser.parse_args()
    losses = choose(args.losses, LOSS_NAMES, "loss")

    # the subprocesses first, while this process is small (see the imports above)
    parent_mb = current_rss_mb()
    rows = [help_wall_time(args.help_runs), *browse_first_paint(args.browse_runs, args.browse_repeat)]
    from dvae_cli.data.in_memory import train_test_split
    from dvae_cli.data.loading import load_dataset

    rss = PeakRss()
    train, test = train_test_split(load_dataset("sprites", args.data_dir), 0.1)
    n_train = len(train)
    del train
    gc.collect()
    rows += [test_loss_pass(name, test, n_train, args.eval_batch_size, rss) for name in losses]
    del test
    gc.collect()
    if not args.skip_mig:
        rows.append(mig_full_grid(args.n_samples, rss))

    width = max(len(row.measure) for row in rows) + 2
    header = f"{'measure':<{width}}{'time':>10}{'images/s':>11}   {'peak memory':<28}{'goal'}"
    print(header)
    print("-" * len(header))
    for row in rows:
        rate = f"{row.rate:,.0f}" if row.rate is not None else "-"
        print(f"{row.measure:<{width}}{row.seconds:>8.2f} s{rate:>11}   {row.memory:<28}{row.goal}")
    print("-" * len(header))
    import torch

    print(f"cpu, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
          f"{'' if rss.resettable else '; in-process peaks are lifetime peaks (could not reset them)'}")
    print(f"(the subprocesses started from this process at {parent_mb:,.0f} MB RSS: their peaks are at least that)")


if __name__ == "__main__":
    main()
