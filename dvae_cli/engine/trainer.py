"""A model-agnostic training loop that reports through callbacks.

The trainer never prints: the live view, the loss log and the checkpoints are
callbacks. Loss terms are accumulated on the device; a callback that needs their
values asks `TrainState.running_means`, which synchronises once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from dvae_cli.data.in_memory import EpochBatches, ImageSource
from dvae_cli.data.streaming import StreamedImages, stream_batches
from dvae_cli.engine.device import keep_freed_memory, rng_state, set_rng_state
from dvae_cli.engine.distributed import Distributed
from dvae_cli.engine.health import DivergenceMonitor, global_norm, gradient_norm
from dvae_cli.engine.hooks import Callback, StopRequested, TrainState
from dvae_cli.engine.losses.base import Loss
from dvae_cli.engine.models import VAE
from dvae_cli.errors import NonFiniteLossError, UnknownNameError
from dvae_cli.spec import PRECISIONS

#: Steps between checks for non-finite loss terms (each check is one device sync).
FINITE_CHECK_EVERY = 25


class Trainer:
    """Train a VAE with a loss on in-memory data.

    On the CPU, building a Trainer makes the process keep freed memory for reuse
    (`dvae_cli.engine.device.keep_freed_memory`): a third of a step went to page
    faults otherwise.

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
        stop: Polled after every step (e.g. a `dvae_cli.engine.interrupts.StopFlag`);
            when true, `fit` calls `on_interrupt` and raises `StopRequested`.
        detect_anomaly: Run under ``torch.autograd.detect_anomaly`` and check the
            terms after every step (slow; for debugging).
        compile_model: Run the model through ``torch.compile`` (the weights and the
            checkpoints are those of the plain model).
        precision: ``fp32``, or ``bf16`` for bfloat16 autocast of the forward pass
            (the weights and the optimiser stay float32).
        clip_grad: Clip the global L2 norm of the VAE's gradients to this value
            before each optimiser step (None: no clipping).
        dist: This process's place in a multi-process run (None: a single process).
            Each rank trains on its shard of every global batch; the checks for
            non-finite terms and for a stop request become collective and happen
            every `FINITE_CHECK_EVERY` steps and at each epoch's end.
    """

    def __init__(self, model: VAE, loss: Loss, optimizer: torch.optim.Optimizer, data: ImageSource,
                 batch_size: int, epochs: int, seed: int, device: torch.device | str = "cpu",
                 callbacks: list[Callback] | None = None, stop: object | None = None,
                 detect_anomaly: bool = False, compile_model: bool = False, precision: str = "fp32",
                 dist: Distributed | None = None, clip_grad: float | None = None) -> None:
        self.device = torch.device(device)
        if self.device.type == "cpu":
            keep_freed_memory()
        # channels_last roughly doubles the conv throughput on CPU (benchmarks/)
        self.model = model.to(self.device).to(memory_format=torch.channels_last)
        self.loss = loss.to(self.device)
        self.optimizer = optimizer
        self.data = data.to(self.device)
        self.dist = dist or Distributed()
        self.batches = EpochBatches(len(data), batch_size, seed, self.dist.rank, self.dist.world_size)
        self.epochs = epochs
        self.callbacks = list(callbacks or [])
        self.stop = stop
        self.detect_anomaly = detect_anomaly
        if precision not in PRECISIONS:
            raise UnknownNameError("precision", precision, PRECISIONS)
        self.precision = precision
        self.clip_grad = clip_grad
        if self.dist.enabled:
            self.loss.gradient_sync = self.dist.average_gradients
        #: What the loss calls: the model, wrapped in DDP when distributed, compiled with `compile_model`.
        wrapped = self.dist.wrap(self.model, self.device)
        self.forward_model: VAE = torch.compile(wrapped) if compile_model else wrapped  # type: ignore[assignment]
        self.state = TrainState(epoch=0, epochs=epochs, step=0, steps_per_epoch=len(self.batches),
                                batch_size=batch_size)
        #: The loss and the VAE's gradient norm of the recent steps, to tell an explosion from a bug.
        self.divergence = DivergenceMonitor(self.device)
        self._parameters = [p for group in optimizer.param_groups for p in group["params"]]

    def fit(self) -> dict[str, list[tuple[int, float]]]:
        """Train from the current position (epoch and step in it) to `epochs`; return the history.

        Raises:
            NonFiniteLossError: if a term is NaN or infinite (checked every
                `FINITE_CHECK_EVERY` steps and at the end of each epoch; the error
                names the first step and term) or the weights became non-finite.
            StopRequested: if `stop` became true; the state is consistent and
                `on_interrupt` has been called.
        """
        state = self.state
        self.model.train()
        try:
            with torch.autograd.set_detect_anomaly(self.detect_anomaly):
                self._fit()
        except BaseException:
            self._emit("on_train_abort")
            raise
        self.model.eval()
        self._emit("on_train_end")
        return state.history

    def _fit(self) -> None:
        state = self.state
        for callback in self.callbacks:
            callback.setup(self)
        self._emit("on_train_start")
        check_every = 1 if self.detect_anomaly else FINITE_CHECK_EVERY
        for epoch in range(state.epoch, self.epochs):
            skip = state.step_in_epoch if epoch == state.epoch else 0
            if not skip:
                state.running.reset()
            state.epoch, state.step_in_epoch = epoch, skip
            self._emit("on_epoch_start")
            for x in self.epoch_batches(epoch, skip):
                self.train_step(x)
                state.step_in_epoch += 1
                state.images_seen += x.shape[0] * self.dist.world_size
                at_check = state.step % check_every == 0
                if at_check:
                    self.check_finite()
                self._emit("on_step_end")
                if state.step_in_epoch < state.steps_per_epoch and (at_check or not self.dist.enabled):
                    self._maybe_stop()
            self.check_finite()
            state.running.reduce(self.dist)
            means = state.running.means()
            for key, value in means.items():
                state.history.setdefault(key, []).append((epoch, value))
            for callback in self.callbacks:
                callback.on_epoch_end(state, means)
            if epoch + 1 < self.epochs:
                self._maybe_stop()
        state.epoch, state.step_in_epoch = self.epochs, 0

    def _maybe_stop(self) -> None:
        """Honour a stop request (of any rank): check, call `on_interrupt`, raise `StopRequested`."""
        signum = int(getattr(self.stop, "signum", 0) or (1 if self.stop else 0))
        if self.dist.enabled:
            signum = self.dist.max(signum, self.device)
        if not signum:
            return
        self.check_finite()
        self.check_weights()
        self._emit("on_interrupt")
        raise StopRequested(signum, self.state)

    def check_finite(self) -> None:
        """Raise `NonFiniteLossError` if a term or the gradient was not finite (collective when distributed).

        The message names the first step and term, and what the recent gradient
        steps show (`dvae_cli.engine.health.DivergenceReport.advice`).
        """
        found = self.state.running.first_non_finite()
        if found is None:
            bad_gradient = self.divergence.first_bad_step()
            if bad_gradient is not None:   # a NaN gradient of a finite loss, caught before the next step
                found = (bad_gradient, "gradient")
        elsewhere = self.dist.max(found[0] if found else 0, self.device) if self.dist.enabled else 0
        if found is not None:
            step, term = found
            report = self.divergence.report()
            epoch = self.epoch_of(step)
            raise NonFiniteLossError(f"non-finite {term} at step {step:,} (epoch {epoch}); {report.advice()}",
                                     term, step, epoch, exploded=report.exploded)
        if elsewhere:
            epoch = self.epoch_of(elsewhere)
            raise NonFiniteLossError(f"non-finite loss on another rank at step {elsewhere:,} (epoch {epoch})",
                                     None, elsewhere, epoch)

    def epoch_of(self, step: int) -> int:
        """The 1-based epoch of the 1-based global `step` (as every message counts them)."""
        return (step - 1) // max(self.state.steps_per_epoch, 1) + 1

    def check_weights(self) -> None:
        """Raise `NonFiniteLossError` if a weight of the model or of the loss is not finite."""
        modules = [self.model, self.loss]
        if not all(bool(torch.isfinite(p).all()) for m in modules for p in m.parameters()):
            raise NonFiniteLossError(f"the weights became non-finite by step {self.state.step:,}",
                                     None, self.state.step, self.state.epoch + 1)

    def epoch_batches(self, epoch: int, skip: int = 0) -> Iterator[torch.Tensor]:
        """The float batches of `epoch` on the device, in channels-last layout, from batch `skip` on."""
        if isinstance(self.data, StreamedImages):
            indices = list(self.batches.epoch(epoch))[skip:]
            batches = stream_batches(self.data, indices, pin_memory=self.device.type == "cuda")
        else:
            on_device = list(self.batches.epoch(epoch, self.device))[skip:]
            batches = (self.data.batch(index) for index in on_device)
        for x in batches:
            yield x.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)

    def train_step(self, x: torch.Tensor) -> None:
        """One optimisation step on the batch `x` (B, C, H, W)."""
        self.state.step += 1
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            result = self.loss(self.forward_model, x, self.state.step)
        self.optimizer.zero_grad(set_to_none=True)
        try:
            result.loss.backward()
        except RuntimeError as exc:
            if self.detect_anomaly and "nan" in str(exc).lower():
                detail = str(exc).strip().splitlines()[0].rstrip(".")
                raise NonFiniteLossError(f"non-finite gradient at step {self.state.step:,} (epoch "
                                         f"{self.state.epoch + 1}): {detail}",
                                         None, self.state.step, self.state.epoch + 1) from None
            raise
        terms = {key: value.detach() for key, value in result.terms.items()}
        if self.clip_grad is not None:   # the norm before clipping: what the divergence monitor watches
            norm = torch.nn.utils.clip_grad_norm_(self._parameters, self.clip_grad)
        else:
            norm = gradient_norm(self._parameters)
        self.divergence.add(result.loss, norm, global_norm(self._parameters), self.state.step)
        if self.loss.trains_auxiliary:
            terms.update(self.loss.update_auxiliary(result))
        self.optimizer.step()
        self.state.running.add(terms, self.state.step)

    # ------------------------------------------------------------------ state

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly where training is now.

        The model, its optimiser, the loss's own networks and optimiser, the
        position (epoch, step, step within the epoch: the permutation of an epoch
        depends only on the seed and the epoch), the history, the running sums of
        the current epoch and every random generator's state.
        """
        state = self.state
        epoch, step_in_epoch = state.epoch, state.step_in_epoch
        if step_in_epoch >= state.steps_per_epoch:  # at the end of an epoch: resume at the next
            epoch, step_in_epoch = epoch + 1, 0
        return {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "loss": {k: v.detach().cpu() for k, v in self.loss.state_dict().items()},
            "loss_optimizer": self.loss.auxiliary_optimizer_state(),
            "epoch": epoch,
            "step": state.step,
            "step_in_epoch": step_in_epoch,
            "history": {k: [list(row) for row in rows] for k, rows in state.history.items()},
            "running": state.running.state_dict(),
            "rng": rng_state(),
        }

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (checkpoints of format 1 resume at an epoch start)."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.loss.load_state_dict(checkpoint["loss"])
        if checkpoint.get("loss_optimizer") is not None:
            self.loss.load_auxiliary_optimizer_state(checkpoint["loss_optimizer"])
        state = self.state
        state.epoch, state.step = int(checkpoint["epoch"]), int(checkpoint["step"])
        state.step_in_epoch = int(checkpoint.get("step_in_epoch", 0))
        state.history = {k: [(int(e), float(v)) for e, v in rows]
                         for k, rows in (checkpoint.get("history") or {}).items()}
        state.running.reset()
        if checkpoint.get("running") is not None and state.step_in_epoch:
            state.running.load_state_dict(checkpoint["running"], self.device)
        if checkpoint.get("rng") is not None:
            set_rng_state(checkpoint["rng"])

    def _emit(self, event: str) -> None:
        for callback in self.callbacks:
            getattr(callback, event)(self.state)
