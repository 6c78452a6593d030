"""The losses: one module each, found through the loss catalogue (`dvae_cli.catalogue.losses`).

A new loss is one module here (or in any package) and one `LossInfo` entry (or a
`register_loss` call, or an entry point): `get_loss` builds it from its name.
"""

from __future__ import annotations

import inspect
from typing import Any

from dvae_cli.catalogue.losses import loss_info, loss_names
from dvae_cli.engine.losses.base import Loss, LossResult, PosteriorLoss
from dvae_cli.errors import ConfigError
from dvae_cli.plugins import resolve
from dvae_cli.spec import RunSpec, spec_defaults, spec_fields

#: Other names accepted for the same argument (specs.json calls N ``n_train``).
_ALIASES = {"n_train": "n_data"}


def loss_class(name: str) -> type[Loss]:
    """The `Loss` subclass of loss `name` (imported now).

    Raises:
        UnknownNameError: if `name` is not a registered loss.
        ConfigError: if its implementation cannot be imported or is not a `Loss`.
    """
    cls = resolve(loss_info(name).implementation)
    if not (isinstance(cls, type) and issubclass(cls, Loss)):
        raise ConfigError(f"the implementation of loss '{name}' ({loss_info(name).implementation}) is not a Loss")
    return cls


def get_loss(name: str, /, **hyper: Any) -> Loss:
    """Build a loss from its name and hyper-parameters named as in ``specs.json``.

    Example::

        get_loss("btcvae", btcvae_B=6, n_data=60000, rec_dist="bernoulli", reg_anneal=10000)
        get_loss(spec.loss, **spec.to_dict())   # every other spec key is ignored

    Args:
        name: A registered loss (``VAE``, ``betaH``, ``betaB``, ``factor``, ``btcvae``, ...).
        **hyper: ``rec_dist``, ``reg_anneal`` and the loss's own parameters (see its
            `LossInfo`), ``latent_dim`` and ``n_data`` (or ``n_train``, the
            training-set size) for the losses that take them. Keys of ``specs.json``
            that the loss does not use are ignored. A value not given takes its one
            default: the catalogue's `Param` or the `RunSpec` field (`spec_defaults`).

    Raises:
        UnknownNameError: if `name` is not a loss.
        ConfigError: for a keyword that is not a spec parameter, or a missing one.
    """
    cls = loss_class(name)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self"}
    known_elsewhere = set(spec_fields()) | set(RunSpec.__dataclass_fields__) | {"model", "n_data"}
    kwargs = {key: value for key, value in spec_defaults().items() if key in accepted}
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
    """The loss of a run, with N = `n_data` for the estimators that need the training-set size."""
    return get_loss(spec.loss, **{**spec.to_dict(), "n_data": n_data})


__all__ = ["Loss", "LossResult", "PosteriorLoss", "get_loss", "loss_class", "loss_for_spec", "loss_names"]
