"""The Burgess model, and disentangling-vae's pretrained model.pt files loading into it."""

from __future__ import annotations

import math

import pytest
import torch

from dvae_cli.engine.checkpoint import load_model, save_weights
from dvae_cli.engine.models import build_model
from dvae_cli.errors import ConfigError, CorruptFileError
from dvae_cli.losses import get_loss
from dvae_cli.runs.folder import RunFolder

from conftest import REFERENCE_RUNS

REFERENCE_NAMES_64 = [
    "encoder.conv1", "encoder.conv2", "encoder.conv3", "encoder.conv_64", "encoder.lin1", "encoder.lin2",
    "encoder.mu_logvar_gen", "decoder.lin1", "decoder.lin2", "decoder.lin3", "decoder.convT_64",
    "decoder.convT1", "decoder.convT2", "decoder.convT3"]


def test_parameter_names_are_disentangling_vaes():
    model = build_model((3, 64, 64), 7)
    names = [key.rsplit(".", 1)[0] for key in model.state_dict() if key.endswith(".weight")]
    assert names == REFERENCE_NAMES_64
    small = build_model((1, 32, 32), 7)
    assert not any("_64" in key for key in small.state_dict())


@pytest.mark.parametrize("img_size", [(1, 32, 32), (3, 32, 32), (1, 64, 64), (3, 64, 64)])
def test_shapes_for_every_supported_size(img_size):
    model = build_model(img_size, 5)
    x = torch.rand(4, *img_size)
    out = model(x)
    assert out.reconstruction.shape == x.shape
    assert out.mean.shape == out.logvar.shape == out.sample.shape == (4, 5)
    assert 0 < out.reconstruction.min() and out.reconstruction.max() < 1


def test_head_is_interleaved_and_eval_mode_uses_the_mean():
    model = build_model((1, 32, 32), 3)
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        head = model.encoder.mu_logvar_gen
        hidden = {}
        head.register_forward_hook(lambda module, inputs, output: hidden.setdefault("out", output))
        mean, logvar = model.encoder(x)
        assert torch.equal(mean, hidden["out"][:, 0::2]) and torch.equal(logvar, hidden["out"][:, 1::2])
        model.eval()
        assert torch.equal(model(x).sample, mean)
        model.train()
        torch.manual_seed(0)
        sample = model(x).sample
        torch.manual_seed(0)
        expected = mean + torch.exp(logvar / 2) * torch.randn_like(mean)
        assert torch.allclose(sample, expected)


def test_kaiming_uniform_relu_init():
    torch.manual_seed(0)
    model = build_model((1, 64, 64), 10)
    for name, module in model.named_modules():
        if hasattr(module, "weight") and module.weight is not None:
            fan_in = module.weight[0].numel() if not isinstance(module, torch.nn.ConvTranspose2d) \
                else module.weight.shape[1] * module.weight[0, 0].numel()
            bound = math.sqrt(2.0) * math.sqrt(3.0 / fan_in)
            assert module.weight.abs().max() <= bound + 1e-6, name
            assert module.weight.abs().max() > 0.8 * bound, name  # uses the range, not a smaller init


def test_unsupported_sizes_are_clear_errors():
    with pytest.raises(ConfigError, match="32x32, 64x64 or 128x128"):
        build_model((1, 28, 28), 10)
    with pytest.raises(ConfigError, match="channels"):
        build_model((2, 64, 64), 10)


@pytest.mark.parametrize("run", REFERENCE_RUNS)
def test_reference_model_files_load_strictly_and_give_finite_losses(disvae_results, run):
    folder = RunFolder(disvae_results / run)
    spec = folder.read_spec()
    model = load_model(folder.model_path, spec)           # strict=True, weights_only=True
    assert set(model.state_dict()) == set(torch.load(folder.model_path, weights_only=True))
    torch.manual_seed(0)
    x = (torch.rand(16, *spec.img_size) > 0.7).float()
    loss = get_loss(spec.loss, **{**spec.to_dict(), "n_data": 1000})
    if spec.loss == "factor":
        loss.use_discriminator = False
    with torch.no_grad():
        result = loss(model, x, None)
    assert result.terms and all(math.isfinite(v.item()) for v in result.terms.values())
    # the pretrained weights are really in use: the model reconstructs its own samples
    # far better than an untrained model does
    with torch.no_grad():
        own = model.decode(torch.randn(8, spec.latent_dim) * 0.5)
        trained = (model(own).reconstruction - own).pow(2).mean().item()
        fresh = (build_model(spec.img_size, spec.latent_dim).eval()(own).reconstruction - own).pow(2).mean().item()
    assert trained < 0.5 * fresh


def reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor, latent_dim: int) -> torch.Tensor:
    """disentangling-vae's Burgess encoder (means) and decoder, sigmoid included, written out in float64."""
    from torch.nn import functional as F

    w = {key: value.double() for key, value in state.items()}
    h = x.double()
    for name in ("conv1", "conv2", "conv3", "conv_64"):
        if f"encoder.{name}.weight" in w:
            h = F.relu(F.conv2d(h, w[f"encoder.{name}.weight"], w[f"encoder.{name}.bias"], stride=2, padding=1))
    h = h.reshape(h.shape[0], -1)
    for name in ("lin1", "lin2"):
        h = F.relu(F.linear(h, w[f"encoder.{name}.weight"], w[f"encoder.{name}.bias"]))
    mu = F.linear(h, w["encoder.mu_logvar_gen.weight"], w["encoder.mu_logvar_gen.bias"]).view(-1, latent_dim, 2)[..., 0]
    h = mu
    for name in ("lin1", "lin2", "lin3"):
        h = F.relu(F.linear(h, w[f"decoder.{name}.weight"], w[f"decoder.{name}.bias"]))
    h = h.view(h.shape[0], 32, 4, 4)
    for name in ("convT_64", "convT1", "convT2"):
        if f"decoder.{name}.weight" in w:
            h = F.relu(F.conv_transpose2d(h, w[f"decoder.{name}.weight"], w[f"decoder.{name}.bias"],
                                          stride=2, padding=1))
    return torch.sigmoid(F.conv_transpose2d(h, w["decoder.convT3.weight"], w["decoder.convT3.bias"],
                                            stride=2, padding=1))


@pytest.mark.parametrize("run", REFERENCE_RUNS)
def test_reference_models_give_the_references_reconstructions(disvae_results, run):
    """Our decoder returns logits; sigmoid(logits) is the reference's output, to float32 precision."""
    folder = RunFolder(disvae_results / run)
    spec = folder.read_spec()
    model = load_model(folder.model_path, spec).eval()
    x = torch.rand(6, *spec.img_size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours = model(x).reconstruction
    expected = reference_forward(torch.load(folder.model_path, weights_only=True), x, spec.latent_dim)
    assert (ours.double() - expected).abs().max().item() < 1e-4   # float32 rounding of large logits


def test_saved_weights_round_trip(tmp_path):
    model = build_model((1, 32, 32), 4)
    save_weights(tmp_path / "model.pt", model)
    from dvae_cli.config import RunSpec

    spec = RunSpec(img_size=[1, 32, 32], latent_dim=4)
    loaded = load_model(tmp_path / "model.pt", spec)
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key])


def test_mismatched_and_corrupt_model_files_are_named(tmp_path, disvae_results):
    from dvae_cli.config import RunSpec

    spec = RunSpec(img_size=[1, 64, 64], latent_dim=6)
    with pytest.raises(CorruptFileError, match="does not match its specs.json"):
        load_model(disvae_results / "btcvae_dsprites" / "model.pt", spec)
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(CorruptFileError, match="cannot load"):
        load_model(bad, spec)


def test_128_pixel_model_adds_one_layer_each_side_and_keeps_the_smaller_ones():
    """128x128 takes conv_128/convT_128 on top of the 64x64 model; the 32 and 64 models are unchanged."""
    names = {size: set(build_model((3, size, size), 5).state_dict()) for size in (32, 64, 128)}
    assert names[64] - names[32] == {f"{part}.{bias}" for part in ("encoder.conv_64", "decoder.convT_64")
                                     for bias in ("weight", "bias")}
    assert names[128] - names[64] == {f"{part}.{bias}" for part in ("encoder.conv_128", "decoder.convT_128")
                                      for bias in ("weight", "bias")}
    model = build_model((3, 128, 128), 5)
    images = torch.rand(2, 3, 128, 128)
    mean, logvar = model.encoder(images)
    assert mean.shape == logvar.shape == (2, 5)
    assert model.decoder(mean).shape == (2, 3, 128, 128)
    with pytest.raises(ConfigError, match="32x32, 64x64 or 128x128"):
        build_model((3, 96, 96), 5)
