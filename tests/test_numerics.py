"""Every log, exp, division and logsumexp of the losses, estimators, metrics and traversals at its edges.

Each operation is checked for a finite value AND a finite gradient at the ends of
its valid input range: saturated pixels (sigmoid exactly 0 or 1 in float32),
log-variances of -60 and +60, bfloat16 inputs, single-image batches and codes that
do not vary; values are compared with float64 formulas where they are finite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from dvae_cli.engine.losses._terms import (estimate_log_qz, kl_normal_per_dim, log_density_gaussian,
                                          log_stratified_weights, reconstruction_loss)
from dvae_cli.engine.models import VAEOutput, build_model
from dvae_cli.losses import get_loss, loss_names
from dvae_cli.metrics.entropy import mixture_entropy, mixture_entropy_exact
from dvae_cli.viz.traversals import traversal_range

REC_DISTS = ("bernoulli", "gaussian", "laplace")
EDGE_LOGVARS = (-60.0, 60.0)


def finite_value_and_grad(value: torch.Tensor, *inputs: torch.Tensor) -> None:
    assert torch.isfinite(value).all(), value
    grads = torch.autograd.grad(value.sum(), inputs, allow_unused=True)
    for grad in grads:
        assert grad is not None and torch.isfinite(grad).all(), grad


# ---------------------------------------------------------------- reconstruction


@pytest.mark.parametrize("dist", REC_DISTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_reconstruction_is_finite_when_pixels_saturate(dist, dtype):
    # logits of +-200 round to a sigmoid of exactly 1.0 and 0.0 in float32
    logits = torch.tensor([[[[200.0, -200.0], [30.0, -110.0]]]], dtype=dtype).repeat(3, 1, 1, 1)
    assert torch.sigmoid(logits.float()).eq(1.0).any() and torch.sigmoid(logits.float()).eq(0.0).any()
    x = torch.tensor([0.0, 1.0, 0.5]).view(3, 1, 1, 1).expand(3, 1, 2, 2).contiguous()
    logits.requires_grad_(True)
    finite_value_and_grad(reconstruction_loss(x, logits, dist), logits)


def test_bernoulli_takes_the_exact_value_where_the_sigmoid_saturates():
    logits = torch.tensor([200.0, -200.0, 17.0, -104.0]).view(1, 1, 2, 2)
    x = torch.tensor([0.0, 1.0, 0.0, 1.0]).view(1, 1, 2, 2)
    l64, x64 = logits.double(), x.double()
    exact = (torch.clamp(l64, min=0) - l64 * x64 + torch.log1p(torch.exp(-l64.abs()))).sum().item()
    assert reconstruction_loss(x, logits, "bernoulli").item() == pytest.approx(exact, rel=1e-6)


@pytest.mark.parametrize("dist", REC_DISTS)
def test_reconstruction_equals_the_references_formula_away_from_saturation(dist):
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 8, 8, generator=generator)
    probabilities = torch.rand(4, 3, 8, 8, generator=generator, dtype=torch.float64) * 0.998 + 0.001
    logits = torch.log(probabilities) - torch.log1p(-probabilities)
    # disentangling-vae's _reconstruction_loss on sigmoid outputs, float64
    if dist == "bernoulli":
        reference = F.binary_cross_entropy(probabilities, x.double(), reduction="sum")
    elif dist == "gaussian":
        reference = F.mse_loss(probabilities * 255, x.double() * 255, reduction="sum") / 255
    else:
        reference = F.l1_loss(probabilities, x.double(), reduction="sum") * 3
    assert reconstruction_loss(x, logits.float(), dist).item() == pytest.approx(reference.item() / 4, rel=1e-5)


def test_reconstruction_in_bf16_autocast_is_computed_in_float32():
    model = build_model((1, 32, 32), 4)
    x = (torch.rand(4, 1, 32, 32) > 0.5).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
        assert out.logits.dtype == torch.bfloat16
        value = reconstruction_loss(x, out.logits, "bernoulli")
    assert value.dtype == torch.float32
    value.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("loss_name", loss_names())
@pytest.mark.parametrize("dist", REC_DISTS)
def test_every_loss_has_finite_gradients_through_a_saturated_decoder(loss_name, dist):
    """A decoder whose every pixel is exactly 0 or 1 in float32: the case that made training NaN."""
    torch.manual_seed(0)
    model = build_model((1, 32, 32), 4)
    with torch.no_grad():
        model.decoder.convT3.bias.fill_(150.0)      # sigmoid == 1.0 on a black image: the worst case
    x = torch.zeros(8, 1, 32, 32)
    x[:, :, 10:20, 10:20] = 1.0
    with torch.no_grad():
        assert model(x).reconstruction.eq(1.0).all()
    loss = get_loss(loss_name, rec_dist=dist, n_data=100, latent_dim=4)
    result = loss(model, x, 5)
    result.loss.backward()
    assert all(torch.isfinite(v).all() for v in result.terms.values())
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    if dist == "bernoulli":   # the gradient is informative, not just finite: it pushes the logits down
        assert model.decoder.convT3.bias.grad.item() > 0


# ---------------------------------------------------------------- KL and Gaussian densities


@pytest.mark.parametrize("logvar_value", EDGE_LOGVARS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kl_is_finite_at_extreme_log_variances(logvar_value, dtype):
    mean = torch.tensor([[0.0, 3.0], [-1e3, 1e-3]], dtype=dtype, requires_grad=True)
    logvar = torch.full((2, 2), logvar_value, dtype=dtype, requires_grad=True)
    kl = kl_normal_per_dim(mean, logvar)
    finite_value_and_grad(kl, mean, logvar)
    m, lv = mean.detach().double(), logvar.detach().double()
    expected = (0.5 * (-1 - lv + m ** 2 + lv.exp())).mean(dim=0)
    np.testing.assert_allclose(kl.detach().double().numpy(), expected.numpy(), rtol=1e-5)


def test_kl_near_zero_has_no_cancellation():
    logvar = torch.tensor([[1e-4]])
    # exp(1e-4) - 1 - 1e-4 = 5.0002e-9; the naive float32 form loses every digit of it
    assert kl_normal_per_dim(torch.zeros(1, 1), logvar).item() == pytest.approx(0.5 * 5.00016667e-9, rel=1e-4)


@pytest.mark.parametrize("logvar_value", EDGE_LOGVARS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gaussian_log_density_is_finite_at_extreme_log_variances(logvar_value, dtype):
    x = torch.tensor([0.0, 1.0, -5.0, 1e3], dtype=dtype, requires_grad=True)
    mean = torch.tensor([0.0, 0.5, 2.0, -1e3], dtype=dtype, requires_grad=True)
    logvar = torch.full((4,), logvar_value, dtype=dtype, requires_grad=True)
    value = log_density_gaussian(x, mean, logvar)
    finite_value_and_grad(value, x, mean, logvar)
    x64, m64, lv64 = x.detach().double(), mean.detach().double(), logvar.detach().double()
    expected = -0.5 * (math.log(2 * math.pi) + lv64 + (x64 - m64) ** 2 / lv64.exp())
    np.testing.assert_allclose(value.detach().double().numpy(), expected.numpy(), rtol=1e-5)


# ---------------------------------------------------------------- q(z) estimators


def _codes(batch: int, dim: int, logvar_value: float | None, dtype: torch.dtype, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    mean = torch.randn(batch, dim, generator=generator)
    logvar = (torch.randn(batch, dim, generator=generator) if logvar_value is None
              else torch.full((batch, dim), logvar_value))
    sample = mean + torch.exp(0.5 * logvar) * torch.randn(batch, dim, generator=generator)
    return [t.to(dtype).requires_grad_(True) for t in (sample, mean, logvar)]


@pytest.mark.parametrize("sampling", ["mss", "mws"])
@pytest.mark.parametrize("batch", [1, 2, 64])
@pytest.mark.parametrize("logvar_value", [*EDGE_LOGVARS, None])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_qz_estimators_are_finite_at_the_edges(sampling, batch, logvar_value, dtype):
    sample, mean, logvar = _codes(batch, 10, logvar_value, dtype)
    log_qz, log_prod = estimate_log_qz(sample, mean, logvar, n_data=10_000, sampling=sampling)
    assert log_qz.dtype == torch.float32
    finite_value_and_grad(log_qz + log_prod, sample, mean, logvar)


@pytest.mark.parametrize("sampling", ["mss", "mws"])
def test_a_single_image_batch_estimates_q_z_from_its_own_posterior(sampling):
    sample, mean, logvar = (t.detach() for t in _codes(1, 3, None, torch.float64))
    log_qz, log_prod = estimate_log_qz(sample, mean, logvar, n_data=500, sampling=sampling)
    own = log_density_gaussian(sample, mean, logvar)
    assert log_qz.item() == pytest.approx(own.sum().item() - math.log(500))
    assert log_prod.item() == pytest.approx(own.sum().item() - 3 * math.log(500))


def test_stratified_weights_stay_valid_when_the_batch_exceeds_the_training_set():
    weights = log_stratified_weights(8, 5, torch.float64)
    assert torch.isfinite(weights).all()
    np.testing.assert_allclose(weights.exp().sum(dim=1).numpy(), 1.0, rtol=1e-12)


@pytest.mark.parametrize("logvar_value", EDGE_LOGVARS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_btcvae_loss_is_finite_in_value_and_gradient_at_extreme_log_variances(logvar_value, dtype):
    sample, mean, logvar = _codes(16, 10, logvar_value, dtype)
    logits = torch.zeros(16, 1, 4, 4, dtype=dtype, requires_grad=True)
    x = torch.rand(16, 1, 4, 4)
    loss = get_loss("btcvae", n_data=1000, reg_anneal=0)
    result = loss.compute(x, VAEOutput(logits, mean, logvar, sample), 3)
    finite_value_and_grad(result.loss, logits, sample, mean, logvar)
    assert all(torch.isfinite(v).all() for v in result.terms.values())


def test_factor_density_ratio_is_finite_for_huge_codes():
    loss = get_loss("factor", latent_dim=4)
    z = torch.full((6, 4), 1e13, requires_grad=True)   # a sample of logvar = +60
    tc = loss._tc_with_frozen_discriminator(z)
    finite_value_and_grad(tc, z)
    disc = loss._discriminator_loss(z.detach(), -z.detach())
    assert torch.isfinite(disc)


# ---------------------------------------------------------------- metrics' entropy estimator


@pytest.mark.parametrize("case", ["collapsed", "wide", "mixed", "identical"])
def test_mixture_entropy_is_finite_and_exact_for_degenerate_codes(case):
    generator = torch.Generator().manual_seed(0)
    n = 3000
    mean = torch.rand(n, generator=generator, dtype=torch.float64) * 2 - 1
    logvar = {"collapsed": torch.full((n,), -60.0, dtype=torch.float64),
              "wide": torch.full((n,), 60.0, dtype=torch.float64),
              "mixed": torch.where(torch.arange(n) % 2 == 0, -60.0, -59.99).double(),
              "identical": torch.full((n,), -60.0, dtype=torch.float64)}[case]
    if case == "identical":
        mean = torch.full((n,), 0.25, dtype=torch.float64)       # a code that does not vary at all
    samples = (mean + torch.exp(0.5 * logvar) * torch.randn(n, generator=generator, dtype=torch.float64))[:800]
    merged = mixture_entropy(mean, logvar, samples)
    exact = mixture_entropy_exact(mean, logvar, samples)
    assert math.isfinite(merged) and math.isfinite(exact)
    assert merged == pytest.approx(exact, abs=1e-3)


# ---------------------------------------------------------------- quantile traversals


def test_quantile_traversal_of_a_posterior_whose_std_underflowed():
    assert traversal_range(0.45, mean=0.3, std=0.0) == (0.3, 0.3)
    low, high = traversal_range(0.45, mean=1.0, std=math.exp(30))
    assert math.isfinite(low) and math.isfinite(high) and low < 1 < high
    low, high = traversal_range(0.45)
    assert low == pytest.approx(-1.6448536, rel=1e-6) and high == pytest.approx(1.6448536, rel=1e-6)
    with pytest.raises(ValueError, match="std"):
        traversal_range(0.45, std=math.inf)


def test_posterior_traversal_of_an_image_with_extreme_log_variances():
    from dvae_cli.viz.traversals import traversal_codes

    torch.manual_seed(0)
    model = build_model((1, 32, 32), 4).eval()
    with torch.no_grad():   # the head's log-variances: two at -200 (std 0 in float32), two at +60
        head = model.encoder.mu_logvar_gen
        head.weight[1::2].zero_()
        head.bias[1::2] = torch.tensor([-200.0, -200.0, 60.0, 60.0])
    codes = traversal_codes(model, range(4), 5, 0.45, image=torch.rand(1, 1, 32, 32),
                            generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(codes).all()
    assert torch.equal(codes[0, 0], codes[4, 0])          # std 0: a sweep of width 0
