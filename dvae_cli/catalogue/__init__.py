"""The torch-free catalogues of dvae's extension points, and how to register more.

- losses: `LossInfo`, `register_loss` (`dvae_cli.catalogue.losses`);
- hyper-parameters: `Param` (`dvae_cli.catalogue.params`).

See `dvae_cli.plugins` for third-party packages (entry points).
"""

from dvae_cli.catalogue.losses import (LOSSES, LossInfo, loss_info, loss_names, loss_params, register_loss,
                                       term_labels)
from dvae_cli.catalogue.params import Param

__all__ = ["LOSSES", "LossInfo", "Param", "loss_info", "loss_names", "loss_params", "register_loss", "term_labels"]
