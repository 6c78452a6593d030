"""dvae against disentangling-vae itself on evaluation (run by hand): test pass, encoding, H(z).

    .venv/bin/python benchmarks/vs_reference_eval.py --reference /path/to/disentangling-vae \\
        --reference-deps /path/to/deps [--losses VAE,betaH,betaB,factor,btcvae] [--images 16384]
        [--repeats 3] [--work /tmp/dvbench] [--model ../shared/fixtures/disvae-results/btcvae_dsprites]

Both programs run their own evaluation code on the CPU, each measurement in a fresh process
(the two programs alternate, `--repeats` times; the table shows medians), on the same
official-format dSprites file as `vs_reference.py` (`--images` images of the sprites grid)
and the same trained weights: disentangling-vae's pretrained ``btcvae_dsprites`` model
(``--model``), which both load from its ``model.pt``. Nothing is warmed up: a user's pass
is a first call.

- test pass, per loss: disentangling-vae's ``Evaluator.compute_losses`` on its DataLoader
  (``eval_batchsize`` 1000, as ``main.py`` builds it) against dvae's
  `dvae_cli.engine.evaluate.evaluate_losses` (what ``dvae eval`` and the end of ``dvae
  train`` run) in batches of 1000. As shipped, ``compute_losses`` returns after its first
  batch (its ``return`` sits inside the loop) and runs without ``torch.no_grad``; it is
  called once per 1000 images of the file, so both evaluate the same number of images.
- encoding (what ``--metrics`` spends most of its time on over the full 737,280-image grid):
  ``Evaluator._compute_q_zCx`` against `dvae_cli.engine.disentanglement.encode`, every image
  of the file in batches of 1000.
- H(z): the marginal entropy of every latent, the estimator of Chen et al. 2018 that MIG is
  made of (MIG over a grid is H(z) plus one H(z | v_k) per factor, each a pass of the same
  size): ``Evaluator._estimate_latent_entropies`` (10,000 samples) against
  `dvae_cli.metrics.entropy.mixture_entropy` on 10,000 samples per latent, both over the
  posteriors of all images of the file. The reference's full MIG on dSprites (about five
  hours) is not run.

Images/s are images evaluated (encoded, or mixture components for H(z)) per second of the
timed call. The reference's extra packages are as in `vs_reference.py`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

BATCH = 1000
FIXTURE = ROOT.parent / "shared" / "fixtures" / "disvae-results" / "btcvae_dsprites"


def reference_job(job: str, loss: str, model_dir: Path, n_samples: int) -> dict[str, float]:
    """One timed job of disentangling-vae's evaluation, run with the reference's folder as cwd."""
    import logging
    import tempfile

    import torch

    sys.path.insert(0, os.getcwd())
    import main as reference_main  # the reference's main.py: its argument defaults (hyperparam.ini)
    from disvae.evaluate import Evaluator
    from disvae.models.losses import get_loss_f
    from disvae.utils.modelIO import load_model
    from utils.datasets import get_dataloaders

    logger = logging.getLogger("bench")
    logger.setLevel(logging.WARNING)
    loader = get_dataloaders("dsprites", batch_size=BATCH, shuffle=False, logger=logger)
    n = len(loader.dataset)
    model = load_model(str(model_dir), is_gpu=False)
    args = reference_main.parse_arguments(["bench", "-l", loss, "-d", "dsprites", "--no-cuda"])
    loss_f = get_loss_f(loss, n_data=n, device=torch.device("cpu"), **vars(args))
    evaluator = Evaluator(model, loss_f, device=torch.device("cpu"), logger=logger,
                          save_dir=tempfile.mkdtemp(), is_progress_bar=False)
    model.eval()
    if job == "test":
        calls = math.ceil(n / BATCH)
        started = time.perf_counter()
        for _ in range(calls):
            evaluator.compute_losses(loader)
        return {"images": calls * min(BATCH, n), "seconds": time.perf_counter() - started}
    if job == "encode":
        started = time.perf_counter()
        evaluator._compute_q_zCx(loader)
        return {"images": n, "seconds": time.perf_counter() - started}
    samples, params = evaluator._compute_q_zCx(loader)
    torch.manual_seed(0)
    started = time.perf_counter()
    entropies = evaluator._estimate_latent_entropies(samples, params, n_samples=min(n_samples, n))
    return {"images": n, "seconds": time.perf_counter() - started, "H_z": [float(h) for h in entropies]}


def dvae_job(job: str, loss: str, model_dir: Path, n_samples: int, data_dir: Path) -> dict[str, float]:
    """The same job by dvae's library functions (those `dvae eval` runs)."""
    import torch

    from dvae_cli.data.loading import load_dataset
    from dvae_cli.engine.device import configure_threads
    from dvae_cli.engine.disentanglement import encode
    from dvae_cli.engine.evaluate import evaluate_losses
    from dvae_cli.losses import get_loss
    from dvae_cli.metrics.entropy import mixture_entropy
    from dvae_cli.run_handle import load_run

    configure_threads()
    data = load_dataset("dsprites", data_dir)
    model = load_run(model_dir).model
    n = len(data)
    if job == "test":
        started = time.perf_counter()
        evaluate_losses(model, get_loss(loss, n_data=n), data, BATCH)
        return {"images": n, "seconds": time.perf_counter() - started}
    if job == "encode":
        started = time.perf_counter()
        encode(model, data, BATCH)
        return {"images": n, "seconds": time.perf_counter() - started}
    mean, logvar = encode(model, data, BATCH)
    generator = torch.Generator().manual_seed(0)
    samples = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator)
    picked = torch.randperm(n, generator=generator)[:n_samples]   # at most n, as the reference's
    started = time.perf_counter()
    entropies = [mixture_entropy(mean[:, j], logvar[:, j], samples[picked, j]) for j in range(mean.shape[1])]
    return {"images": n, "seconds": time.perf_counter() - started, "H_z": entropies}


