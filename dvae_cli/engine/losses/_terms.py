"""The pieces the losses are built from: reconstruction, KL, annealing, q(z) estimators.

Shapes: B is the batch size, D the latent dimension, C/H/W the image shape.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from dvae_cli.errors import ConfigError, UnknownNameError

REC_DISTS = ("bernoulli", "laplace", "gaussian")
SAMPLINGS = ("mss", "mws")
_LOG_2PI = math.log(2 * math.pi)


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` in float32 if it is in a lower precision (bfloat16, float16), else unchanged.

    The losses compute in float32 (or float64 when given it) whatever precision the
    forward pass ran in: bfloat16 keeps 8 bits of mantissa, too few for log
    densities that are compared across a batch.
    """
    return tensor.float() if tensor.is_floating_point() and tensor.element_size() < 4 else tensor


def reconstruction_loss(x: torch.Tensor, logits: torch.Tensor, rec_dist: str = "bernoulli") -> torch.Tensor:
    """Negative log-likelihood of the images (nats for ``bernoulli``), summed over pixels, mean over the batch.

    disentangling-vae's ``_reconstruction_loss`` (same values wherever its sigmoid
    output is not saturated), computed from the decoder's logits so that the value
    and the gradient stay finite for every finite logit, in float32 and bfloat16:

    - ``bernoulli``: binary cross-entropy, ``binary_cross_entropy_with_logits``
      (``max(l, 0) - l x + log(1 + exp(-|l|))``), where the reference's
      ``BCE(sigmoid(l))`` clamps each log at -100 and gives a NaN gradient
      (0 x 1/0) once a pixel's sigmoid rounds to exactly 0 or 1;
    - ``gaussian``: ``255 * sum((sigmoid(l) - x)^2)``, i.e. the MSE in [0, 255]
      scaled back by 255;
    - ``laplace``: ``3 * sum(|sigmoid(l) - x|)`` (3 makes its values comparable to
      the Bernoulli loss so that the same weights can be used).

    Args:
        x: Images in [0, 1], shape (B, C, H, W).
        logits: Pixel logits of the reconstructions, shape (B, C, H, W).
        rec_dist: ``bernoulli``, ``gaussian`` or ``laplace``.

    Returns:
        A scalar tensor (float32 or float64).

    Raises:
        UnknownNameError: for any other `rec_dist`.
    """
    batch_size = x.shape[0]
    logits = at_least_float32(logits)
    x = x.to(logits.dtype)
    if rec_dist == "bernoulli":
        total = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    elif rec_dist == "gaussian":
        total = 255.0 * F.mse_loss(torch.sigmoid(logits), x, reduction="sum")
    elif rec_dist == "laplace":
        total = 3.0 * F.l1_loss(torch.sigmoid(logits), x, reduction="sum")
    else:
        raise UnknownNameError("rec-dist", rec_dist, REC_DISTS)
    return total / batch_size


def kl_normal_per_dim(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z_d|x) || N(0, 1)) in nats for each latent dimension, averaged over the batch.

    Kingma & Welling 2014, Appendix B: ``0.5 * (mean^2 + exp(logvar) - 1 - logvar)``,
    written with ``expm1`` (exact near logvar = 0, where ``exp(logvar) - 1`` cancels).
    Finite in value and gradient for logvar up to 88 in float32 (inputs in lower
    precision are computed in float32).

    Args:
        mean, logvar: Posterior parameters, shape (B, D).

    Returns:
        Shape (D,).
    """
    mean, logvar = at_least_float32(mean), at_least_float32(logvar)
    return 0.5 * (mean.square() + torch.expm1(logvar) - logvar).mean(dim=0)


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
    """Elementwise log N(x; mean, exp(logvar)) in nats (all arguments broadcast).

    The squared distance is scaled before it is squared,
    ``((x - mean) * exp(-logvar / 2))^2``, so ``exp(-logvar)`` never overflows on
    its own (it does in float32 below logvar = -88); value and gradient are finite
    for logvar in [-170, 88] in float32. Inputs in bfloat16/float16 are computed in
    float32.
    """
    x, mean, logvar = at_least_float32(x), at_least_float32(mean), at_least_float32(logvar)
    scaled = (x - mean) * torch.exp(-0.5 * logvar)
    return -0.5 * (_LOG_2PI + logvar + scaled.square())


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
    and 1/M for the remaining M - 1, with M = B - 1. Each row sums to one. A batch
    of one image has only its own posterior: weight 1/N (the same as ``mws``). N is
    taken as at least B (a batch larger than the training set, e.g. evaluating on
    another dataset, would give the second weight a negative value).

    Args:
        batch_size: B (>= 1).
        n_data: N, the size of the training set.

    Returns:
        Shape (B, B).

    Raises:
        ConfigError: if B < 1.
    """
    if batch_size < 1:
        raise ConfigError(f"minibatch stratified sampling needs a batch of at least 1, got {batch_size}")
    n, m = float(max(n_data, batch_size)), float(batch_size - 1)
    if batch_size == 1:
        return torch.full((1, 1), -math.log(n), dtype=dtype, device=device)
    weights = torch.full((batch_size, batch_size), 1.0 / m, dtype=torch.float64)
    index = torch.arange(batch_size)
    weights[index, (index + 1) % batch_size] = (n - m) / (n * m)
    weights[index, index] = 1.0 / n
    return weights.log().to(dtype=dtype, device=device)


def estimate_log_qz(sample: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, n_data: int,
                    sampling: str = "mss") -> tuple[torch.Tensor, torch.Tensor]:
    """Mini-batch estimates of log q(z) and log prod_d q(z_d) in nats (Chen et al. 2018).

    Chen, R. T. Q., Li, X., Grosse, R., Duvenaud, D. "Isolating Sources of
    Disentanglement in Variational Autoencoders." NeurIPS 2018, Section 3 and
    Appendix C.

    The log importance weight of each pair enters the joint log q(z) once and each
    marginal log q(z_d) once. Every sum over the batch is a ``logsumexp``, and the
    diagonal (each sample under its own posterior) keeps each row finite, so value
    and gradient are finite over the range of `log_density_gaussian`. Computed in
    float32 at least.

    Args:
        sample: z, shape (B, D), drawn from q(z|x) of the same batch.
        mean, logvar: Posterior parameters, shape (B, D).
        n_data: N, the size of the training set.
        sampling: ``mss`` (minibatch stratified sampling) or ``mws`` (minibatch
            weighted sampling, weight 1 / (N B) for every pair).

    Returns:
        (log_qz, log_prod_qzi), each of shape (B,).

    Raises:
        UnknownNameError: for another `sampling`.
    """
    batch_size = sample.shape[0]
    mat = pairwise_log_density(sample, mean, logvar)  # (B, B, D)
    if sampling == "mss":
        log_w = log_stratified_weights(batch_size, n_data, mat.dtype, mat.device)
        log_qz = torch.logsumexp(mat.sum(dim=2) + log_w, dim=1)
        log_prod_qzi = torch.logsumexp(mat + log_w.unsqueeze(2), dim=1).sum(dim=1)
    elif sampling == "mws":
        log_norm = math.log(batch_size * max(n_data, batch_size))
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
