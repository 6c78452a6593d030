"""DIP-VAE (Kumar et al. 2018): the loss against a float64 NumPy reference, its edges, and real runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import run_dvae
from tiny_runs import TINY

from dvae_cli.config import RunSpec, resolve_run
from dvae_cli.engine.losses.dip import MAX_COVARIANCE_LOGVAR, dip_covariance
from dvae_cli.engine.models import VAEOutput, build_model
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.losses import get_loss
from dvae_cli.runs.logs import read_train_log

DIP_TYPES = ("i", "ii")


def random_output(batch: int, dim: int, seed: int, scale: float = 1.0) -> tuple[torch.Tensor, VAEOutput]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, 1, 4, 4, generator=generator)
    logits = torch.randn(batch, 1, 4, 4, generator=generator) * 2
    mean = torch.randn(batch, dim, generator=generator) * scale + torch.randn(dim, generator=generator)
    logvar = torch.randn(batch, dim, generator=generator)
    sample = mean + torch.exp(0.5 * logvar) * torch.randn(batch, dim, generator=generator)
    return x, VAEOutput(logits, mean, logvar, sample)


def np_dip_penalties(mean: np.ndarray, logvar: np.ndarray, dip_type: str) -> tuple[float, float]:
    """Eq. 6 / Eq. 7 with explicit loops in float64: (sum of squared off-diagonals, sum of (diag - 1)^2)."""
    batch, dim = mean.shape
    centre = mean.sum(axis=0) / batch
    cov = np.zeros((dim, dim))
    for b in range(batch):
        for i in range(dim):
            for j in range(dim):
                cov[i, j] += (mean[b, i] - centre[i]) * (mean[b, j] - centre[j]) / batch
    if dip_type == "ii":
        for i in range(dim):
            cov[i, i] += sum(math.exp(logvar[b, i]) for b in range(batch)) / batch
    off = sum(cov[i, j] ** 2 for i in range(dim) for j in range(dim) if i != j)
    diag = sum((cov[i, i] - 1) ** 2 for i in range(dim))
    return off, diag


def np_elbo_terms(x: torch.Tensor, output: VAEOutput) -> tuple[float, float]:
    """Bernoulli reconstruction (nats, summed over pixels) and KL (nats, summed over latents), batch means."""
    xs = x.double().numpy().reshape(len(x), -1)
    p = 1 / (1 + np.exp(-output.logits.double().numpy().reshape(len(x), -1)))
    recon = -(xs * np.log(p) + (1 - xs) * np.log(1 - p)).sum() / len(x)
    m, lv = output.mean.double().numpy(), output.logvar.double().numpy()
    kl = (0.5 * (m ** 2 + np.exp(lv) - 1 - lv)).sum() / len(x)
    return recon, kl


@pytest.mark.parametrize("dip_type", DIP_TYPES)
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("batch,dim", [(7, 3), (32, 10)])
def test_dip_loss_matches_the_float64_reference(dip_type, seed, batch, dim):
    x, output = random_output(batch, dim, seed)
    lambda_od, lambda_d = 3.0, 7.0
    loss = get_loss("dip", dip_type=dip_type, dip_lambda_od=lambda_od, dip_lambda_d=lambda_d, reg_anneal=0)
    result = loss.compute(x, output, step=5)
    od, d = np_dip_penalties(output.mean.double().numpy(), output.logvar.double().numpy(), dip_type)
    recon, kl = np_elbo_terms(x, output)
    assert result.terms["dip_od_loss"].item() == pytest.approx(od, rel=1e-4)
    assert result.terms["dip_d_loss"].item() == pytest.approx(d, rel=1e-4)
    assert result.terms["kl_loss"].item() == pytest.approx(kl, rel=1e-4)
    assert result.loss.item() == pytest.approx(recon + kl + lambda_od * od + lambda_d * d, rel=1e-4)
    assert result.terms["loss"] is result.loss and result.batch_size == batch


@pytest.mark.parametrize("dip_type", DIP_TYPES)
def test_annealing_weighs_the_whole_regulariser(dip_type):
    x, output = random_output(16, 4, seed=5)
    loss = get_loss("dip", dip_type=dip_type, dip_lambda_od=2.0, reg_anneal=100)
    half, full = loss.compute(x, output, step=50), loss.compute(x, output, step=None)
    regulariser = full.loss - full.terms["recon_loss"]
    assert half.loss.item() == pytest.approx(full.terms["recon_loss"].item() + 0.5 * regulariser.item(), rel=1e-5)


def test_means_far_from_zero_lose_no_digits():
    """E[mu mu^T] - E[mu]E[mu]^T cancels catastrophically at mu ~ 1e4 in float32; the centred form does not."""
    _, output = random_output(64, 4, seed=9)
    mean = output.mean.double() + 1e4
    cov = dip_covariance(mean.float(), output.logvar, "i")
    od, d = np_dip_penalties(mean.numpy(), output.logvar.double().numpy(), "i")
    diag = torch.diagonal(cov)
    assert ((cov - torch.diag(diag)).square().sum().item()) == pytest.approx(od, rel=1e-3)
    assert ((diag - 1).square().sum().item()) == pytest.approx(d, rel=1e-3)


def test_lambda_d_defaults_to_the_papers_rule_and_specs_json_records_it():
    assert get_loss("dip", dip_type="i", dip_lambda_od=5).lambda_d == 50.0
    assert get_loss("dip", dip_type="ii", dip_lambda_od=5).lambda_d == 5.0
    assert get_loss("dip", dip_type="i", dip_lambda_od=5, dip_lambda_d=1).lambda_d == 1.0
    assert get_loss("dip", dip_type="ii", dip_lambda_od=2, dip_lambda_d=None).lambda_d == 2.0
    spec = resolve_run("r", None, {"loss": "dip", "dip_type": "i", "dip_lambda_od": 2.0}).spec
    assert spec.dip_lambda_d == 20.0 and spec.to_dict()["dip_lambda_d"] == 20.0
    assert resolve_run("r", None, {"loss": "dip", "dip_type": "ii", "dip_lambda_od": 2.0}).spec.dip_lambda_d == 2.0
    given = resolve_run("r", None, {"loss": "dip", "dip_lambda_od": 2.0, "dip_lambda_d": 0.5}).spec
    assert given.dip_lambda_d == 0.5
    assert resolve_run("r", None, {"loss": "betaH"}).spec.dip_lambda_d is None   # another loss: untouched
    assert RunSpec.from_dict(spec.to_dict()).dip_lambda_d == 20.0


@pytest.mark.parametrize("flags,error", [
    ({"dip_type": "iii"}, UnknownNameError), ({"dip_lambda_od": -1.0}, ConfigError),
    ({"dip_lambda_d": -1.0}, ConfigError), ({"dip_lambda_od": 1e308}, ConfigError)])
def test_bad_dip_parameters_are_refused_by_name(flags, error):
    with pytest.raises(error, match="dip"):
        resolve_run("r", None, {"loss": "dip", **flags})
    with pytest.raises(UnknownNameError):
        get_loss("dip", dip_type="iii")


# ---------------------------------------------------------------- edges


def _edge_output(batch: int, logvar_value: float, dtype: torch.dtype) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    mean = (torch.randn(batch, 5, generator=generator) * 3).to(dtype).requires_grad_(True)
    logvar = torch.full((batch, 5), logvar_value, dtype=dtype, requires_grad=True)
    logits = torch.randn(batch, 1, 4, 4, generator=generator).to(dtype).requires_grad_(True)
    return [logits, mean, logvar]


@pytest.mark.parametrize("dip_type", DIP_TYPES)
@pytest.mark.parametrize("batch", [1, 2, 64])
@pytest.mark.parametrize("logvar_value", [-80.0, 0.0, 80.0])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_dip_loss_is_finite_in_value_and_gradient_at_the_edges(dip_type, batch, logvar_value, dtype):
    logits, mean, logvar = _edge_output(batch, logvar_value, dtype)
    x = torch.rand(batch, 1, 4, 4)
    loss = get_loss("dip", dip_type=dip_type, dip_lambda_od=50.0, reg_anneal=0)   # the study's largest weights
    result = loss.compute(x, VAEOutput(logits, mean, logvar, mean), step=1)
    assert result.loss.dtype == torch.float32
    assert all(torch.isfinite(v).all() for v in result.terms.values()), result.terms
    grads = torch.autograd.grad(result.loss, [logits, mean, logvar])
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("dip_type", DIP_TYPES)
def test_a_single_image_has_zero_covariance_of_its_means(dip_type):
    _, output = random_output(1, 3, seed=4)
    cov = dip_covariance(output.mean, output.logvar, dip_type)
    expected = np.diag(np.exp(output.logvar.double().numpy()[0])) if dip_type == "ii" else np.zeros((3, 3))
    np.testing.assert_allclose(cov.double().numpy(), expected, rtol=1e-6, atol=0)


def test_huge_posterior_variances_are_capped_in_the_covariance_only():
    mean = torch.zeros(4, 2)
    logvar = torch.tensor([[80.0, 0.0]] * 4, requires_grad=True)
    cov = dip_covariance(mean, logvar, "ii")
    assert cov[0, 0].item() == pytest.approx(math.exp(MAX_COVARIANCE_LOGVAR), rel=1e-5)
    assert cov[1, 1].item() == pytest.approx(1.0)
    result = get_loss("dip", dip_type="ii", reg_anneal=0).compute(torch.zeros(4, 1, 2, 2),
                                                          VAEOutput(torch.zeros(4, 1, 2, 2), mean, logvar, mean), 1)
    (grad,) = torch.autograd.grad(result.loss, logvar)
    assert torch.isfinite(grad).all() and (grad[:, 0] > 0).all()   # the exact KL still pulls it down


@pytest.mark.parametrize("dip_type", DIP_TYPES)
def test_dip_trains_through_a_saturated_decoder_without_nan(dip_type):
    torch.manual_seed(0)
    model = build_model((1, 32, 32), 4)
    with torch.no_grad():
        model.decoder.convT3.bias.fill_(150.0)
    x = torch.zeros(8, 1, 32, 32)
    result = get_loss("dip", dip_type=dip_type, reg_anneal=0)(model, x, 1)
    result.loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


# ---------------------------------------------------------------- real runs through the CLI


@pytest.mark.parametrize("dip_type", DIP_TYPES)
def test_a_tiny_dip_run_trains_and_logs_its_terms(tmp_path, sprites_data_dir, dip_type):
    name = f"dip-{dip_type}"
    flags = [f"--{key.replace('_', '-')}" if value is True else f"--{key.replace('_', '-')}={value}"
             for key, value in TINY.items()]
    done = run_dvae("train", name, "-l", "dip", "--dip-type", dip_type, "--dip-lambda-od", "2", *flags,
                    "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir), "--no-progress-bar")
    assert done.returncode == 0, done.stderr
    folder = tmp_path / name
    spec = json.loads((folder / "specs.json").read_text())
    assert (spec["loss"], spec["dip_type"], spec["dip_lambda_od"]) == ("dip", dip_type, 2.0)
    assert spec["dip_lambda_d"] == (20.0 if dip_type == "i" else 2.0)
    history = read_train_log(folder / "train_losses.log")
    for term in ("loss", "recon_loss", "kl_loss", "dip_od_loss", "dip_d_loss"):
        assert term in history and all(math.isfinite(v) for _, v in history[term]), term
    assert "dip_od_loss" in done.stdout and "dip_d_loss" in done.stdout
