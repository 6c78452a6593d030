"""The rank side of tests/test_distributed.py (a module, so that torch.multiprocessing can spawn it)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from dvae_cli.config import resolve_run
from dvae_cli.data.in_memory import ImageData
from dvae_cli.engine.distributed import Distributed
from dvae_cli.engine.losses import loss_for_spec
from dvae_cli.engine.models import VAE, ModelConfig
from dvae_cli.engine.trainer import Trainer

PER_RANK = 8
LATENT = 4


class FixedNoiseVAE(VAE):
    """The real VAE, with the reparameterisation noise given by the test (the same in both set-ups)."""

    eps: torch.Tensor

    def reparameterize(self, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        return mean + torch.exp(0.5 * logvar) * self.eps if self.training else mean


def images() -> ImageData:
    generator = torch.Generator().manual_seed(5)
    pixels = torch.randint(0, 256, (64, 1, 64, 64), dtype=torch.uint8, generator=generator)
    return ImageData("noise", pixels, (1, 64, 64))


def one_step(loss_name: str, batch_size: int, dist: Distributed | None, eps: torch.Tensor) -> Trainer:
    """One real training step; returns the trainer (its model holds the gradients)."""
    spec = resolve_run("ddp", None, {"loss": loss_name, "latent_dim": LATENT, "batch_size": 8,
                                     "reg_anneal": 10}).spec
    torch.manual_seed(0)
    model = FixedNoiseVAE(ModelConfig((1, 64, 64), LATENT, "Burgess"))
    loss = loss_for_spec(spec, 64)
    trainer = Trainer(model, loss, torch.optim.Adam(model.parameters(), lr=1e-3), images(), batch_size, 1, 3,
                      dist=dist)
    x = next(trainer.epoch_batches(0))
    model.eps = eps
    trainer.train_step(x)
    trainer.first_batch = x  # type: ignore[attr-defined]
    return trainer


def worker(rank: int, world: int, port: int, out: str, loss_name: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist = Distributed.from_env()
    dist.start(torch.device("cpu"))
    try:
        half = PER_RANK // 2 if loss_name == "factor" else PER_RANK  # factor feeds the VAE half a batch
        eps = torch.randn(world * half, LATENT, generator=torch.Generator().manual_seed(11))
        trainer = one_step(loss_name, PER_RANK, dist, eps[rank * half:(rank + 1) * half])
        result = {"grads": {n: p.grad.clone() for n, p in trainer.model.named_parameters()},
                  "loss_grads": {n: p.grad.clone() for n, p in trainer.loss.named_parameters()
                                 if p.grad is not None},
                  "batch": trainer.first_batch}
        if rank == 0 and loss_name != "factor":
            single = one_step(loss_name, PER_RANK * world, None, eps)
            result["single_grads"] = {n: p.grad.clone() for n, p in single.model.named_parameters()}
            result["single_batch"] = single.first_batch
        torch.save(result, Path(out) / f"rank{rank}.pt")
    finally:
        dist.stop()
