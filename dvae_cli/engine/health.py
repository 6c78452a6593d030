"""What the trainer watches on the device: running means of the loss terms and the gradient norm.

Both accumulate on the training device without synchronising; the trainer asks
for their values every `FINITE_CHECK_EVERY` steps, once per epoch and when a
check fails, so a CPU or GPU step never waits on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from dvae_cli.runs.logs import is_kl_key

if TYPE_CHECKING:
    from dvae_cli.engine.distributed import Distributed

#: Steps of gradient norms kept to tell an explosion from a bug when a value goes non-finite.
GRADIENT_WINDOW = 64
#: Growth within the window (a value over the smallest one before it) that counts as a divergence;
#: healthy runs of every loss and likelihood stay far below (tests/test_long_training.py).
LOSS_GROWTH = 100.0
GRADIENT_GROWTH = 1000.0
WEIGHT_GROWTH = 10.0


class RunningMeans:
    """Running means of named scalar tensors, accumulated on their device.

    It also remembers, still on the device, the first step whose values were not
    all finite and which term it was, so that checking costs one synchronisation
    whenever the trainer asks (`first_non_finite`), not one per step.
    """

    def __init__(self) -> None:
        self.keys: list[str] = []
        self._sum: torch.Tensor | None = None
        self.count = 0
        self._bad: torch.Tensor | None = None  # (step, index of the term), -1 while all finite

    def add(self, terms: dict[str, torch.Tensor], step: int = 0) -> None:
        """Add one value of every term (0-d tensors) of training step `step`; new keys are appended."""
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
        # [step, flags of the terms...] of the first step with a non-finite term; step -1 until then
        bad = ~torch.isfinite(values)
        found = torch.cat([torch.full((1,), step, device=values.device, dtype=torch.long), bad.long()])
        if self._bad is None:
            self._bad = torch.full((1,), -1, device=values.device, dtype=torch.long)
        if self._bad.shape[0] < found.shape[0]:
            self._bad = torch.cat([self._bad, self._bad.new_zeros(found.shape[0] - self._bad.shape[0])])
        self._bad = torch.where((self._bad[0] < 0) & bad.any(), found, self._bad)

    def first_non_finite(self) -> tuple[int, str] | None:
        """(step, terms) of the first non-finite values added since the last reset, or None.

        The terms are named most specific first: the total ``loss`` only if no
        term it sums is named.
        """
        if self._bad is None:
            return None
        step, *flags = self._bad.tolist()
        if step < 0:
            return None
        names = [key for key, flag in zip(self.keys, flags, strict=False) if flag]
        parts = [key for key in names if key != "loss" and not is_kl_key(key)] or names
        return step, ", ".join(parts[:3])

    def state_dict(self) -> dict[str, object]:
        """The sums so far, to resume an epoch part-way."""
        return {"keys": list(self.keys), "sum": None if self._sum is None else self._sum.detach().cpu(),
                "count": self.count}

    def load_state_dict(self, state: dict[str, object], device: torch.device) -> None:
        total = state["sum"]
        self.keys = list(state["keys"])  # type: ignore[call-overload]
        self._sum = total.to(device) if isinstance(total, torch.Tensor) else None
        self.count = int(state["count"])  # type: ignore[call-overload]
        self._bad = None

    def means(self) -> dict[str, float]:
        """The current means as floats (one device synchronisation)."""
        if self._sum is None or self.count == 0:
            return {}
        values = (self._sum / self.count).tolist()
        return dict(zip(self.keys, values, strict=True))

    def reset(self) -> None:
        self._sum, self.count, self._bad = None, 0, None

    def reduce(self, dist: Distributed) -> None:
        """Sum the running sums over the ranks, so `means` averages every rank's steps."""
        if dist.enabled and self._sum is not None:
            self._sum = dist.sum(self._sum.clone())
            self.count *= dist.world_size


