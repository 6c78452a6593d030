"""beta-TCVAE of Chen et al. 2018: the KL split into MI, TC and dimension-wise KL.

Chen, R. T. Q., Li, X., Grosse, R., Duvenaud, D. "Isolating Sources of
Disentanglement in Variational Autoencoders." NeurIPS 2018.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from dvae_cli.engine.losses._terms import estimate_log_qz, linear_annealing, log_density_gaussian
from dvae_cli.engine.losses.base import LossResult, PosteriorLoss, base_terms
from dvae_cli.engine.models import VAEOutput


class BtcvaeLoss(PosteriorLoss):
    """rec + alpha * MI + beta * TC + a * gamma * dimension-wise KL.

    MI = E[log q(z|x) - log q(z)], TC = E[log q(z) - log prod_d q(z_d)] and
    dw-KL = E[log prod_d q(z_d) - log p(z)], with q(z) estimated on the mini-batch
    (`estimate_log_qz`). a is annealed from 0 to 1 over `reg_anneal` steps. ``kl_loss``
    and its per-dimension terms are reported for comparison with the other losses.

    Args:
        n_data: N, the number of training images.
        btcvae_A, btcvae_B, btcvae_G: alpha, beta and gamma.
        btcvae_sampling: ``mss`` (stratified, default) or ``mws`` (weighted).
        rec_dist, reg_anneal: see `Loss`.
    """

    name: ClassVar[str] = "btcvae"

    def __init__(self, n_data: int, btcvae_A: float, btcvae_B: float, btcvae_G: float, btcvae_sampling: str,
                 rec_dist: str, reg_anneal: float) -> None:
        super().__init__(rec_dist=rec_dist, reg_anneal=reg_anneal)
        self.n_data = int(n_data)
        self.alpha, self.beta, self.gamma = float(btcvae_A), float(btcvae_B), float(btcvae_G)
        self.sampling = btcvae_sampling

    def compute(self, x: torch.Tensor, output: VAEOutput, step: int | None) -> LossResult:
        terms = base_terms(x, output, self.rec_dist)
        z = output.sample
        log_q_zx = log_density_gaussian(z, output.mean, output.logvar).sum(dim=1)
        log_pz = log_density_gaussian(z, torch.zeros_like(z), torch.zeros_like(z)).sum(dim=1)
        log_qz, log_prod_qzi = estimate_log_qz(z, output.mean, output.logvar, self.n_data, self.sampling)
        mi = (log_q_zx - log_qz).mean()
        tc = (log_qz - log_prod_qzi).mean()
        dw_kl = (log_prod_qzi - log_pz).mean()
        anneal = linear_annealing(0.0, 1.0, self.anneal_step(step), self.reg_anneal)
        loss = terms["recon_loss"] + self.alpha * mi + self.beta * tc + anneal * self.gamma * dw_kl
        terms = {"loss": loss, "recon_loss": terms.pop("recon_loss"), "mi_loss": mi, "tc_loss": tc,
                 "dw_kl_loss": dw_kl, **terms}
        return LossResult(loss=loss, terms=terms, batch_size=x.shape[0])
