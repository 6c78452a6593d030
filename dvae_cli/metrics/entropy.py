"""Entropy of one latent dimension under the aggregate posterior, estimated as Chen et al. 2018.

Chen, R. T. Q., Li, X., Grosse, R., Duvenaud, D. "Isolating Sources of
Disentanglement in Variational Autoencoders." NeurIPS 2018 (Section 5, MIG).

H(z_j) = E_{q(z_j)}[-log q(z_j)] with q(z_j) = 1/N sum_n q(z_j | x_n), a mixture of N
Gaussians, estimated by Monte-Carlo over posterior samples z_j ~ q(z_j | x_n). The
mixture density at each sample is evaluated to about 1e-4 nats (far below the
Monte-Carlo error of 1e4 samples) by two exact-in-the-limit reductions:

- components whose (mean, log std) fall in the same cell of a fine grid (mean step
  0.01 std, log-std step 0.005) are merged into one Gaussian with the same weight,
  mean and variance (a dimension collapsed to the prior becomes a few hundred cells);
- log q is evaluated exactly on every 8th sorted sample and interpolated in between,
  except where a midpoint check shows an interpolation error above `TOLERANCE`, where
  every sample is evaluated exactly;
- components farther than `WINDOW` (9) standard deviations from a point, which weigh
  less than exp(-40) of their peak, are skipped (components sorted by mean per octave
  of standard deviation, so each block of sorted points meets a contiguous slice).
"""

from __future__ import annotations

import math

import torch

MEAN_STEP = 0.01        # cell width of the means, in units of the cell's std
LOG_STD_STEP = 0.005    # cell width of log std
STRIDE = 8              # exact evaluation on every STRIDE-th sorted sample ...
TOLERANCE = 1e-4        # ... while interpolation stays within this many nats
WINDOW = 9.0            # components farther than WINDOW std from a point are left out
_LOG_2PI = math.log(2 * math.pi)


