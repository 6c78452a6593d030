"""Device versus CPU correctness check (run by hand, or by benchmarks/gpu.sh): a few training steps per loss.

    .venv/bin/python benchmarks/gpu_check.py [--device cuda] [--steps 3] [--batch-size 64]
        [--losses VAE,betaH,betaB,factor,btcvae] [--rtol 1e-3] [--atol 1e-3] [--data-dir /tmp/dvbench/data]

For each loss, the model, the loss and Adam are built twice from the same seed (same
initial weights, FactorVAE's discriminator included) and trained ``--steps`` steps with
dvae's Trainer (`train_step` over `epoch_batches`) on the CPU and on ``--device``, on
the same batches (a seeded subset of `sprites`; the epoch permutation is drawn on the
CPU for every device). Compared, CPU against device:

- train: the mean of every loss term over the steps (`TrainState.running_means`),
- after: every term of the loss in evaluation mode on a fixed batch of 256 images,
  computed with the trained weights,
- weights: the largest absolute difference of a weight (shown, not judged: Adam moves
  a weight whose gradient is near zero by up to its learning rate either way).

A value passes when ``|device - cpu| <= atol + rtol * |cpu|``. The random draws of the
training step (reparameterisation noise, FactorVAE's permutations) are made on the CPU
from one seeded generator and moved to the device (`HostRandom`), so both devices see
the same noise; TF32 is turned off. What is left is float rounding and the order of
reductions. ``--device cpu`` is a dry run, CPU against CPU (zero differences expected),
that exercises this code without a GPU. Exit status: 0 all passed, 1 a value out of
tolerance, 2 no such device.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.overrides import TorchFunctionMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import LOSS_NAMES, choose, device_or_exit, seeded_subset  # noqa: E402

if TYPE_CHECKING:
    from dvae_cli.data.in_memory import ImageData

PROBE_IMAGES = 256


class HostRandom(TorchFunctionMode):
    """Draw ``torch.rand``, ``randn`` and their ``*_like`` on the CPU from one generator, then move them.

    Inside the mode, the same seed gives the same noise on every device. Calls that
    bring their own generator (the epoch permutation) are left alone.
    """

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.generator = torch.Generator().manual_seed(seed)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = dict(kwargs or {})
        if func in (torch.randn_like, torch.rand_like):
            like = args[0]
            draw = torch.randn if func is torch.randn_like else torch.rand
            dtype = kwargs.get("dtype") or like.dtype
            return draw(like.shape, generator=self.generator, dtype=dtype).to(kwargs.get("device") or like.device)
        if func in (torch.rand, torch.randn) and kwargs.get("generator") is None:
            device = kwargs.pop("device", None) or "cpu"
            return func(*args, generator=self.generator, **kwargs).to(device)
        return func(*args, **kwargs)


@dataclass
class Outcome:
    """What a few training steps on one device gave."""

    train: dict[str, float]
    after: dict[str, float]
    weights: dict[str, torch.Tensor]


def train_on(device: torch.device, loss_name: str, data: ImageData, args: argparse.Namespace) -> Outcome:
    """Train `args.steps` steps of `loss_name` on `device` from the seeded initial weights."""
    from benchmarks.train import build
    from dvae_cli.engine.trainer import Trainer

    model, loss, optimizer = build(loss_name, len(data), data.img_size, args.seed)
    trainer = Trainer(model=model, loss=loss, optimizer=optimizer, data=data, batch_size=args.batch_size, epochs=1,
                      seed=args.seed, device=device)
    with HostRandom(args.seed):
        for x in itertools.islice(trainer.epoch_batches(0), args.steps):
            trainer.train_step(x)
        train = trainer.state.running_means()
        model.eval()
        probe = data.batch(torch.arange(PROBE_IMAGES)).to(device).contiguous(memory_format=torch.channels_last)
        with torch.no_grad():
            after = {key: float(value) for key, value in loss(model, probe, None).terms.items()}
    weights = {f"model.{k}": v.detach().cpu() for k, v in model.state_dict().items()}
    weights.update({f"loss.{k}": v.detach().cpu() for k, v in loss.state_dict().items()})
    return Outcome(train, after, weights)


def worst(reference: dict[str, float], other: dict[str, float], rtol: float, atol: float
          ) -> tuple[str, float, float]:
    """The term closest to its tolerance: (name, relative difference, share of the tolerance used).

    A share above 1 fails; terms missing on one side fail with an infinite share.
    """
    if set(reference) != set(other):
        return f"terms differ: {sorted(set(reference) ^ set(other))}", float("inf"), float("inf")
    shares = {key: abs(other[key] - value) / (atol + rtol * abs(value)) for key, value in reference.items()}
    name = max(shares, key=lambda key: shares[key])
    relative = abs(other[name] - reference[name]) / max(abs(reference[name]), 1e-12)
    return name, relative, shares[name]


def described(name: str, relative: float, share: float) -> str:
    return f"{name} {relative:.1e} ({share:.0%} of tol)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the device to check against the CPU (cpu: a dry run)")
    parser.add_argument("--losses", default=",".join(LOSS_NAMES))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--images", type=int, default=4096, help="seeded subset of sprites to train on")
    parser.add_argument("--rtol", type=float, default=1e-3)
    parser.add_argument("--atol", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/dvbench/data"))
    args = parser.parse_args()
    losses = choose(args.losses, LOSS_NAMES, "loss")
    device = device_or_exit(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    from dvae_cli.data.loading import load_dataset

    data = load_dataset("sprites", args.data_dir)
    data = seeded_subset(data, args.images, args.seed)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"{device} ({name}) against cpu: {args.steps} steps of {args.batch_size} images, "
          f"tolerance |d - c| <= {args.atol:g} + {args.rtol:g} |c|")
    header = (f"{'loss':<8}{'terms':>6}  {'train: worst term, rel diff':<36}{'after: worst term, rel diff':<36}"
              f"{'weights max abs diff':>21}  result")
    print(header)
    print("-" * len(header))
    failed = []
    for loss_name in losses:
        cpu = train_on(torch.device("cpu"), loss_name, data, args)
        other = train_on(device, loss_name, data, args)
        train = worst(cpu.train, other.train, args.rtol, args.atol)
        after = worst(cpu.after, other.after, args.rtol, args.atol)
        weight_diff = max(float((cpu.weights[k].float() - other.weights[k].float()).abs().max())
                          for k in cpu.weights)
        ok = train[2] <= 1 and after[2] <= 1
        if not ok:
            failed.append(loss_name)
        print(f"{loss_name:<8}{len(cpu.train):>6}  {described(*train):<36}{described(*after):<36}"
              f"{weight_diff:>21.2e}  {'ok' if ok else 'FAILED'}", flush=True)
    print("-" * len(header))
    if failed:
        print(f"FAILED: {', '.join(failed)} out of tolerance", file=sys.stderr)
        sys.exit(1)
    print(f"all {len(losses)} losses agree within tolerance")


if __name__ == "__main__":
    main()
