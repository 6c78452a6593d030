"""Each loss against values computed independently (NumPy / explicit float64 loops)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dvae_cli.config import RunSpec
from dvae_cli.engine.losses._terms import (kl_normal_per_dim, linear_annealing,
                                          log_stratified_weights, permute_dims, reconstruction_loss)
from dvae_cli.engine.models import VAEOutput, build_model
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.losses import BtcvaeLoss, Loss, get_loss, loss_class, loss_names

B, D = 6, 3


@pytest.fixture()
def batch() -> tuple[torch.Tensor, VAEOutput]:
    generator = torch.Generator().manual_seed(7)
    x = torch.rand(B, 1, 4, 4, generator=generator)
    recon = torch.rand(B, 1, 4, 4, generator=generator) * 0.98 + 0.01
    logits = torch.log(recon) - torch.log1p(-recon)
    mean = torch.randn(B, D, generator=generator)
    logvar = torch.randn(B, D, generator=generator) * 0.5
    sample = mean + torch.exp(0.5 * logvar) * torch.randn(B, D, generator=generator)
    return x, VAEOutput(logits, mean, logvar, sample)


def np_kl(output: VAEOutput) -> np.ndarray:
    m, lv = output.mean.double().numpy(), output.logvar.double().numpy()
    return (0.5 * (-1 - lv + m ** 2 + np.exp(lv))).mean(axis=0)


def np_recon(x: torch.Tensor, logits: torch.Tensor, dist: str) -> float:
    """disentangling-vae's formulas on the sigmoid of the logits, in float64."""
    x, r = x.double().numpy(), 1 / (1 + np.exp(-logits.detach().double().numpy()))
    if dist == "bernoulli":
        total = -(x * np.log(r) + (1 - x) * np.log(1 - r)).sum()
    elif dist == "gaussian":
        total = 255 * ((r - x) ** 2).sum()
    else:
        total = 3 * np.abs(r - x).sum()
    return total / x.shape[0]


@pytest.mark.parametrize("dist", ["bernoulli", "gaussian", "laplace"])
def test_reconstruction_matches_numpy(batch, dist):
    x, out = batch
    assert reconstruction_loss(x, out.logits, dist).item() == pytest.approx(
        np_recon(x, out.logits, dist), rel=1e-5)


def test_reconstruction_rejects_unknown_distribution(batch):
    x, out = batch
    with pytest.raises(UnknownNameError, match="bernoulli"):
        reconstruction_loss(x, out.logits, "poisson")


def test_kl_per_dim_matches_numpy(batch):
    _, out = batch
    np.testing.assert_allclose(kl_normal_per_dim(out.mean, out.logvar).numpy(), np_kl(out), rtol=1e-5)


def test_linear_annealing_schedule():
    assert linear_annealing(0, 1, 1, 10) == pytest.approx(0.1)
    assert linear_annealing(0, 1, 5, 10) == pytest.approx(0.5)
    assert linear_annealing(0, 1, 50, 10) == 1
    assert linear_annealing(0, 1, 3, 0) == 1            # no annealing
    assert linear_annealing(0, 1, None, 10) == 1        # evaluation
    assert linear_annealing(10, 25, 4, 8) == pytest.approx(17.5)
    assert linear_annealing(30, 5, 2, 4) == pytest.approx(17.5)  # decreasing capacity works too


@pytest.mark.parametrize("name,beta", [("VAE", 1.0), ("betaH", 4.0)])
def test_beta_h_and_vae_anneal_the_kl(batch, name, beta):
    x, out = batch
    loss = get_loss(name, betaH_B=4, reg_anneal=10, rec_dist="bernoulli")
    rec, kl = np_recon(x, out.logits, "bernoulli"), np_kl(out)
    for step, weight in ((1, 0.1), (5, 0.5), (10, 1.0), (100, 1.0), (None, 1.0)):
        result = loss.compute(x, out, step)
        assert result.loss.item() == pytest.approx(rec + weight * beta * kl.sum(), rel=1e-5)
    result = loss.compute(x, out, 3)
    assert result.terms["loss"] is result.loss
    assert result.terms["kl_loss"].item() == pytest.approx(kl.sum(), rel=1e-5)
    for d in range(D):
        assert result.terms[f"kl_loss_{d}"].item() == pytest.approx(kl[d], rel=1e-5)
    assert set(result.terms) == {"loss", "recon_loss", "kl_loss", *[f"kl_loss_{d}" for d in range(D)]}


def test_beta_b_capacity_schedule(batch):
    x, out = batch
    loss = get_loss("betaB", betaB_initC=2, betaB_finC=12, betaB_G=100, reg_anneal=10, rec_dist="laplace")
    rec, kl = np_recon(x, out.logits, "laplace"), np_kl(out).sum()
    for step, capacity in ((1, 3.0), (5, 7.0), (20, 12.0), (None, 12.0)):
        result = loss.compute(x, out, step)
        assert result.terms["C"].item() == pytest.approx(capacity)
        assert result.loss.item() == pytest.approx(rec + 100 * abs(kl - capacity), rel=1e-5)


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(math.fsum(math.exp(v - top) for v in values))


