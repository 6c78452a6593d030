"""Training on several processes with torch.distributed (``torchrun``).

``dvae train`` run under ``torchrun --nproc-per-node N`` (one node or several) finds
its rank in the environment torchrun sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``). Every rank holds the data, takes a disjoint shard
of each epoch's permutation (`dvae_cli.data.in_memory.EpochBatches`), and its
gradients are averaged with the others': the VAE's by `DistributedDataParallel`,
FactorVAE's discriminator's by an all-reduce. Only rank 0 writes results, logs and
the live view.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from dvae_cli.engine.device import configure_threads
from dvae_cli.errors import ConfigError


@dataclass(frozen=True)
class Distributed:
    """This process's place in a multi-process run.

    Attributes:
        rank: Global rank (0 writes everything).
        world_size: Number of processes.
        local_rank: Rank on this node (which GPU it uses).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Distributed:
        """Read torchrun's environment; a single process if ``WORLD_SIZE`` is unset or 1.

        Raises:
            ConfigError: if the variables are malformed.
        """
        try:
            world = int(os.environ.get("WORLD_SIZE", "1"))
            rank = int(os.environ.get("RANK", "0"))
            local = int(os.environ.get("LOCAL_RANK", str(rank)))
        except ValueError as exc:
            raise ConfigError(f"malformed torchrun environment: {exc}") from None
        if world < 1 or not 0 <= rank < world:
            raise ConfigError(f"malformed torchrun environment: RANK={rank}, WORLD_SIZE={world}")
        return cls(rank, world, local)

    def device(self, device: torch.device) -> torch.device:
        """The device of this rank: ``cuda:<local rank>`` when training on CUDA."""
        if self.enabled and device.type == "cuda":
            return torch.device("cuda", self.local_rank % max(torch.cuda.device_count(), 1))
        return device

    def start(self, device: torch.device) -> None:
        """Join the process group (NCCL on CUDA, gloo on the CPU); nothing for one process."""
        if not self.enabled or dist.is_initialized():
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        else:  # share the cores between this machine's ranks instead of oversubscribing them
            configure_threads(int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=self.rank,
                                world_size=self.world_size)

    def stop(self) -> None:
        """Leave the process group."""
        if self.enabled and dist.is_initialized():
            dist.destroy_process_group()

    @contextlib.contextmanager
    def rank_zero_first(self) -> Iterator[None]:
        """Run the block on rank 0 first, then on the other ranks (e.g. to create a cache once)."""
        if self.enabled and not self.is_main:
            dist.barrier()
        yield
        if self.enabled and self.is_main:
            dist.barrier()

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The model as the loss should call it: wrapped in DDP when distributed."""
        if not self.enabled:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return _ModelDDP(model, device_ids=ids, broadcast_buffers=False)

    def average_gradients(self, module: nn.Module) -> None:
        """All-reduce the gradients of `module` to their mean over the ranks (one flat buffer)."""
        if not self.enabled:
            return
        grads = [p.grad for p in module.parameters() if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset:offset + grad.numel()].view_as(grad))
            offset += grad.numel()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The elementwise sum of `tensor` over the ranks (in place; returned)."""
        if self.enabled:
            dist.all_reduce(tensor)
        return tensor

    def max(self, value: int, device: torch.device) -> int:
        """The largest `value` over the ranks (one collective)."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.long, device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return int(tensor.item())


class _ModelDDP(nn.parallel.DistributedDataParallel):
    """DDP that lets the losses reach the model's own attributes (``latent_dim``, ``sample_latent``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)
