"""dvae against disentangling-vae itself (run by hand): training images/s of both, side by side.

    .venv/bin/python benchmarks/vs_reference.py --reference /path/to/disentangling-vae \\
        --reference-deps /path/to/deps [--losses VAE,betaH,betaB,factor,btcvae] [--batch-sizes 64,256]
        [--images 16384] [--repeats 3] [--work /tmp/dvbench] [--dvae-args "--precision bf16"]

What it measures: both programs as a user runs them, as whole processes, on the same
official-format dSprites file (`--images` images of the sprites grid written as
``dsprites_ndarray_..._64x64.npz``: ``imgs`` in {0, 1}, ``latents_classes``,
``latents_values``), with the same loss, batch size, learning rate and seed, no test
pass, and every image in training (dvae: ``--test-fraction 0 --no-test``). The epoch
time of each program is (T(3 epochs) - T(1 epoch)) / 2, so start-up, data loading and
the final save cancel out; the per-epoch work (disentangling-vae's and dvae's
checkpoints rules, dvae's training.gif) stays in. The runs alternate between the two
programs, `--repeats` times; the table shows the median images/s of each, their ratio,
and dvae's achieved fraction of the machine's peak fp32 FLOP/s: FLOPs per image of a
training step (the VAE's forward and backward, FactorVAE's discriminator too, counted
by torch's FlopCounterMode) x images/s, over the FLOP/s of a 4096 x 4096 fp32 matmul
measured before and after each row (their mean: the machine's speed drifts); each row
also lists every repeat's pair. Images/s count every image a step consumes (FactorVAE's
two half-batches).

disentangling-vae needs, beside torch, torchvision, numpy, scipy, imageio, matplotlib:
tqdm, scikit-image (with lazy_loader, tifffile), pandas and seaborn, installed into a
separate folder (`--reference-deps`, e.g. ``pip install --target DIR --no-deps ...``),
which also holds a ``sitecustomize.py`` with ``import numpy; numpy.product = numpy.prod``
(NumPy >= 2 removed it). The reference is copied into `--work` (it writes results/ and
reads data/ beside its main.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OFFICIAL = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"


def write_dsprites(path: Path, images: int, seed: int = 0) -> None:
    """`images` images of the sprites grid in dSprites' official .npz format."""
    import torch

    from dvae_cli.data import sprites

    data = sprites.load("sprites", ROOT / "data")
    factors = sprites.sprites_factors()
    index = np.sort(np.random.default_rng(seed).choice(len(data), images, replace=False))
    pixels = data.batch(torch.from_numpy(index)).numpy()[:, 0]
    classes = factors.classes[index].astype(np.int64)
    values = np.stack([factors.values[k][classes[:, k]] for k in range(classes.shape[1])], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, imgs=(pixels > 0.5).astype(np.uint8), latents_classes=classes, latents_values=values)


def prepare_work(source: Path, work: Path, images: int) -> int:
    """Copy the reference into `work` and write the data file both read (once); the images it holds.

    A `work` folder from an earlier run keeps its file, whatever `images` says now.
    """
    from dvae_cli.data.loading import load_dataset

    reference = work / "reference"
    if not reference.is_dir():
        shutil.copytree(source, reference)
    for target in (reference / "data" / "dsprites" / "dsprite_train.npz", work / "dvae-data" / "dsprites" / OFFICIAL):
        if not target.is_file():
            write_dsprites(target, images)
    return len(load_dataset("dsprites", work / "dvae-data"))   # dvae packs the file once: outside the timings


def reference_command(loss: str, batch: int, epochs: int, name: str) -> list[str]:
    return [sys.executable, "main.py", name, "-d", "dsprites", "-l", loss, "-b", str(batch), "-e", str(epochs),
            "--lr", "5e-4", "-s", "1234", "--no-test", "--checkpoint-every", "100000", "--no-progress-bar"]


def dvae_command(loss: str, batch: int, epochs: int, name: str, work: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "dvae_cli", "train", name, "-d", "dsprites", "-l", loss, "-b", str(batch),
            "-e", str(epochs), "--lr", "5e-4", "-s", "1234", "--test-fraction", "0", "--no-test",
            "--checkpoint-every", "100000", "--no-progress-bar", "--log-every", "0", "--overwrite",
            "--results-dir", str(work / "dvae-results"), "--data-dir", str(work / "dvae-data"), *extra]


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stderr[-2000:]}")
    return seconds


