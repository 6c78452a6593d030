"""Public entry point to the losses: ``from dvae_cli.losses import get_loss``.

See `dvae_cli.engine.losses.get_loss`.
"""

from dvae_cli.engine.losses import (LOSS_CLASSES, BetaBLoss, BetaHLoss, BtcvaeLoss, FactorLoss, Loss,
                                    LossResult, VAELoss, get_loss)

__all__ = ["LOSS_CLASSES", "BetaBLoss", "BetaHLoss", "BtcvaeLoss", "FactorLoss", "Loss", "LossResult",
           "VAELoss", "get_loss"]
