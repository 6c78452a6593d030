"""Data benchmarks (run by hand): sprites generation, cache load, loader throughput.

    .venv/bin/python benchmarks/data.py [--steps 60] [--batch-size 64]

Prints one table: the full sprites grid generation time and peak memory (measured in
a fresh process, over its baseline after imports), the cache load time, and images/s
of dvae's in-memory loader versus the usual pattern (a torch DataLoader over a
per-item Dataset returning float tensors): loading alone, and training the same
model with the same loss (median of alternating rounds), side by side in this run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GENERATE = """
import json, resource, sys, time
from pathlib import Path
from dvae_cli.data import sprites
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
packed = sprites.load_packed(Path(sys.argv[1]))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "peak_mb": (peak - base) / 1024, "baseline_mb": base / 1024}))
"""


class PerItemSprites(torch.utils.data.Dataset):
    """The usual pattern: one image per __getitem__, unpacked and converted to float there."""

    def __init__(self, packed: np.ndarray) -> None:
        self.packed = packed

    def __len__(self) -> int:
        return len(self.packed)

    def __getitem__(self, k: int) -> torch.Tensor:
        image = np.unpackbits(self.packed[k])[:4096].reshape(1, 64, 64).astype(np.float32)
        return torch.from_numpy(image)


def train_steps(batches, steps: int, seed: int = 0) -> float:
    """Images/s of `steps` betaH training steps (after 5 warm-up steps)."""
    from dvae_cli.engine.models import build_model
    from dvae_cli.losses import get_loss

    torch.manual_seed(seed)
    model = build_model((1, 64, 64), 10).to(memory_format=torch.channels_last)
    loss = get_loss("betaH", reg_anneal=1000)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    images, start = 0, 0.0
    for step, x in enumerate(batches):
        if step == 5:
            start, images = time.perf_counter(), 0
        x = x.contiguous(memory_format=torch.channels_last)
        result = loss(model, x, step + 1)
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        optimizer.step()
        images += x.shape[0]
        if step + 1 == steps + 5:
            break
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternating repetitions (median reported)")
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse a sprites cache (default: fresh)")
    args = parser.parse_args()

    from dvae_cli.data import sprites
    from dvae_cli.data.in_memory import EpochBatches

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or Path(tmp)
        generated = json.loads(subprocess.run([sys.executable, "-c", GENERATE, str(data_dir)], check=True,
                                              capture_output=True, text=True, cwd=ROOT).stdout)
        start = time.perf_counter()
        data = sprites.load("sprites", data_dir)
        load_s = time.perf_counter() - start

        batches = EpochBatches(len(data), args.batch_size, seed=0)

        def sources():
            yield "dvae in-memory loader", lambda: (data.batch(index) for index in batches.epoch(0))
            for workers in (0, 2):
                loader = torch.utils.data.DataLoader(PerItemSprites(data.pixels.numpy()),
                                                     batch_size=args.batch_size, shuffle=True,
                                                     num_workers=workers, drop_last=True)
                yield f"DataLoader per-item, {workers} workers", lambda loader=loader: iter(loader)

        results: dict[str, list[float]] = {}
        loading: dict[str, float] = {}
        for name, make in sources():
            start, count = time.perf_counter(), 0
            for k, x in enumerate(make()):
                count += x.shape[0]
                if k == 200:
                    break
            loading[name] = count / (time.perf_counter() - start)
        for _ in range(args.rounds):   # alternate so that drifts of the machine hit every variant
            for name, make in sources():
                results.setdefault(name, []).append(train_steps(make(), args.steps))
        medians = {name: float(np.median(v)) for name, v in results.items()}
        ours = medians["dvae in-memory loader"]

    print(f"{'measure':<44}{'value':>14}")
    print(f"{'sprites grid generation (737,280 images)':<44}{generated['seconds']:>12.1f} s")
    print(f"{'  peak memory over the process baseline':<44}{generated['peak_mb']:>11.0f} MB")
    print(f"{'  (process baseline after imports)':<44}{generated['baseline_mb']:>11.0f} MB")
    print(f"{'sprites cache load':<44}{load_s:>12.2f} s")
    for name, rate in loading.items():
        print(f"{'loading only, ' + name:<44}{rate:>10.0f} img/s")
    best_loading = max(v for k, v in loading.items() if k.startswith("DataLoader"))
    print(f"{'  ratio dvae / best DataLoader (loading)':<44}{loading['dvae in-memory loader'] / best_loading:>12.1f} x")
    best_baseline = max(v for k, v in medians.items() if k.startswith("DataLoader"))
    for name, rate in medians.items():
        print(f"{'training, ' + name:<44}{rate:>10.0f} img/s")
    print(f"{'  ratio dvae / best DataLoader (training)':<44}{ours / best_baseline:>12.2f} x")


if __name__ == "__main__":
    main()