def global_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The L2 norm of all `tensors` together (0-d, float32, on their device; no synchronisation).

    NaN or inf in any tensor makes the norm non-finite; an empty list gives 0.
    """
    if not tensors:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(t.detach().float()) for t in tensors]))


def gradient_norm(parameters: list[torch.nn.Parameter]) -> torch.Tensor:
    """The global L2 norm of the gradients of `parameters` (those without a gradient are skipped)."""
    return global_norm([p.grad for p in parameters if p.grad is not None])


@dataclass
class DivergenceReport:
    """What the recent steps say about a run that went non-finite.

    Growth is measured in the order of the steps: the largest ratio of a value to
    the smallest one before it within the last `GRADIENT_WINDOW` steps (up to the
    first non-finite gradient), so the large loss and gradients of the first steps,
    which fall, are no growth.

    Attributes:
        first_bad_step: First step whose gradient norm was NaN or inf (None: all were finite).
        loss_growth, gradient_growth, weight_growth: That ratio for the total loss,
            the gradient norm and the weights' norm.
        typical_loss, typical_norm: Median finite loss and gradient norm of the window.
        exploded: Whether a growth passed its threshold (`LOSS_GROWTH`,
            `GRADIENT_GROWTH`, `WEIGHT_GROWTH`): the optimisation diverged (a learning
            rate too high), as opposed to a NaN out of a steady run (a bug).
    """

    first_bad_step: int | None
    loss_growth: float
    gradient_growth: float
    weight_growth: float
    typical_loss: float
    typical_norm: float

    @property
    def exploded(self) -> bool:
        return (self.loss_growth >= LOSS_GROWTH or self.gradient_growth >= GRADIENT_GROWTH
                or self.weight_growth >= WEIGHT_GROWTH)

    def advice(self) -> str:
        """One sentence for the error message: what the steps before show and what to do."""
        where = (f"the gradient first became non-finite at step {self.first_bad_step:,}; "
                 if self.first_bad_step is not None else "")
        if self.exploded:
            return (f"{where}before it the loss grew {self.loss_growth:.3g}-fold, the gradient norm "
                    f"{self.gradient_growth:.3g}-fold and the weights' norm {self.weight_growth:.3g}-fold: "
                    "the optimisation diverged; lower --lr")
        shown = (f"the loss stayed near {self.typical_loss:.3g} and the gradient norm near {self.typical_norm:.3g} "
                 f"before it" if math.isfinite(self.typical_norm) else "no finite step was recorded before it")
        return (f"{where}{shown}, so the run did not diverge: this is a bug in dvae; please report it "
                "with the run folder (--detect-anomaly names the operation)")


def growth(values: torch.Tensor) -> float:
    """The largest ratio of a value to the smallest value before it (1 for fewer than two finite values).

    Args:
        values: Positive numbers in chronological order, shape (n,); non-finite ones are skipped.
    """
    values = values[torch.isfinite(values)].abs().clamp(min=1e-30)
    if values.numel() < 2:
        return 1.0
    return float((values / torch.cummin(values, dim=0).values).max())


class DivergenceMonitor:
    """The loss, gradient norm and weight norm of the last `GRADIENT_WINDOW` steps, on the device.

    Everything stays on the training device; `report` reads it back once, when a
    check has found a non-finite value.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        #: Ring buffer rows: (step, loss, gradient norm, weight norm); step -1 where not yet written.
        self._rows = torch.full((GRADIENT_WINDOW, 4), math.nan, dtype=torch.float64, device=device)
        self._rows[:, 0] = -1
        self._first_bad = torch.full((), -1, dtype=torch.long, device=device)

    def add(self, loss: torch.Tensor, norm: torch.Tensor, weights: torch.Tensor, step: int) -> None:
        """Record step `step`'s total loss, gradient norm and weight norm (0-d tensors; no synchronisation)."""
        device = self._rows.device
        values = [value.detach().reshape(()).to(device, torch.float64) for value in (loss, norm, weights)]
        self._rows[step % GRADIENT_WINDOW] = torch.stack([torch.tensor(float(step), dtype=torch.float64,
                                                                       device=device), *values])
        bad = ~torch.isfinite(values[1])
        self._first_bad = torch.where((self._first_bad < 0) & bad, torch.full_like(self._first_bad, step),
                                      self._first_bad)

    def first_bad_step(self) -> int | None:
        """The first step with a non-finite gradient norm (one synchronisation), or None."""
        step = int(self._first_bad)
        return step if step >= 0 else None

    def report(self) -> DivergenceReport:
        """Read the window back (one synchronisation) and judge it."""
        first_bad = self.first_bad_step()
        rows = self._rows.cpu()
        written = rows[:, 0] >= 0
        if first_bad is not None:
            written &= rows[:, 0] <= first_bad
        rows = rows[written]
        rows = rows[torch.argsort(rows[:, 0])]
        losses, norms = rows[:, 1], rows[:, 2]
        finite_losses, finite_norms = losses[torch.isfinite(losses)], norms[torch.isfinite(norms)]
        typical_loss = float(finite_losses.abs().median()) if finite_losses.numel() else math.nan
        typical_norm = float(finite_norms.median()) if finite_norms.numel() else math.nan
        return DivergenceReport(first_bad, growth(losses), growth(norms), growth(rows[:, 3]), typical_loss,
                                typical_norm)
