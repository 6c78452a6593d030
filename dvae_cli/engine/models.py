"""The "Burgess" VAE of Burgess et al. 2018, with disentangling-vae's parameter names.

Burgess, C. P., et al. "Understanding disentangling in beta-VAE." arXiv:1804.03599 (2018).

The parameter names equal disentangling-vae's (``encoder.conv1 .. encoder.conv_64``,
``encoder.lin1``, ``encoder.lin2``, ``encoder.mu_logvar_gen``, ``decoder.lin1..lin3``,
``decoder.convT_64``, ``decoder.convT1..convT3``) so that its ``model.pt`` files
load with ``strict=True``. 128x128 images (dvae's) take one more stride-2 layer on
each side, ``encoder.conv_128`` (after ``conv_64``) and ``decoder.convT_128`` (before
``convT_64``), in the same way disentangling-vae adds ``conv_64`` for 64x64: every
size ends in the same 4x4x32 feature map, so the 32 and 64 models are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from dvae_cli.errors import ConfigError

HIDDEN_CHANNELS = 32
KERNEL_SIZE = 4
HIDDEN_DIM = 256
SUPPORTED_SIZES = ((32, 32), (64, 64), (128, 128))


@dataclass(frozen=True)
class ModelConfig:
    """What is needed to rebuild a model.

    Attributes:
        img_size: (channels, height, width); 1 or 3 channels, 32x32, 64x64 or 128x128.
        latent_dim: Number of latent dimensions D.
        model_type: Architecture name (only "Burgess").
    """

    img_size: tuple[int, int, int]
    latent_dim: int = 10
    model_type: str = "Burgess"

    def __post_init__(self) -> None:
        channels, height, width = self.img_size
        if (height, width) not in SUPPORTED_SIZES:
            raise ConfigError(f"image size {height}x{width} is not supported; the Burgess model "
                              "takes 32x32, 64x64 or 128x128 images")
        if channels not in (1, 3):
            raise ConfigError(f"images with {channels} channels are not supported; use 1 or 3")
        if self.latent_dim <= 0:
            raise ConfigError(f"--latent-dim must be a positive integer, got {self.latent_dim}")
        if self.model_type != "Burgess":
            raise ConfigError(f"unknown model type '{self.model_type}'; choose from: Burgess")


class VAEOutput(NamedTuple):
    """The output of `VAE.forward`.

    The decoder's last layer is returned before its sigmoid: the likelihoods are
    computed from the logits (`dvae_cli.engine.losses._terms.reconstruction_loss`),
    which keeps their value and gradient finite when a pixel saturates at exactly
    0 or 1 in float32.

    Attributes:
        logits: Pixel logits, shape (B, C, H, W), unbounded; the pixel means are
            ``sigmoid(logits)`` (`reconstruction`).
        mean: Posterior means, shape (B, D).
        logvar: Posterior log variances, shape (B, D).
        sample: The latent code used: a reparameterised sample in train mode, the
            mean in eval mode. Shape (B, D).
    """

    logits: torch.Tensor
    mean: torch.Tensor
    logvar: torch.Tensor
    sample: torch.Tensor

    @property
    def reconstruction(self) -> torch.Tensor:
        """Pixel means in [0, 1], shape (B, C, H, W): ``sigmoid(logits)``."""
        return torch.sigmoid(self.logits)


def _conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, KERNEL_SIZE, stride=2, padding=1)


def _conv_t(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_channels, out_channels, KERNEL_SIZE, stride=2, padding=1)


class EncoderBurgess(nn.Module):
    """Conv encoder: 3 (4 for 64x64, 5 for 128x128) 4x4 stride-2 convs, two 256-unit layers, a 2D head.

    The head's outputs are interleaved: mean = out[:, 0::2], logvar = out[:, 1::2].
    """

    def __init__(self, img_size: tuple[int, int, int], latent_dim: int) -> None:
        super().__init__()
        channels, height, _ = img_size
        self.latent_dim = latent_dim
        self.is_64, self.is_128 = height >= 64, height == 128
        self.conv1 = _conv(channels, HIDDEN_CHANNELS)
        self.conv2 = _conv(HIDDEN_CHANNELS, HIDDEN_CHANNELS)
        self.conv3 = _conv(HIDDEN_CHANNELS, HIDDEN_CHANNELS)
        if self.is_64:
            self.conv_64 = _conv(HIDDEN_CHANNELS, HIDDEN_CHANNELS)
        if self.is_128:
            self.conv_128 = _conv(HIDDEN_CHANNELS, HIDDEN_CHANNELS)
        self.lin1 = nn.Linear(HIDDEN_CHANNELS * KERNEL_SIZE * KERNEL_SIZE, HIDDEN_DIM)
        self.lin2 = nn.Linear(HIDDEN_DIM, HIDDEN_DIM)
        self.mu_logvar_gen = nn.Linear(HIDDEN_DIM, 2 * latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Map images (B, C, H, W) to (mean, logvar), each (B, D)."""
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        if self.is_64:
            x = torch.relu(self.conv_64(x))
        if self.is_128:
            x = torch.relu(self.conv_128(x))
        x = x.reshape(x.shape[0], -1)
        x = torch.relu(self.lin1(x))
        x = torch.relu(self.lin2(x))
        mean_logvar = self.mu_logvar_gen(x).view(-1, self.latent_dim, 2)
        mean, logvar = mean_logvar.unbind(-1)
        return mean, logvar


