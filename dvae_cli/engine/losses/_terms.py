"""The pieces the losses are built from: reconstruction, KL, annealing, q(z) estimators.

Shapes: B is the batch size, D the latent dimension, C/H/W the image shape.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from dvae_cli.errors import UnknownNameError

REC_DISTS = ("bernoulli", "laplace", "gaussian")
SAMPLINGS = ("mss", "mws")
_LOG_2PI = math.log(2 * math.pi)


def reconstruction_loss(x: torch.Tensor, recon: torch.Tensor, rec_dist: str = "bernoulli") -> torch.Tensor:
    """Negative log-likelihood of the images, summed over pixels, mean over the batch.

    Args:
        x: Images in [0, 1], shape (B, C, H, W).
        recon: Pixel means in (0, 1), shape (B, C, H, W).
        rec_dist: ``bernoulli`` (binary cross-entropy), ``gaussian``
            (255 * sum of squared errors, i.e. MSE in [0, 255] scaled back by 255)
            or ``laplace`` (3 * sum of absolute errors; 3 makes its values comparable
            to the Bernoulli loss so that the same weights can be used).

    Returns:
        A scalar tensor.

    Raises:
        UnknownNameError: for any other `rec_dist`.
    """
    batch_size = x.shape[0]
    if rec_dist == "bernoulli":
        # F.binary_cross_entropy's formula (logs clamped at -100), written out so that a NaN
        # reconstruction gives a NaN loss the trainer reports instead of a range error
        total = -(x * torch.log(recon).clamp(min=-100) + (1 - x) * torch.log(1 - recon).clamp(min=-100)).sum()
    elif rec_dist == "gaussian":
        total = 255.0 * F.mse_loss(recon, x, reduction="sum")
    elif rec_dist == "laplace":
        total = 3.0 * F.l1_loss(recon, x, reduction="sum")
    else:
        raise UnknownNameError("rec-dist", rec_dist, REC_DISTS)
    return total / batch_size


def kl_normal_per_dim(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z_d|x) || N(0, 1)) for each latent dimension, averaged over the batch.

    Args:
        mean, logvar: Posterior parameters, shape (B, D).

    Returns:
        Shape (D,).
    """
    return 0.5 * (-1.0 - logvar + mean.pow(2) + logvar.exp()).mean(dim=0)


def linear_annealing(init: float, fin: float, step: int | None, annealing_steps: float) -> float:
    """Linear interpolation from `init` to `fin` over `annealing_steps` training steps.

    Args:
        init, fin: Start and end values.
        step: The 1-based training step, or None for evaluation (returns `fin`).
        annealing_steps: Steps to reach `fin`; 0 means `fin` from the start.
    """
    if step is None or annealing_steps <= 0:
        return fin
    fraction = min(max(step / annealing_steps, 0.0), 1.0)
    return init + (fin - init) * fraction


def log_density_gaussian(x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(x; mean, exp(logvar)) (all arguments broadcast)."""
    return -0.5 * (_LOG_2PI + logvar + (x - mean).pow(2) * torch.exp(-logvar))


def pairwise_log_density(sample: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log q(z_i,d | x_j) for every pair of batch elements.

    Args:
        sample: z, shape (B, D).
        mean, logvar: Posterior parameters, shape (B, D).

    Returns:
        Shape (B, B, D): entry [i, j, d] is log N(z[i, d]; mean[j, d], exp(logvar[j, d])).
    """
    return log_density_gaussian(sample.unsqueeze(1), mean.unsqueeze(0), logvar.unsqueeze(0))


def log_stratified_weights(batch_size: int, n_data: int, dtype: torch.dtype = torch.float32,
                           device: torch.device | str | None = None) -> torch.Tensor:
    """Log weights of minibatch stratified sampling (Chen et al. 2018, Appendix C.2).

    Row i estimates q(z_i) from the batch: weight 1/N for its own posterior (the
    diagonal), (N - M) / (N M) for one other element (here the next one, cyclically)
    and 1/M for the remaining M - 1, with M = B - 1. Each row sums to one.

    Args:
        batch_size: B (at least 2).
        n_data: N, the size of the training set.

    Returns:
        Shape (B, B).
    """
    if batch_size < 2:
        raise ValueError("minibatch stratified sampling needs a batch of at least 2")
    n, m = float(n_data), float(batch_size - 1)
    weights = torch.full((batch_size, batch_size), 1.0 / m, dtype=torch.float64)
    index = torch.arange(batch_size)
    weights[index, (index + 1) % batch_size] = (n - m) / (n * m)
    weights[index, index] = 1.0 / n
    return weights.log().to(dtype=dtype, device=device)


def estimate_log_qz(sample: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, n_data: int,
                    sampling: str = "mss") -> tuple[torch.Tensor, torch.Tensor]:
    """Mini-batch estimates of log q(z) and log prod_d q(z_d) (Chen et al. 2018).

    Chen, R. T. Q., Li, X., Grosse, R., Duvenaud, D. "Isolating Sources of
    Disentanglement in Variational Autoencoders." NeurIPS 2018.

    The log importance weight of each pair enters the joint log q(z) once and each
    marginal log q(z_d) once.

    Args:
        sample: z, shape (B, D), drawn from q(z|x) of the same batch.
        mean, logvar: Posterior parameters, shape (B, D).
        n_data: N, the size of the training set.
        sampling: ``mss`` (minibatch stratified sampling) or ``mws`` (minibatch
            weighted sampling, weight 1 / (N B) for every pair).

    Returns:
        (log_qz, log_prod_qzi), each of shape (B,).
    """
    batch_size = sample.shape[0]
    mat = pairwise_log_density(sample, mean, logvar)  # (B, B, D)
    if sampling == "mss":
        log_w = log_stratified_weights(batch_size, n_data, mat.dtype, mat.device)
        log_qz = torch.logsumexp(mat.sum(dim=2) + log_w, dim=1)
        log_prod_qzi = torch.logsumexp(mat + log_w.unsqueeze(2), dim=1).sum(dim=1)
    elif sampling == "mws":
        log_norm = math.log(batch_size * n_data)
        log_qz = torch.logsumexp(mat.sum(dim=2), dim=1) - log_norm
        log_prod_qzi = (torch.logsumexp(mat, dim=1) - log_norm).sum(dim=1)
    else:
        raise UnknownNameError("btcvae sampling", sampling, SAMPLINGS)
    return log_qz, log_prod_qzi


def permute_dims(sample: torch.Tensor) -> torch.Tensor:
    """Shuffle each latent dimension independently across the batch (Kim & Mnih 2018, Alg. 1).

    Args:
        sample: z, shape (B, D).

    Returns:
        Shape (B, D): column d is a random permutation of sample[:, d].
    """
    order = torch.rand(sample.shape, device=sample.device).argsort(dim=0)
    return torch.gather(sample, 0, order)
