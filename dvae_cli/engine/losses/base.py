"""The loss interface: every loss returns its total and every named term as one result."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from dvae_cli.engine.losses._terms import kl_normal_per_dim, reconstruction_loss
from dvae_cli.engine.models import VAE, VAEOutput
from dvae_cli.runs.logs import kl_key


@dataclass
class LossResult:
    """The outcome of a loss on one batch.

    Attributes:
        loss: The scalar the VAE's optimiser minimises.
        terms: Every named term as a 0-d tensor, ``loss`` included, with
            disentangling-vae's keys (``recon_loss``, ``kl_loss``, ``kl_loss_<d>``, ...).
        auxiliary_inputs: Detached tensors that a loss training its own network
            (see `Loss.trains_auxiliary`) needs for its update.
        batch_size: Number of images the VAE terms were computed on.
    """

    loss: torch.Tensor
    terms: dict[str, torch.Tensor]
    batch_size: int
    auxiliary_inputs: dict[str, torch.Tensor] = field(default_factory=dict)


class Loss(nn.Module, abc.ABC):
    """Base class of the VAE losses.

    A loss is called as ``loss(model, x, step)`` where `step` is the 1-based
    training step (used by annealing schedules) or None in evaluation. It runs the
    model itself, because some losses (FactorVAE) feed it a part of the batch only;
    most losses are computed from one model output and subclass `PosteriorLoss`.
    Its name, hyper-parameters and terms are declared in the loss catalogue
    (`dvae_cli.catalogue.losses.LossInfo`), not here.

    A loss that trains a network of its own sets `trains_auxiliary`; the trainer
    then calls `update_auxiliary` after the VAE's backward pass and before the
    VAE's optimiser step (for the others it is never called, and returns nothing).
    Its networks are sub-modules, so they move with ``.to(device)`` and their state
    is in ``state_dict()``; `prepare_evaluation` restores them from a training state.

    Its constructor takes every value without a default: the catalogue's `Param` and
    the `RunSpec` field are the only defaults, which `get_loss` fills in.

    Args:
        rec_dist: Pixel likelihood: ``bernoulli``, ``laplace`` or ``gaussian``.
        reg_anneal: Number of training steps over which the regularisation is
            annealed in (what is annealed depends on the loss).
    """

    name: ClassVar[str]
    #: Whether it trains a network of its own (the trainer calls `update_auxiliary`).
    trains_auxiliary: ClassVar[bool] = False

    def __init__(self, rec_dist: str, reg_anneal: float) -> None:
        super().__init__()
        self.rec_dist = rec_dist
        self.reg_anneal = reg_anneal
        #: Averages a network's gradients over the processes of a distributed run (set by the trainer).
        self.gradient_sync: Callable[[nn.Module], None] | None = None
        #: The training step whose annealing state (betaB's capacity C, the annealed weights)
        #: evaluation uses: the run's last step, so that test losses measure the objective training
        #: ended with. None: the end of the schedule (runs whose last step is unknown).
        self.evaluation_step: int | None = None

    def anneal_step(self, step: int | None) -> int | None:
        """The step annealing schedules follow: `step` in training, `evaluation_step` in evaluation."""
        return step if step is not None else self.evaluation_step

    def sync_gradients(self, module: nn.Module) -> None:
        """Call before stepping an auxiliary optimiser: average `module`'s gradients over the ranks."""
        if self.gradient_sync is not None:
            self.gradient_sync(module)

    @abc.abstractmethod
    def forward(self, model: VAE, x: torch.Tensor, step: int | None = None) -> LossResult:
        """Run `model` on the batch `x` (B, C, H, W) and compute the loss."""

    def update_auxiliary(self, result: LossResult) -> dict[str, torch.Tensor]:
        """Train the loss's own network one step; return its terms (detached). Nothing by default."""
        return {}

    def prepare_evaluation(self, training_state: dict[str, Any] | None) -> list[str]:
        """Make the loss ready to evaluate a trained run; return notes for the reader.

        Args:
            training_state: The run's ``training_state.pt`` content (None when it has
                none, e.g. disentangling-vae's runs).
        """
        return []

    def auxiliary_optimizer_state(self) -> dict[str, Any] | None:
        """State of the auxiliary optimiser (None if the loss has none)."""
        return None

    def load_auxiliary_optimizer_state(self, state: dict[str, Any]) -> None:
        """Restore what `auxiliary_optimizer_state` returned."""

    def set_auxiliary_learning_rate(self, lr: float) -> None:
        """Set the learning rate of the loss's own optimiser (nothing for a loss without one)."""

    def extra_repr(self) -> str:
        return ", ".join(f"{key}={getattr(self, key)!r}" for key in ("rec_dist", "reg_anneal"))


class PosteriorLoss(Loss):
    """A loss computed from one model output on the whole batch: implement `compute`."""

    def forward(self, model: VAE, x: torch.Tensor, step: int | None = None) -> LossResult:
        return self.compute(x, model(x), step)

    @abc.abstractmethod
    def compute(self, x: torch.Tensor, output: VAEOutput, step: int | None) -> LossResult:
        """The loss of a model output on the batch `x` (B, C, H, W) it came from."""


def base_terms(x: torch.Tensor, output: VAEOutput, rec_dist: str) -> dict[str, torch.Tensor]:
    """``recon_loss``, ``kl_loss`` and ``kl_loss_<d>`` for one batch."""
    terms = {"recon_loss": reconstruction_loss(x, output.logits, rec_dist)}
    kl = kl_normal_per_dim(output.mean, output.logvar)
    terms["kl_loss"] = kl.sum()
    terms.update({kl_key(d): value for d, value in enumerate(kl.unbind())})
    return terms