def _log_normal(x: float, mean: float, logvar: float) -> float:
    return -0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 / math.exp(logvar))


def slow_tc_terms(z, mean, logvar, n_data, sampling):
    """MI, TC and dimension-wise KL of Chen et al. 2018 with explicit float64 loops."""
    z, mean, logvar = (t.double().tolist() for t in (z, mean, logvar))
    batch_size, dim = len(z), len(z[0])
    m = batch_size - 1
    mi, tc, dw = [], [], []
    for i in range(batch_size):
        if sampling == "mss":
            weights = [1.0 / m] * batch_size
            weights[(i + 1) % batch_size] = (n_data - m) / (n_data * m)
            weights[i] = 1.0 / n_data
        else:
            weights = [1.0 / (n_data * batch_size)] * batch_size
        log_qz = _logsumexp([math.log(weights[j]) + sum(_log_normal(z[i][d], mean[j][d], logvar[j][d])
                                                        for d in range(dim)) for j in range(batch_size)])
        log_prod = sum(_logsumexp([math.log(weights[j]) + _log_normal(z[i][d], mean[j][d], logvar[j][d])
                                   for j in range(batch_size)]) for d in range(dim))
        log_q_zx = sum(_log_normal(z[i][d], mean[i][d], logvar[i][d]) for d in range(dim))
        log_pz = sum(_log_normal(z[i][d], 0.0, 0.0) for d in range(dim))
        mi.append(log_q_zx - log_qz)
        tc.append(log_qz - log_prod)
        dw.append(log_prod - log_pz)
    return sum(mi) / batch_size, sum(tc) / batch_size, sum(dw) / batch_size


@pytest.mark.parametrize("sampling", ["mss", "mws"])
def test_btcvae_terms_match_explicit_loops(batch, sampling):
    x, out = batch
    loss = get_loss("btcvae", n_data=1000, btcvae_A=1.5, btcvae_B=6, btcvae_G=2, btcvae_sampling=sampling,
                      reg_anneal=4)
    result = loss.compute(x, out, 2)
    mi, tc, dw = slow_tc_terms(out.sample, out.mean, out.logvar, 1000, sampling)
    assert result.terms["mi_loss"].item() == pytest.approx(mi, rel=1e-4, abs=1e-4)
    assert result.terms["tc_loss"].item() == pytest.approx(tc, rel=1e-4, abs=1e-4)
    assert result.terms["dw_kl_loss"].item() == pytest.approx(dw, rel=1e-4, abs=1e-4)
    rec = np_recon(x, out.logits, "bernoulli")
    expected = rec + 1.5 * mi + 6 * tc + 0.5 * 2 * dw   # a = 2/4 anneals the dimension-wise KL only
    assert result.loss.item() == pytest.approx(expected, rel=1e-4)
    assert result.terms["kl_loss"].item() == pytest.approx(np_kl(out).sum(), rel=1e-5)


def test_mss_weights_rows_sum_to_one_with_the_documented_entries():
    weights = log_stratified_weights(5, 100, torch.float64).exp()
    np.testing.assert_allclose(weights.sum(dim=1).numpy(), 1.0, rtol=1e-12)
    m = 4
    for i in range(5):
        assert weights[i, i].item() == pytest.approx(1 / 100)
        assert weights[i, (i + 1) % 5].item() == pytest.approx((100 - m) / (100 * m))
        others = [weights[i, j].item() for j in range(5) if j not in (i, (i + 1) % 5)]
        assert others == pytest.approx([1 / m] * 3)


def test_mss_gives_zero_mi_tc_and_dw_kl_when_every_posterior_is_the_prior():
    """q(z|x) = N(0, I) for all x means q(z) = p(z) = prod q(z_d): every term is exactly 0.

    (disentangling-vae adds the log weight once per dimension to the joint, which
    shifts its MI and TC by about (D - 1) log(B - 1) on this input.)
    """
    torch.manual_seed(0)
    batch_size, dim = 64, 10
    zeros = torch.zeros(batch_size, dim, dtype=torch.float64)
    z = torch.randn(batch_size, dim, dtype=torch.float64)
    loss = get_loss("btcvae", n_data=10_000, btcvae_sampling="mss")
    x = torch.full((batch_size, 1, 2, 2), 0.5, dtype=torch.float64)
    result = loss.compute(x, VAEOutput(torch.zeros_like(x), zeros, zeros, z), None)
    for key in ("mi_loss", "tc_loss", "dw_kl_loss"):
        assert abs(result.terms[key].item()) < 1e-9, key


