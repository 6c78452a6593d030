"""Public entry point to the losses: ``from dvae_cli.losses import get_loss``.

See `dvae_cli.engine.losses.get_loss` and, to add a loss, `dvae_cli.catalogue.register_loss`.
"""

from dvae_cli.engine.losses import Loss, LossResult, PosteriorLoss, get_loss, loss_class, loss_names
from dvae_cli.engine.losses.betab import BetaBLoss
from dvae_cli.engine.losses.betah import BetaHLoss
from dvae_cli.engine.losses.btcvae import BtcvaeLoss
from dvae_cli.engine.losses.dip import DipLoss
from dvae_cli.engine.losses.factor import FactorLoss
from dvae_cli.engine.losses.vae import VAELoss

__all__ = ["BetaBLoss", "BetaHLoss", "BtcvaeLoss", "DipLoss", "FactorLoss", "Loss", "LossResult", "PosteriorLoss", "VAELoss",
           "get_loss", "loss_class", "loss_names"]
