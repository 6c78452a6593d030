"""The plain VAE of Kingma & Welling 2014 (the evidence lower bound).

Kingma, D. P., Welling, M. "Auto-Encoding Variational Bayes." ICLR 2014.
"""

from __future__ import annotations

from typing import ClassVar

from dvae_cli.engine.losses.betah import BetaHLoss


class VAELoss(BetaHLoss):
    """rec + a * KL, with a annealed linearly from 0 to 1 over `reg_anneal` steps."""

    name: ClassVar[str] = "VAE"

    def __init__(self, rec_dist: str, reg_anneal: float) -> None:
        super().__init__(betaH_B=1.0, rec_dist=rec_dist, reg_anneal=reg_anneal)