def test_permute_dims_permutes_each_column():
    z = torch.arange(40.0).view(10, 4)
    permuted = permute_dims(z)
    for d in range(4):
        assert sorted(permuted[:, d].tolist()) == z[:, d].tolist()


def _tiny_vae():
    torch.manual_seed(3)
    return build_model((1, 32, 32), latent_dim=4)


def test_factor_loss_terms_on_fixed_inputs():
    model = _tiny_vae()
    loss = get_loss("factor", latent_dim=4, factor_G=3.0, lr_disc=1e-3, reg_anneal=10)
    x = torch.rand(8, 1, 32, 32)
    torch.manual_seed(5)
    result = loss(model, x, step=4)
    torch.manual_seed(5)
    out = model(x[:4])   # same noise: the loss ran the first half first
    logits = loss.discriminator(out.sample)
    tc = (logits[:, 0] - logits[:, 1]).mean().item()
    rec = np_recon(x[:4], out.logits.detach(), "bernoulli")
    kl = np_kl(VAEOutput(out.logits.detach(), out.mean.detach(), out.logvar.detach(), out.sample))
    assert result.terms["tc_loss"].item() == pytest.approx(tc, rel=1e-5)
    assert result.loss.item() == pytest.approx(rec + kl.sum() + 0.4 * 3.0 * tc, rel=1e-5)
    assert result.batch_size == 4
    assert result.auxiliary_inputs["z_perm"].shape == (4, 4)
    assert not result.auxiliary_inputs["z_real"].requires_grad


def test_factor_discriminator_update_does_not_touch_vae_gradients():
    model = _tiny_vae()
    loss = get_loss("factor", latent_dim=4, factor_G=6.0, lr_disc=1e-3)
    x = torch.rand(8, 1, 32, 32)
    result = loss(model, x, step=1)
    result.loss.backward()
    assert all(p.grad is None for p in loss.discriminator.parameters()), "VAE loss trained the discriminator"
    vae_grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    disc_before = {name: p.detach().clone() for name, p in loss.discriminator.named_parameters()}
    terms = loss.update_auxiliary(result)
    assert set(terms) == {"discrim_loss"} and math.isfinite(terms["discrim_loss"].item())
    for name, p in model.named_parameters():
        assert torch.equal(p.grad, vae_grads[name]), f"discriminator update changed the VAE gradient of {name}"
    changed = [name for name, p in loss.discriminator.named_parameters() if not torch.equal(p, disc_before[name])]
    assert changed, "the discriminator was not updated"


def test_factor_evaluation_without_gradients_gives_the_terms_of_the_gradient_path():
    """Under no_grad one discriminator pass serves the TC and the discriminator loss: same values."""
    model = _tiny_vae().eval()
    loss = get_loss("factor", latent_dim=4, factor_G=3.0)
    x = torch.rand(6, 1, 32, 32)
    torch.manual_seed(11)
    with_grad = loss(model, x, None)
    assert with_grad.loss.requires_grad
    torch.manual_seed(11)   # the same permutation of the codes
    with torch.no_grad():
        without = loss(model, x, None)
    assert set(without.terms) == set(with_grad.terms) >= {"tc_loss", "discrim_loss"}
    for key, value in with_grad.terms.items():
        assert torch.equal(without.terms[key], value.detach()), key
    with torch.no_grad():
        logits = loss.discriminator(model.encoder(x)[0]).double()   # eval mode: the codes are the means
    assert without.terms["tc_loss"].item() == pytest.approx((logits[:, 0] - logits[:, 1]).mean().item(), rel=1e-6)


def test_factor_evaluation_without_discriminator_leaves_tc_out():
    model = _tiny_vae().eval()
    loss = get_loss("factor", latent_dim=4)
    loss.use_discriminator = False
    result = loss(model, torch.rand(5, 1, 32, 32), None)
    assert "tc_loss" not in result.terms and "discrim_loss" not in result.terms
    assert result.loss.item() == pytest.approx((result.terms["recon_loss"] + result.terms["kl_loss"]).item())


def test_get_loss_takes_spec_names_and_rejects_typos():
    spec = RunSpec(loss="btcvae", btcvae_B=9, n_train=500)
    loss = get_loss(spec.loss, **spec.to_dict())
    assert isinstance(loss, BtcvaeLoss) and loss.beta == 9 and loss.n_data == 500
    assert get_loss("betaH", betaH_B=7).beta == 7
    assert get_loss("factor", factor_G=2, latent_dim=6).discriminator.lin1.in_features == 6
    with pytest.raises(ConfigError, match="betaH_b"):
        get_loss("betaH", betaH_b=3)
    with pytest.raises(UnknownNameError, match="did you mean 'btcvae'"):
        get_loss("btcvea")
    assert list(loss_names())[:5] == ["VAE", "betaH", "betaB", "factor", "btcvae"]
    assert all(issubclass(loss_class(name), Loss) for name in loss_names())