class DecoderBurgess(nn.Module):
    """The mirror of `EncoderBurgess`; returns pixel logits (the sigmoid is applied by `VAE.decode`)."""

    def __init__(self, img_size: tuple[int, int, int], latent_dim: int) -> None:
        super().__init__()
        channels, height, _ = img_size
        self.is_64, self.is_128 = height >= 64, height == 128
        self.lin1 = nn.Linear(latent_dim, HIDDEN_DIM)
        self.lin2 = nn.Linear(HIDDEN_DIM, HIDDEN_DIM)
        self.lin3 = nn.Linear(HIDDEN_DIM, HIDDEN_CHANNELS * KERNEL_SIZE * KERNEL_SIZE)
        if self.is_128:
            self.convT_128 = _conv_t(HIDDEN_CHANNELS, HIDDEN_CHANNELS)
        if self.is_64:
            self.convT_64 = _conv_t(HIDDEN_CHANNELS, HIDDEN_CHANNELS)
        self.convT1 = _conv_t(HIDDEN_CHANNELS, HIDDEN_CHANNELS)
        self.convT2 = _conv_t(HIDDEN_CHANNELS, HIDDEN_CHANNELS)
        self.convT3 = _conv_t(HIDDEN_CHANNELS, channels)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Map latents (B, D) to pixel logits (B, C, H, W)."""
        x = torch.relu(self.lin1(z))
        x = torch.relu(self.lin2(x))
        x = torch.relu(self.lin3(x))
        x = x.view(z.shape[0], HIDDEN_CHANNELS, KERNEL_SIZE, KERNEL_SIZE)
        if self.is_128:
            x = torch.relu(self.convT_128(x))
        if self.is_64:
            x = torch.relu(self.convT_64(x))
        x = torch.relu(self.convT1(x))
        x = torch.relu(self.convT2(x))
        return self.convT3(x)


class VAE(nn.Module):
    """Encoder, reparameterisation and decoder.

    Train mode samples z = mean + exp(logvar / 2) * eps; eval mode uses the mean.
    The weights are disentangling-vae's, layer for layer; its decoder ends in a
    sigmoid, ours returns the logits before it (`VAEOutput.logits`), so the
    reconstructions of its ``model.pt`` files are ``sigmoid(logits)``, unchanged.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.latent_dim = config.latent_dim
        self.img_size = config.img_size
        self.encoder = EncoderBurgess(config.img_size, config.latent_dim)
        self.decoder = DecoderBurgess(config.img_size, config.latent_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-uniform (relu) weights for every conv and linear layer."""
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_uniform_(module.weight, nonlinearity="relu")

    def reparameterize(self, mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A sample of N(mean, exp(logvar)) in train mode, the mean in eval mode."""
        if self.training:
            return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        return mean

    def forward(self, x: torch.Tensor) -> VAEOutput:
        """Encode, sample and decode a batch (B, C, H, W)."""
        mean, logvar = self.encoder(x)
        sample = self.reparameterize(mean, logvar)
        return VAEOutput(self.decoder(sample), mean, logvar, sample)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel means in [0, 1], shape (B, C, H, W), of latent codes `z` (B, D)."""
        return torch.sigmoid(self.decoder(z))

    def sample_latent(self, x: torch.Tensor) -> torch.Tensor:
        """A latent code for each image (a sample in train mode), shape (B, D)."""
        return self.reparameterize(*self.encoder(x))


def build_model(img_size: tuple[int, int, int] | list[int], latent_dim: int = 10,
                model_type: str = "Burgess") -> VAE:
    """Build a freshly initialised VAE.

    Raises:
        ConfigError: for unsupported image sizes, channel counts or model types.
    """
    return VAE(ModelConfig(tuple(img_size), latent_dim, model_type))  # type: ignore[arg-type]