def flops_per_image(loss_name: str, batch: int) -> float:
    """FLOPs of one training step per image consumed (forward and backward, discriminator included)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from dvae_cli.engine.models import build_model
    from dvae_cli.losses import get_loss

    model = build_model((1, 64, 64), 10).train()
    loss = get_loss(loss_name, n_data=16384, latent_dim=10)
    per_step = 2 * batch if loss_name == "factor" else batch   # the factor loss takes two half-batches of `batch`
    x = (torch.rand(per_step, 1, 64, 64) > 0.5).float()
    with FlopCounterMode(display=False) as counter:
        result = loss(model, x, 1)
        result.loss.backward()
        if loss.trains_auxiliary:
            loss.update_auxiliary(result)
    return counter.get_total_flops() / per_step


def peak_flops(seconds: float = 3.0, n: int = 4096) -> float:
    """fp32 FLOP/s of a large matmul on this machine, with torch's threads."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * n ** 3 * count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, required=True, help="disentangling-vae's sources")
    parser.add_argument("--reference-deps", type=Path, required=True, help="folder with its extra packages")
    parser.add_argument("--losses", default="VAE,betaH,betaB,factor,btcvae")
    parser.add_argument("--batch-sizes", default="64,256")
    parser.add_argument("--images", type=int, default=16_384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", default="1,3", help="the two epoch counts whose difference is timed")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dvbench"))
    parser.add_argument("--dvae-args", default="", help="extra dvae train arguments (e.g. '--precision bf16')")
    args = parser.parse_args()
    short, long = (int(e) for e in args.epochs.split(","))
    work = args.work
    reference = work / "reference"
    args.images = prepare_work(args.reference, work, args.images)
    ref_env = {**os.environ, "PYTHONPATH": str(args.reference_deps)}
    dvae_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    extra = args.dvae_args.split()
    print(f"machine: {os.cpu_count()} CPUs; {args.images:,} images; epoch time = (T({long}) - T({short})) / "
          f"{long - short}; dvae args: {args.dvae_args or '-'}; peak = fp32 matmul GFLOP/s, mean of before and after "
          "the row (the machine's speed drifts)")
    print(f"{'loss':<8}{'batch':>6}{'reference img/s':>17}{'dvae img/s':>12}{'ratio':>8}{'dvae % of peak':>16}"
          f"{'peak':>7}  every repeat, reference / dvae")
    for loss in args.losses.split(","):
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            per_epoch = args.images * (2 if loss == "factor" else 1)   # factor: epochs doubled, 2 half-batches
            rates: dict[str, list[float]] = {"reference": [], "dvae": []}
            peak_before = peak_flops()
            for repeat in range(args.repeats):
                order = ["reference", "dvae"] if repeat % 2 == 0 else ["dvae", "reference"]
                for program in order:
                    times = []
                    for epochs in (short, long):
                        name = f"bench_{loss}_{batch}_{epochs}"
                        if program == "reference":
                            times.append(timed(reference_command(loss, batch, epochs, name), reference, ref_env))
                            shutil.rmtree(reference / "results" / name, ignore_errors=True)
                        else:
                            times.append(timed(dvae_command(loss, batch, epochs, name, work, extra), ROOT, dvae_env))
                    rates[program].append(per_epoch * (long - short) / (times[1] - times[0]))
            ref_rate, dvae_rate = statistics.median(rates["reference"]), statistics.median(rates["dvae"])
            peak = (peak_before + peak_flops()) / 2
            fraction = dvae_rate * flops_per_image(loss, batch) / peak
            spread = "  ".join(f"{r:,.0f}/{d:,.0f}" for r, d in zip(rates["reference"], rates["dvae"]))
            print(f"{loss:<8}{batch:>6}{ref_rate:>17,.0f}{dvae_rate:>12,.0f}{dvae_rate / ref_rate:>7.2f}x"
                  f"{100 * fraction:>15.1f}%{peak / 1e9:>7.0f}  {spread}", flush=True)


if __name__ == "__main__":
    main()
