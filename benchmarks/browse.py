"""`dvae browse` benchmark (run by hand): first paint of the run list with 200 runs.

    .venv/bin/python benchmarks/browse.py [--runs 200] [--repeat 3]

Creates `--runs` run folders in a temporary directory (copies of the specs and loss logs
of tests/fixtures/disvae-results, 15-290 KB of log each, `model.pt` linked), starts the
app headless (`App.run_test`, 160x48) and measures, from the start of the app:

- first rows: the run list shows its first rows (the first batch of the first scan),
- all rows: every run is listed with its status,
- details: the selected run's full history, files and figures are shown,
- a poll: one look at the disk when nothing changed (what the 2 s timer costs),

and the peak memory (Python allocations, tracemalloc) and peak RSS of the process.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures" / "disvae-results"


def make_runs(root: Path, count: int) -> None:
    """`count` run folders named run_000..., cycling through the reference runs."""
    sources = sorted(p for p in FIXTURES.iterdir() if (p / "specs.json").is_file())
    for index in range(count):
        source = sources[index % len(sources)]
        folder = root / f"run_{index:03d}_{source.name}"
        folder.mkdir()
        for name in ("specs.json", "train_losses.log", "test_losses.log"):
            shutil.copy(source / name, folder / name)
        os.symlink(source / "model.pt", folder / "model.pt")


async def measure(results: Path, count: int) -> dict[str, float]:
    from textual_image.widget import HalfcellImage

    from dvae_cli.runs.watch import RunWatcher
    from dvae_cli.tui.app import BrowseApp
    from dvae_cli.tui.screens.browse import BrowseScreen
    from dvae_cli.tui.widgets.run_table import RunTable

    times: dict[str, float] = {}
    start = time.perf_counter()
    app = BrowseApp(results, image_class=HalfcellImage, poll_interval=0)
    async with app.run_test(size=(160, 48)) as pilot:
        def table() -> RunTable | None:
            screen = app.screen
            return screen.query_one(RunTable) if isinstance(screen, BrowseScreen) else None

        # Rows added to the table are painted in the next frame (Textual refreshes at 60 Hz).
        while (t := table()) is None or t.row_count == 0:
            await asyncio.sleep(0.005)
        times["first rows"] = time.perf_counter() - start
        while (t := table()) is None or t.row_count < count:
            await asyncio.sleep(0.005)
        times["all rows"] = time.perf_counter() - start
        screen = app.screen
        assert isinstance(screen, BrowseScreen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        times["details"] = time.perf_counter() - start
    watcher = RunWatcher(results)
    watcher.poll_all()
    poll_start = time.perf_counter()
    watcher.poll_all()
    times["a poll"] = time.perf_counter() - poll_start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results"
        results.mkdir()
        make_runs(results, args.runs)
        import dvae_cli.tui.app  # noqa: F401  (imports textual and textual-image once, outside the timing)

        runs = [asyncio.run(measure(results, args.runs)) for _ in range(args.repeat)]
        tracemalloc.start()   # one more run, for the memory only (tracemalloc slows everything down)
        asyncio.run(measure(results, args.runs))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    keys = list(runs[0])
    median = {key: statistics.median(run[key] for run in runs) for key in keys}
    print(f"{'runs':>5} | " + " | ".join(f"{key:>10}" for key in keys) + f" | {'py peak':>8} | {'RSS peak':>8}")
    print(f"{args.runs:>5} | " + " | ".join(f"{median[key] * 1000:>7.0f} ms" for key in keys)
          + f" | {peak / 2**20:>5.1f} MB | {rss:>5.0f} MB")
    print(f"(times: median of {args.repeat} runs from App start; py peak: tracemalloc over one more run)")


if __name__ == "__main__":
    main()
