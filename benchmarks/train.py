"""Training throughput benchmark (run by hand): dvae's engine versus the usual DataLoader loop.

    .venv/bin/python benchmarks/train.py [--losses VAE,betaH,betaB,factor,btcvae] [--batch-sizes 64,256]
        [--steps 30] [--warmup 5] [--rounds 3] [--variants fp32,channels_last_off,compile,bf16]
        [--threads N] [--device cpu] [--data-dir /tmp/dvbench/data]

Prints one table: training images/s on the 64x64 `sprites` training split (90 %, 663,552
images) for each loss and batch size, dvae's engine against a baseline measured in the
same run, their ratio (goal of issue #9: >= 2x on 2 CPU cores), and the peak RSS of each.
The batch is the number of images a step takes (``factor`` spends half of them on the
VAE and half on its discriminator; a resolved spec doubles its ``--batch-size``).

- engine: the real path, `Trainer.train_step` over `Trainer.epoch_batches` (what
  `Trainer.fit` runs, without callbacks): uint8 data in memory, one gather and one
  float conversion per batch, channels_last, loss terms kept on the device, fused
  Adam (`dvae_cli.engine.optim.adam`), and a process whose malloc keeps freed memory
  (`dvae_cli.engine.device.keep_freed_memory`, which a CPU Trainer sets).
- baseline: the usual pattern of training scripts: a `torch.utils.data.DataLoader`
  over a per-item `Dataset` whose `__getitem__` unpacks one image to float32, the
  default collate, ``shuffle=True``, ``num_workers=0`` (the target machine has 2
  cores, both busy with the model's intra-op threads: a worker process would take
  one from them; ``benchmarks/data.py`` measures 2 workers), the same model (default
  memory format), the same loss, ``torch.optim.Adam`` with its defaults, and an eager
  loop: zero_grad, backward, (FactorVAE's discriminator step), step, and ``.item()``
  of every loss term per step to log them.
  It runs in a process of its own with the C library's default allocator: the
  allocator setting is process-wide, so the two could not share a process.

Engine variants (``--variants``; extra rows against the same baseline measurements):

- fp32: the Trainer as ``dvae train`` builds it.
- channels_last_off: the same Trainer, then its model converted back to
  ``torch.contiguous_format`` and each batch made contiguous after `epoch_batches`
  (the Trainer has no switch for it, and a channels_last input alone would make the
  convolutions pick channels_last again).
- compile: ``Trainer(compile_model=True)`` (torch.compile; compilation happens in the warm-up).
- bf16: ``Trainer(precision="bf16")`` (bfloat16 autocast of the forward pass).
- baseline_kept_memory: the baseline's loop (plain Adam included) in the engine's
  process, i.e. with the engine's allocator setting: how much of the ratio is the
  allocator and how much the rest.

Method: for each (loss, batch), the baseline and every variant are built from the same
seed (same initial weights), each runs ``--warmup`` steps, then in each of ``--rounds``
rounds every one of them measures ``--steps`` steps in turn (the order rotates; one
runs while the other process waits), so that the machine's drifts hit all of them; the
table shows the median images/s. Peak RSS: the high-water mark of the contender's
process over its measured steps (reset before each; see `benchmarks/rss.py`), i.e.
the dataset and libraries plus what the loop adds.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import multiprocessing
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import LOSS_NAMES, choose, device_or_exit  # noqa: E402
from benchmarks.rss import PeakRss, current_rss_mb  # noqa: E402

if TYPE_CHECKING:
    from dvae_cli.data.in_memory import ImageData
    from dvae_cli.engine.losses import Loss
    from dvae_cli.engine.models import VAE

VARIANTS = ("fp32", "channels_last_off", "compile", "bf16", "baseline_kept_memory")
BASELINE = "baseline"
BASELINE_KEPT_MEMORY = "baseline_kept_memory"


class PerItemImages(torch.utils.data.Dataset):
    """The usual pattern: one image per `__getitem__`, unpacked and converted to float32 there."""

    def __init__(self, pixels: np.ndarray, img_size: tuple[int, int, int], packed: bool) -> None:
        self.pixels, self.img_size, self.packed = pixels, img_size, packed
        self.count = int(np.prod(img_size))

    def __len__(self) -> int:
        return len(self.pixels)

    def __getitem__(self, k: int) -> torch.Tensor:
        if self.packed:
            image = np.unpackbits(self.pixels[k])[:self.count].reshape(self.img_size).astype(np.float32)
        else:
            image = self.pixels[k].reshape(self.img_size).astype(np.float32) / 255.0
        return torch.from_numpy(image)


@dataclass
class Contender:
    """One training loop under test: `run(n)` trains n steps of `batch_size` images.

    The parent's record of one has a `run` that does nothing: the loop lives in a worker.
    """

    label: str
    run: Callable[[int], None]
    rates: list[float] = field(default_factory=list)
    peaks: list[float] = field(default_factory=list)
    #: Why it could not train (building or its warm-up raised), reported instead of numbers.
    error: str | None = None

    @property
    def rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def peak(self) -> float:
        return max(self.peaks)


def build(loss_name: str, n_train: int, img_size: tuple[int, int, int], seed: int, plain_adam: bool = False
          ) -> tuple[VAE, Loss, torch.optim.Optimizer]:
    """A fresh model, loss and Adam as ``dvae train`` builds them (same weights for the same seed).

    With `plain_adam`, the VAE's optimiser is ``torch.optim.Adam`` with its defaults
    (the usual script's) instead of dvae's fused one; a loss's own optimiser (FactorVAE's
    discriminator) is part of the loss and the same for both.
    """
    from dvae_cli.config import resolve_run
    from dvae_cli.engine.losses import loss_for_spec
    from dvae_cli.engine.models import build_model
    from dvae_cli.engine.optim import adam

    spec = resolve_run("bench", None, {"loss": loss_name, "dataset": "sprites"}).spec
    torch.manual_seed(seed)
    model = build_model(list(img_size), spec.latent_dim, spec.model_type)
    loss = loss_for_spec(spec, n_train)
    optimizer = torch.optim.Adam(model.parameters(), lr=spec.lr) if plain_adam else adam(model.parameters(), spec.lr)
    return model, loss, optimizer


def engine(train: ImageData, loss_name: str, batch_size: int, variant: str, device: torch.device,
           seed: int) -> Contender:
    """dvae's Trainer: `train_step` over `epoch_batches`, epoch after epoch."""
    from dvae_cli.engine.trainer import Trainer

    model, loss, optimizer = build(loss_name, len(train), train.img_size, seed)
    trainer = Trainer(model=model, loss=loss, optimizer=optimizer, data=train, batch_size=batch_size, epochs=1,
                      seed=seed, device=device, compile_model=variant == "compile",
                      precision="bf16" if variant == "bf16" else "fp32")

    def batches() -> Iterator[torch.Tensor]:
        for epoch in itertools.count():
            for x in trainer.epoch_batches(epoch):
                yield x.contiguous() if variant == "channels_last_off" else x

    if variant == "channels_last_off":
        trainer.model.to(memory_format=torch.contiguous_format)   # parameters are converted in place
    stream = batches()

    def run(steps: int) -> None:
        for _ in range(steps):
            trainer.train_step(next(stream))

    return Contender(variant, run)


