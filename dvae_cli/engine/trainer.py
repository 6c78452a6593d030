"""A model-agnostic training loop that reports through callbacks.

The trainer never prints: the live view, the loss log and the checkpoints are
callbacks. Loss terms are accumulated on the device; a callback that needs their
values asks `TrainState.running_means`, which synchronises once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from dvae_cli.data.in_memory import EpochBatches, ImageSource
from dvae_cli.data.streaming import StreamedImages, stream_batches
from dvae_cli.engine.losses.base import Loss
from dvae_cli.engine.models import VAE
from dvae_cli.errors import NonFiniteLossError


class RunningMeans:
    """Running means of named scalar tensors, accumulated on their device."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._sum: torch.Tensor | None = None
        self.count = 0

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        """Add one value of every term (0-d tensors); new keys are appended."""
        for key in terms:
            if key not in self.keys:
                self.keys.append(key)
                if self._sum is not None:
                    self._sum = torch.cat([self._sum, self._sum.new_zeros(1)])
        values = torch.stack([terms[k].detach().float().reshape(()) if k in terms
                              else torch.zeros((), device=next(iter(terms.values())).device)
                              for k in self.keys])
        self._sum = values if self._sum is None else self._sum + values
        self.count += 1

    def means(self) -> dict[str, float]:
        """The current means as floats (one device synchronisation)."""
        if self._sum is None or self.count == 0:
            return {}
        values = (self._sum / self.count).tolist()
        return dict(zip(self.keys, values, strict=True))

    def reset(self) -> None:
        self._sum, self.count = None, 0


@dataclass
class TrainState:
    """What callbacks see of a training run.

    Attributes:
        epoch: Current epoch, 0-based.
        epochs: Total number of epochs.
        step: Global training step, 1-based after the first step (annealing uses it).
        step_in_epoch: Steps done in the current epoch.
        steps_per_epoch: Steps in an epoch.
        batch_size: Images per step.
        images_seen: Images processed since this `fit` started.
        started: `time.perf_counter()` when `fit` started.
        running: Running means of the current epoch's terms.
        history: Per-epoch means of every term so far: term -> [(epoch, value)].
    """

    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    batch_size: int
    step_in_epoch: int = 0
    images_seen: int = 0
    started: float = field(default_factory=time.perf_counter)
    running: RunningMeans = field(default_factory=RunningMeans)
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def running_means(self) -> dict[str, float]:
        return self.running.means()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class Callback:
    """Hooks called by `Trainer.fit`; override what you need."""

    def on_train_start(self, state: TrainState) -> None: ...

    def on_epoch_start(self, state: TrainState) -> None: ...

    def on_step_end(self, state: TrainState) -> None: ...

    def on_epoch_end(self, state: TrainState, means: dict[str, float]) -> None: ...

    def on_train_end(self, state: TrainState) -> None: ...


class Trainer:
    """Train a VAE with a loss on in-memory data.

    Args:
        model: The VAE (moved to `device`).
        loss: The loss (moved to `device`).
        optimizer: The VAE's optimiser.
        data: Training images (moved to `device` when held in memory; streamed
            datasets are read ahead by worker processes).
        batch_size: Images per step.
        epochs: Number of epochs to train to.
        seed: Seeds the per-epoch permutations.
        device: Where to train.
        callbacks: Called in order at each event.
        start_epoch: First epoch to run (for resuming).
        start_step: Steps already done (for resuming).
    """

    def __init__(self, model: VAE, loss: Loss, optimizer: torch.optim.Optimizer, data: ImageSource,
                 batch_size: int, epochs: int, seed: int, device: torch.device | str = "cpu",
                 callbacks: list[Callback] | None = None, start_epoch: int = 0, start_step: int = 0) -> None:
        self.device = torch.device(device)
        # channels_last roughly doubles the conv throughput on CPU (benchmarks/)
        self.model = model.to(self.device).to(memory_format=torch.channels_last)
        self.loss = loss.to(self.device)
        self.optimizer = optimizer
        self.data = data.to(self.device)
        self.batches = EpochBatches(len(data), batch_size, seed)
        self.epochs = epochs
        self.callbacks = list(callbacks or [])
        self.state = TrainState(epoch=start_epoch, epochs=epochs, step=start_step,
                                steps_per_epoch=len(self.batches), batch_size=batch_size)

    def fit(self) -> dict[str, list[tuple[int, float]]]:
        """Train from the current epoch to `epochs`; return the per-epoch history.

        Raises:
            NonFiniteLossError: if a term's epoch mean is NaN or infinite.
        """
        state = self.state
        self.model.train()
        self._emit("on_train_start")
        for epoch in range(state.epoch, self.epochs):
            state.epoch, state.step_in_epoch = epoch, 0
            state.running.reset()
            self._emit("on_epoch_start")
            for x in self.epoch_batches(epoch):
                self.train_step(x)
                state.step_in_epoch += 1
                state.images_seen += x.shape[0]
                self._emit("on_step_end")
            means = state.running.means()
            bad = [key for key, value in means.items() if not math.isfinite(value)]
            if bad:
                raise NonFiniteLossError(f"non-finite {bad[0]} ({means[bad[0]]}) in epoch {epoch} "
                                         f"(by step {state.step}); lower --lr or check the data")
            for key, value in means.items():
                state.history.setdefault(key, []).append((epoch, value))
            for callback in self.callbacks:
                callback.on_epoch_end(state, means)
        state.epoch = self.epochs
        self.model.eval()
        self._emit("on_train_end")
        return state.history

    def epoch_batches(self, epoch: int) -> Iterator[torch.Tensor]:
        """The float batches of `epoch` on the device, in channels-last layout."""
        indices = self.batches.epoch(epoch)
        if isinstance(self.data, StreamedImages):
            batches = stream_batches(self.data, list(indices), pin_memory=self.device.type == "cuda")
        else:
            batches = (self.data.batch(index) for index in indices)
        for x in batches:
            yield x.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)

    def train_step(self, x: torch.Tensor) -> None:
        """One optimisation step on the batch `x` (B, C, H, W)."""
        self.state.step += 1
        result = self.loss(self.model, x, self.state.step)
        self.optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        terms = {key: value.detach() for key, value in result.terms.items()}
        if self.loss.trains_auxiliary:
            terms.update(self.loss.update_auxiliary(result))
        self.optimizer.step()
        self.state.running.add(terms)

    def _emit(self, event: str) -> None:
        for callback in self.callbacks:
            getattr(callback, event)(self.state)
