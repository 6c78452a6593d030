"""beta-VAE of Higgins et al. 2017.

Higgins, I., et al. "beta-VAE: Learning Basic Visual Concepts with a Constrained
Variational Framework." ICLR 2017.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from dvae_cli.engine.losses._terms import linear_annealing
from dvae_cli.engine.losses.base import LossResult, PosteriorLoss, base_terms
from dvae_cli.engine.models import VAEOutput


class BetaHLoss(PosteriorLoss):
    """rec + a * beta * KL, with a annealed linearly from 0 to 1 over `reg_anneal` steps.

    Args:
        betaH_B: beta, the weight of the KL term.
        rec_dist, reg_anneal: see `Loss`.
    """

    name: ClassVar[str] = "betaH"

    def __init__(self, betaH_B: float, rec_dist: str, reg_anneal: float) -> None:
        super().__init__(rec_dist=rec_dist, reg_anneal=reg_anneal)
        self.beta = float(betaH_B)

    def compute(self, x: torch.Tensor, output: VAEOutput, step: int | None) -> LossResult:
        terms = base_terms(x, output, self.rec_dist)
        anneal = linear_annealing(0.0, 1.0, self.anneal_step(step), self.reg_anneal)
        loss = terms["recon_loss"] + anneal * self.beta * terms["kl_loss"]
        return LossResult(loss=loss, terms={"loss": loss, **terms}, batch_size=x.shape[0])