def run_worker(program: str, job: str, loss: str, args: argparse.Namespace, work: Path) -> dict[str, float]:
    """`job` of `program` in a fresh process; its result."""
    command = [sys.executable, __file__, "--worker", program, "--job", job, "--loss", loss, "--work", str(work),
               "--model", str(args.model), "--n-samples", str(args.n_samples)]
    if program == "reference":
        env, cwd = {**os.environ, "PYTHONPATH": str(args.reference_deps)}, work / "reference"
    else:
        env, cwd = {**os.environ, "PYTHONPATH": str(ROOT)}, ROOT
    done = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{program} {job} {loss} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference", type=Path, help="disentangling-vae's sources")
    parser.add_argument("--reference-deps", type=Path, help="folder with its extra packages")
    parser.add_argument("--losses", default="VAE,betaH,betaB,factor,btcvae")
    parser.add_argument("--jobs", default="test,encode,entropy")
    parser.add_argument("--images", type=int, default=16_384)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-samples", type=int, default=10_000, help="Monte-Carlo samples of H(z)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/dvbench"))
    parser.add_argument("--model", type=Path, default=FIXTURE, help="a disentangling-vae dSprites run folder")
    parser.add_argument("--worker", choices=["reference", "dvae"], help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--loss", help=argparse.SUPPRESS)
    args = parser.parse_args()
    work = args.work.resolve()
    if args.worker:
        if args.worker == "reference":
            result = reference_job(args.job, args.loss, args.model.resolve(), args.n_samples)
        else:
            result = dvae_job(args.job, args.loss, args.model.resolve(), args.n_samples, work / "dvae-data")
        print(json.dumps(result))
        return
    if args.reference is None or args.reference_deps is None:
        parser.error("--reference and --reference-deps are required")
    from vs_reference import prepare_work

    n = prepare_work(args.reference, work, args.images)
    args.model = args.model.resolve()
    print(f"machine: {os.cpu_count()} CPUs; {n:,} images; model {args.model.name}; batch {BATCH}; "
          f"H(z) with {args.n_samples:,} samples; median of {args.repeats}")
    print(f"{'job':<16}{'reference img/s':>17}{'dvae img/s':>12}{'ratio':>9}")
    rows = [("test", loss) for loss in args.losses.split(",")] if "test" in args.jobs else []
    rows += [(job, "btcvae") for job in ("encode", "entropy") if job in args.jobs.split(",")]
    for job, loss in rows:
        rates: dict[str, list[float]] = {"reference": [], "dvae": []}
        entropies: dict[str, list[float]] = {}
        for repeat in range(args.repeats):
            for program in (["reference", "dvae"] if repeat % 2 == 0 else ["dvae", "reference"]):
                result = run_worker(program, job, loss, args, work)
                rates[program].append(result["images"] / result["seconds"])
                entropies[program] = result.get("H_z", [])
        ref_rate, dvae_rate = statistics.median(rates["reference"]), statistics.median(rates["dvae"])
        label = f"test {loss}" if job == "test" else job
        print(f"{label:<16}{ref_rate:>17,.0f}{dvae_rate:>12,.0f}{dvae_rate / ref_rate:>8.1f}x", flush=True)
        for program, values in entropies.items():
            if values:
                print(f"  H(z) {program:<9} " + " ".join(f"{h:.3f}" for h in values) + " nats")


if __name__ == "__main__":
    main()
