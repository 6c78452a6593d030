"""DIP-VAE-I and DIP-VAE-II of Kumar et al. 2018: match the inferred prior's covariance to the identity.

Kumar, A., Sattigeri, P., Balakrishnan, A. "Variational Inference of Disentangled
Latent Concepts from Unlabeled Observations." ICLR 2018 (arXiv:1711.00848),
Section 3: Eq. 6 (DIP-VAE-I) and Eq. 7 (DIP-VAE-II), the numbering that
disentanglement_lib's ``DIPVAE`` cites.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from dvae_cli.catalogue.losses import DIP_TYPES, resolved_lambda_d
from dvae_cli.engine.losses._terms import at_least_float32, linear_annealing
from dvae_cli.engine.losses.base import LossResult, PosteriorLoss, base_terms
from dvae_cli.engine.models import VAEOutput
from dvae_cli.errors import UnknownNameError

#: Posterior log-variances above this count as this in DIP-VAE-II's covariance (the KL keeps them
#: exact): a variance of e^30 is ~1e13 prior variances, and its squared deviation, times lambda_d,
#: and its gradient stay finite in float32, where e^88 (the KL's limit) squared overflows.
MAX_COVARIANCE_LOGVAR = 30.0


def batch_covariance(mean: torch.Tensor) -> torch.Tensor:
    """Cov_p(x)[mu(x)] over the batch: the biased (1/B) covariance of the posterior means.

    Written as ``(mu - mean(mu))^T (mu - mean(mu)) / B`` (disentanglement_lib's
    ``E[mu mu^T] - E[mu] E[mu]^T`` loses every digit when the means sit far from 0).
    A batch of one image has covariance 0 (value and gradient finite).

    Args:
        mean: mu(x), shape (B, D), in latent units.

    Returns:
        Shape (D, D), in squared latent units, float32 at least.
    """
    mean = at_least_float32(mean)
    centred = mean - mean.mean(dim=0, keepdim=True)
    return centred.T @ centred / mean.shape[0]


def dip_covariance(mean: torch.Tensor, logvar: torch.Tensor, dip_type: str) -> torch.Tensor:
    """The covariance DIP-VAE drives to the identity.

    - ``i`` (Eq. 6): Cov_p(x)[mu(x)], the covariance of the posterior means;
    - ``ii`` (Eq. 7): Cov_q(z)[z] = E_p(x)[diag(exp(logvar(x)))] + Cov_p(x)[mu(x)], the
      covariance of the aggregate posterior q(z) (law of total covariance), with
      log-variances capped at `MAX_COVARIANCE_LOGVAR` in this term.

    Args:
        mean, logvar: Posterior parameters, shape (B, D).
        dip_type: ``i`` or ``ii``.

    Returns:
        Shape (D, D), float32 at least.

    Raises:
        UnknownNameError: for another `dip_type`.
    """
    if dip_type not in DIP_TYPES:
        raise UnknownNameError("dip type", dip_type, DIP_TYPES)
    covariance = batch_covariance(mean)
    if dip_type == "ii":
        logvar = at_least_float32(logvar).clamp(max=MAX_COVARIANCE_LOGVAR)
        covariance = covariance + torch.diag(torch.exp(logvar).mean(dim=0))
    return covariance


def dip_penalties(covariance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The off-diagonal and diagonal penalties of DIP-VAE (Eq. 6 and 7).

    Args:
        covariance: Shape (D, D).

    Returns:
        ``(sum_{i != j} Cov_ij^2, sum_i (Cov_ii - 1)^2)``: two 0-d tensors in squared
        latent units (weighted by lambda_od and lambda_d they add to the loss in nats).
    """
    diagonal = torch.diagonal(covariance)
    off_diagonal = covariance - torch.diag(diagonal)
    return off_diagonal.square().sum(), (diagonal - 1).square().sum()


class DipLoss(PosteriorLoss):
    """rec + a * (KL + lambda_od * od + lambda_d * d), a annealed linearly from 0 to 1 over `reg_anneal` steps.

    od is the sum of the squared off-diagonal entries of the covariance and d the sum
    of the squared deviations of its diagonal from 1 (`dip_penalties`) of Cov[mu(x)]
    (DIP-VAE-I, Eq. 6) or of Cov[z] under the aggregate posterior (DIP-VAE-II, Eq. 7),
    both estimated on the batch (`dip_covariance`). With ``reg_anneal = 0`` this is the
    paper's objective (as betaH and VAE, the whole regulariser is annealed). The terms
    ``dip_od_loss`` and ``dip_d_loss`` are the unweighted penalties; ``recon_loss``
    and ``kl_loss`` are in nats, summed over pixels and latents, averaged over the batch.
    The covariance is a batch estimate, so the penalties (and the test losses) depend on
    the batch size: evaluation uses batches of ``--eval-batchsize`` images.

    Args:
        dip_type: ``i`` (DIP-VAE-I) or ``ii`` (DIP-VAE-II).
        dip_lambda_od: lambda_od, the weight of the off-diagonal penalty.
        dip_lambda_d: lambda_d, the weight of the diagonal penalty; None: the paper's,
            ``10 * lambda_od`` for type ``i`` and ``lambda_od`` for ``ii`` (Section 4).
        rec_dist, reg_anneal: see `Loss`.

    Raises:
        UnknownNameError: for another `dip_type`.
    """

    name: ClassVar[str] = "dip"

    def __init__(self, dip_type: str, dip_lambda_od: float, dip_lambda_d: float | None, rec_dist: str,
                 reg_anneal: float) -> None:
        super().__init__(rec_dist=rec_dist, reg_anneal=reg_anneal)
        self.lambda_d = resolved_lambda_d(dip_type, dip_lambda_od, dip_lambda_d)
        self.dip_type = dip_type
        self.lambda_od = float(dip_lambda_od)

    def compute(self, x: torch.Tensor, output: VAEOutput, step: int | None) -> LossResult:
        terms = base_terms(x, output, self.rec_dist)
        od, d = dip_penalties(dip_covariance(output.mean, output.logvar, self.dip_type))
        anneal = linear_annealing(0.0, 1.0, self.anneal_step(step), self.reg_anneal)
        loss = terms["recon_loss"] + anneal * (terms["kl_loss"] + self.lambda_od * od + self.lambda_d * d)
        terms = {"loss": loss, "recon_loss": terms.pop("recon_loss"), "kl_loss": terms.pop("kl_loss"),
                 "dip_od_loss": od, "dip_d_loss": d, **terms}
        return LossResult(loss=loss, terms=terms, batch_size=x.shape[0])

    def extra_repr(self) -> str:
        own = f"dip_type={self.dip_type!r}, lambda_od={self.lambda_od}, lambda_d={self.lambda_d}"
        return f"{own}, {super().extra_repr()}"
