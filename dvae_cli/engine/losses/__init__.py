"""The five losses of disentangling-vae, one module each, and their registry."""

from __future__ import annotations

import inspect
from typing import Any

from dvae_cli.config import LOSSES, RunSpec, spec_fields
from dvae_cli.engine.losses.base import Loss, LossResult
from dvae_cli.engine.losses.betab import BetaBLoss
from dvae_cli.engine.losses.betah import BetaHLoss
from dvae_cli.engine.losses.btcvae import BtcvaeLoss
from dvae_cli.engine.losses.factor import FactorLoss
from dvae_cli.engine.losses.vae import VAELoss
from dvae_cli.errors import ConfigError, UnknownNameError

LOSS_CLASSES: dict[str, type[Loss]] = {cls.name: cls for cls in (VAELoss, BetaHLoss, BetaBLoss, FactorLoss,
                                                                 BtcvaeLoss)}
assert tuple(LOSS_CLASSES) == LOSSES

#: Other names accepted for the same argument (specs.json calls N ``n_train``).
_ALIASES = {"n_train": "n_data"}


def get_loss(name: str, /, **hyper: Any) -> Loss:
    """Build a loss from its name and hyper-parameters named as in ``specs.json``.

    Example::

        get_loss("btcvae", btcvae_B=6, n_data=60000, rec_dist="bernoulli", reg_anneal=10000)
        get_loss(spec.loss, **spec.to_dict())   # every other spec key is ignored

    Args:
        name: ``VAE``, ``betaH``, ``betaB``, ``factor`` or ``btcvae``.
        **hyper: ``rec_dist``, ``reg_anneal`` and the loss's own parameters
            (``betaH_B``; ``betaB_initC``, ``betaB_finC``, ``betaB_G``; ``factor_G``,
            ``lr_disc``, ``latent_dim``; ``btcvae_A``, ``btcvae_B``, ``btcvae_G``,
            ``btcvae_sampling``, ``n_data`` (or ``n_train``), the training-set size).
            Keys of ``specs.json`` that the loss does not use are ignored.

    Raises:
        UnknownNameError: if `name` is not a loss.
        ConfigError: for a keyword that is not a spec parameter, or a missing one.
    """
    if name not in LOSS_CLASSES:
        raise UnknownNameError("loss", name, LOSSES)
    cls = LOSS_CLASSES[name]
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    known_elsewhere = set(spec_fields()) | set(RunSpec.__dataclass_fields__) | {"model", "n_data"}
    kwargs = {}
    for key, value in hyper.items():
        target = _ALIASES.get(key, key)
        if key in _ALIASES and value is None:
            continue
        if target in accepted:
            kwargs[target] = value
        elif key not in known_elsewhere:
            raise ConfigError(f"unknown loss parameter '{key}' for {name}; it takes: "
                              f"{', '.join(sorted(accepted))}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"cannot build the {name} loss: {exc}") from None


def loss_for_spec(spec: RunSpec, n_data: int) -> Loss:
    """The loss of a run, with N = `n_data` for the btcvae estimator."""
    return get_loss(spec.loss, **{**spec.to_dict(), "n_data": n_data})


__all__ = ["LOSS_CLASSES", "Loss", "LossResult", "get_loss", "loss_for_spec", "BetaBLoss", "BetaHLoss",
           "BtcvaeLoss", "FactorLoss", "VAELoss"]