def baseline(train: ImageData, loss_name: str, batch_size: int, device: torch.device, seed: int) -> Contender:
    """A DataLoader over a per-item Dataset and an eager loop that logs every term with `.item()`."""
    model, loss, optimizer = build(loss_name, len(train), train.img_size, seed, plain_adam=True)
    model.to(device)
    loss.to(device)
    dataset = PerItemImages(train.pixels.numpy(), train.img_size, train.packed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=0, drop_last=True,
                                         pin_memory=device.type == "cuda",
                                         generator=torch.Generator().manual_seed(seed))
    stream = itertools.chain.from_iterable(loader for _ in itertools.count())
    model.train()
    step = 0
    logged: dict[str, float] = {}

    def run(steps: int) -> None:
        nonlocal step
        for _ in range(steps):
            x = next(stream).to(device, non_blocking=True)
            step += 1
            result = loss(model, x, step)
            optimizer.zero_grad()
            result.loss.backward()
            terms = dict(result.terms)
            if loss.trains_auxiliary:
                terms.update(loss.update_auxiliary(result))
            optimizer.step()
            logged.update({key: value.item() for key, value in terms.items()})

    return Contender(BASELINE, run)


def measure(contender: Contender, steps: int, batch_size: int, device: torch.device, rss: PeakRss) -> None:
    """Time `steps` steps of `contender`; append its images/s and peak RSS (MB)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    rss.reset()
    start = time.perf_counter()
    contender.run(steps)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    contender.peaks.append(rss.peak_mb())
    contender.rates.append(steps * batch_size / seconds)


def serve(conn: Connection, args: argparse.Namespace) -> None:
    """A worker process: load the data, then build and measure contenders on request.

    Requests: ``("build", loss, batch, label)`` -> None or the error text;
    ``("measure", label, steps)`` -> (images/s, peak RSS MB); ``("clear",)``;
    ``("stop",)``. The first reply is (training images, torch threads, RSS after loading).
    """
    from dvae_cli.data.in_memory import train_test_split
    from dvae_cli.data.loading import load_dataset
    from dvae_cli.engine.device import configure_threads, keep_freed_memory

    device = torch.device(args.device)
    threads = configure_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
        threads = args.threads
    train, _ = train_test_split(load_dataset("sprites", args.data_dir), 0.1)
    rss = PeakRss()
    conn.send((len(train), threads, current_rss_mb()))
    contenders: dict[str, Contender] = {}
    batch_size = 0
    while True:
        request = conn.recv()
        if request[0] == "build":
            _, loss_name, batch_size, label = request
            try:
                if label == BASELINE:
                    contender = baseline(train, loss_name, batch_size, device, args.seed)
                elif label == BASELINE_KEPT_MEMORY:
                    keep_freed_memory()   # what a Trainer does to its process on the CPU
                    contender = baseline(train, loss_name, batch_size, device, args.seed)
                    contender.label = label
                else:
                    contender = engine(train, loss_name, batch_size, label, device, args.seed)
                contender.run(args.warmup)
            except Exception as exc:  # an engine failure is a result: report it and measure the others
                conn.send(f"{type(exc).__name__}: {exc}")
                continue
            contenders[label] = contender
            conn.send(None)
        elif request[0] == "measure":
            _, label, steps = request
            contender = contenders[label]
            measure(contender, steps, batch_size, device, rss)
            conn.send((contender.rates[-1], contender.peaks[-1]))
        elif request[0] == "clear":
            contenders.clear()
            gc.collect()
        else:
            return


class Worker:
    """The parent's end of a `serve` process."""

    def __init__(self, args: argparse.Namespace) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve, args=(child, args), daemon=True)
        self.process.start()
        self.n_train, self.threads, self.data_rss = self.conn.recv()

    def ask(self, *request: object) -> Any:
        self.conn.send(request)
        return self.conn.recv()

    def tell(self, *request: object) -> None:
        self.conn.send(request)

    def stop(self) -> None:
        self.conn.send(("stop",))
        self.process.join()


