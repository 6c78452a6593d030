"""beta-VAE with a controlled capacity, Burgess et al. 2018.

Burgess, C. P., et al. "Understanding disentangling in beta-VAE." arXiv:1804.03599 (2018).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from dvae_cli.engine.losses._terms import linear_annealing
from dvae_cli.engine.losses.base import LossResult, PosteriorLoss, base_terms
from dvae_cli.engine.models import VAEOutput


class BetaBLoss(PosteriorLoss):
    """rec + gamma * |KL - C|, C linear from `betaB_initC` to `betaB_finC` over `reg_anneal` steps.

    In evaluation C is the capacity at `evaluation_step` (the run's last training step;
    `betaB_finC` when it is unknown). The term ``C`` is reported with the others.

    Args:
        betaB_initC, betaB_finC: Start and final capacity C (nats).
        betaB_G: gamma, the weight of the capacity term.
        rec_dist, reg_anneal: see `Loss`.
    """

    name: ClassVar[str] = "betaB"

    def __init__(self, betaB_initC: float, betaB_finC: float, betaB_G: float, rec_dist: str,
                 reg_anneal: float) -> None:
        super().__init__(rec_dist=rec_dist, reg_anneal=reg_anneal)
        self.c_init, self.c_fin, self.gamma = float(betaB_initC), float(betaB_finC), float(betaB_G)

    def compute(self, x: torch.Tensor, output: VAEOutput, step: int | None) -> LossResult:
        terms = base_terms(x, output, self.rec_dist)
        capacity = linear_annealing(self.c_init, self.c_fin, self.anneal_step(step), self.reg_anneal)
        loss = terms["recon_loss"] + self.gamma * (terms["kl_loss"] - capacity).abs()
        terms["C"] = torch.tensor(capacity, dtype=loss.dtype, device=loss.device)
        return LossResult(loss=loss, terms={"loss": loss, **terms}, batch_size=x.shape[0])