def merge_components(mean: torch.Tensor, logvar: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Merge near-identical 1-D Gaussians, matching each cell's weight, mean and variance.

    Args:
        mean, logvar: Component parameters, shape (n,).

    Returns:
        (weights, means, variances) of the merged components, each (c,), c <= n;
        the weights sum to n.
    """
    mean, logvar = mean.double(), logvar.double()
    log_std = 0.5 * logvar
    std_cell = torch.floor(log_std / LOG_STD_STEP)
    cell_std = torch.exp((std_cell + 0.5) * LOG_STD_STEP)
    # cells as (std cell, mean cell) pairs: a single packed integer collides once a
    # tiny std makes the mean cell index large (logvar -60: 1e15 cells per unit mean)
    mean_cell = torch.floor(mean / (MEAN_STEP * cell_std)).clamp(-2.0 ** 62, 2.0 ** 62)
    key = torch.stack([std_cell.long(), mean_cell.long()], dim=1)
    _, inverse, counts = torch.unique(key, dim=0, return_inverse=True, return_counts=True)
    weights = counts.double()
    sums = torch.zeros(len(counts), 3, dtype=torch.float64, device=mean.device)
    sums.index_add_(0, inverse, torch.stack([mean, mean * mean, torch.exp(logvar)], dim=1))
    means = sums[:, 0] / weights
    variances = sums[:, 2] / weights + (sums[:, 1] / weights - means * means).clamp(min=0)
    return weights, means, variances


def log_mixture(points: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, variances: torch.Tensor,
                block_points: int = 256, block_components: int = 8192,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """log sum_c w_c N(x; m_c, v_c) at each point (blocked log-sum-exp).

    Components are grouped by standard deviation (octaves) and sorted by mean; a
    block of sorted points only meets the components of each group whose mean lies
    within `WINDOW` of that group's largest standard deviation (the others weigh
    less than exp(-WINDOW^2 / 2) of their peak).

    Args:
        points: x, shape (m,).
        weights, means, variances: the mixture, each (c,).
        dtype: Precision of the pairwise terms (float32: about 1e-6 relative).

    Returns:
        Shape (m,), float64, in the order of `points`.
    """
    sorted_points, order = torch.sort(points.double())
    std = torch.sqrt(variances)
    octave = torch.floor(torch.log2(std))
    out = torch.full((len(points),), -math.inf, dtype=torch.float64, device=points.device)
    magnitude = float(max(sorted_points.abs().max(), means.abs().max())) if len(points) else 0.0
    for level in torch.unique(octave).tolist():
        members = torch.nonzero(octave == level).flatten()
        centres, rank = torch.sort(means[members])
        members = members[rank]
        reach = WINDOW * float(std[members].max())
        # x - m must resolve a small fraction of the std: float32's rounding of the
        # points themselves (2^-24 of their magnitude) can exceed a collapsed code's std
        level_dtype = dtype if magnitude * 2.0 ** -24 < 1e-4 * float(std[members].min()) else torch.float64
        inv_std = torch.rsqrt(variances[members]).to(level_dtype)
        offset = (torch.log(weights[members]) - 0.5 * torch.log(variances[members])
                  - 0.5 * _LOG_2PI).to(level_dtype)
        centres_d = centres.to(level_dtype)
        for start in range(0, len(sorted_points), block_points):
            x = sorted_points[start:start + block_points]
            lo = int(torch.searchsorted(centres, x[0] - reach))
            hi = int(torch.searchsorted(centres, x[-1] + reach, right=True))
            if hi <= lo:
                continue
            xd = x.to(level_dtype)
            total = out[start:start + block_points]
            for c0 in range(lo, hi, block_components):
                c1 = min(hi, c0 + block_components)
                block = (xd[:, None] - centres_d[None, c0:c1]).mul_(inv_std[c0:c1])
                block = block.square_().mul_(-0.5).add_(offset[c0:c1])
                top = block.amax(dim=1, keepdim=True)
                # a row whose every term underflowed to -inf adds nothing (and no NaN)
                top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
                partial = block.sub_(top).exp_().sum(dim=1).double().log_().add_(top[:, 0].double())
                total = torch.logaddexp(total, partial)
            out[start:start + block_points] = total
    return torch.empty_like(out).scatter_(0, order, out)


def log_mixture_at_samples(samples: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
                           variances: torch.Tensor) -> torch.Tensor:
    """`log_mixture` at many samples: exact on a subset, interpolated where that is accurate.

    Args:
        samples: Points, shape (s,).

    Returns:
        log densities, shape (s,), float64, in the order of `samples`.
    """
    count = len(samples)
    values, order = torch.sort(samples.double())
    if count <= 4 * STRIDE:
        exact = log_mixture(values, weights, means, variances)
        return torch.empty_like(exact).scatter_(0, order, exact)
    knots = torch.unique(torch.cat([torch.arange(0, count, STRIDE, device=samples.device),
                                    torch.tensor([count - 1], device=samples.device)]))
    mids = (knots[:-1] + knots[1:]) // 2
    evaluated = torch.cat([knots, mids])
    result = torch.full((count,), float("nan"), dtype=torch.float64, device=samples.device)
    result[evaluated] = log_mixture(values[evaluated], weights, means, variances)
    # check: the value at each midpoint against the interpolation between its two knots
    left, right = knots[:-1], knots[1:]
    span = values[right] - values[left]
    frac = torch.where(span > 0, (values[mids] - values[left]) / span, torch.zeros_like(span))
    guess = result[left] + frac * (result[right] - result[left])
    bad = (guess - result[mids]).abs() > TOLERANCE
    # interpolate over the knots and midpoints together
    nodes = torch.sort(evaluated).values
    position = torch.searchsorted(values[nodes].contiguous(), values, right=True).clamp(1, len(nodes) - 1)
    lo, hi = nodes[position - 1], nodes[position]
    width = values[hi] - values[lo]
    weight = torch.where(width > 0, (values - values[lo]) / width, torch.zeros_like(width))
    interpolated = result[lo] + weight * (result[hi] - result[lo])
    result = torch.where(torch.isnan(result), interpolated, result)
    # exact evaluation inside every interval that failed the check
    if bool(bad.any()):
        starts, stops = left[bad], right[bad]
        marks = torch.zeros(count + 1, dtype=torch.int64, device=samples.device)
        marks.index_add_(0, starts, torch.ones_like(starts))
        marks.index_add_(0, stops + 1, -torch.ones_like(stops))
        inside = marks.cumsum(0)[:count] > 0
        redo = torch.nonzero(inside).flatten()
        result[redo] = log_mixture(values[redo], weights, means, variances)
    return torch.empty_like(result).scatter_(0, order, result)


def mixture_entropy(mean: torch.Tensor, logvar: torch.Tensor, samples: torch.Tensor) -> float:
    """Monte-Carlo estimate of the entropy of the equal-weight mixture of N(mean_n, exp(logvar_n)).

    Args:
        mean, logvar: The mixture's components, shape (n,).
        samples: Draws from the mixture, shape (s,).

    Returns:
        -mean(log q(samples)) in nats.
    """
    weights, means, variances = merge_components(mean, logvar)
    log_q = log_mixture_at_samples(samples, weights, means, variances) - math.log(len(mean))
    return float(-log_q.mean())


def mixture_entropy_exact(mean: torch.Tensor, logvar: torch.Tensor, samples: torch.Tensor) -> float:
    """The same estimate without merging or interpolation (float64; for tests and checks)."""
    mean, var = mean.double(), torch.exp(logvar.double())
    log_q = log_mixture(samples.double(), torch.ones_like(mean), mean, var, dtype=torch.float64) \
        - math.log(len(mean))
    return float(-log_q.mean())