def compare(workers: dict[str, Worker], loss_name: str, batch_size: int, variants: list[str],
            args: argparse.Namespace) -> list[Contender]:
    """The baseline (in its own process) and every engine variant of one (loss, batch), measured in alternation.

    Only one contender runs at a time; the others' processes wait.
    """
    labels = [BASELINE, *variants]
    contenders = []
    for label in labels:
        worker = workers[BASELINE if label == BASELINE else "engine"]
        error = worker.ask("build", loss_name, batch_size, label)
        contenders.append(Contender(label, lambda steps: None, error=error))
    working = [contender for contender in contenders if contender.error is None]
    for round_ in range(args.rounds):
        shift = round_ % len(working)
        for contender in working[shift:] + working[:shift]:
            worker = workers[BASELINE if contender.label == BASELINE else "engine"]
            rate, peak = worker.ask("measure", contender.label, args.steps)
            contender.rates.append(rate)
            contender.peaks.append(peak)
    for worker in workers.values():
        worker.tell("clear")
    return contenders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--losses", default=",".join(LOSS_NAMES), help="comma-separated")
    parser.add_argument("--batch-sizes", default="64,256", help="comma-separated images per step")
    parser.add_argument("--steps", type=int, default=30, help="measured steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="steps before the first measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating measurements per contender (median)")
    parser.add_argument("--variants", default="fp32", help=f"comma-separated, of: {','.join(VARIANTS)}")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: what the engine sets)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/dvbench/data"))
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()
    losses = choose(args.losses, LOSS_NAMES, "loss")
    variants = choose(args.variants, VARIANTS, "variant")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    device = device_or_exit(args.device)
    # one process for the baseline, one for the engine: a Trainer changes how its process allocates memory
    workers = {BASELINE: Worker(args), "engine": Worker(args)}
    engine_worker = workers["engine"]

    header = (f"{'loss':<7}{'batch':>6}  {'variant':<18}{'engine img/s':>13}{'baseline img/s':>15}{'ratio':>8}"
              f"{'engine RSS':>12}{'baseline RSS':>14}")
    print(header)
    print("-" * len(header))
    fp32_ratios = []
    for batch_size in batch_sizes:
        for loss_name in losses:
            base, *ours = compare(workers, loss_name, batch_size, variants, args)
            for contender in ours:
                if contender.error is not None:
                    print(f"{loss_name:<7}{batch_size:>6}  {contender.label:<18}failed: "
                          f"{contender.error.splitlines()[0][:100]}", flush=True)
                    continue
                ratio = contender.rate / base.rate
                if contender.label == "fp32":
                    fp32_ratios.append(ratio)
                print(f"{loss_name:<7}{batch_size:>6}  {contender.label:<18}{contender.rate:>13,.0f}"
                      f"{base.rate:>15,.0f}{ratio:>7.2f}x{contender.peak:>9,.0f} MB{base.peak:>11,.0f} MB",
                      flush=True)
    for worker in workers.values():
        worker.stop()
    print("-" * len(header))
    print(f"{device.type}, {engine_worker.threads} torch threads, torch {torch.__version__}; "
          f"{engine_worker.n_train:,} training images; "
          f"median of {args.rounds} alternating rounds of {args.steps} steps after {args.warmup} warm-up steps")
    print(f"RSS: peak of the contender's process during its measured steps (after loading the data each "
          f"process held {engine_worker.data_rss:,.0f} MB)")
    if fp32_ratios:
        geomean = float(np.exp(np.mean(np.log(fp32_ratios))))
        print(f"engine fp32 / baseline: min {min(fp32_ratios):.2f}x, geometric mean {geomean:.2f}x "
              f"(goal of issue #9: >= 2x on 2 CPU cores)")


if __name__ == "__main__":
    main()
