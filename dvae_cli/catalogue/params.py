"""A hyper-parameter of an extension: its type, default, limits and help (standard library only).

From one `Param` come the `RunSpec` value and its validation, the ``specs.json`` key,
the ``dvae train`` option (``--<name with dashes>``, in its help panel) and the
column ``dvae compare`` shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dvae_cli.errors import ConfigError, UnknownNameError

# The roles of a spec key: a `dvae_cli.spec.RunSpec` field's metadata and a `Param`'s `roles`.
# Every group of keys derives from them (`dvae_cli.spec.keys_with`).

#: filled in by training, not set by people;
ROLE_RECORDED = "recorded"
#: changes nothing that is trained (display, device, evaluation, checkpoints, labels): a study
#: file and ``--resume`` may both change it;
ROLE_FREE = "free"
#: an optimiser setting: ``--resume`` may change it (recorded in ``changes``), a study may not
#: (a cell with another learning rate is another run);
ROLE_OPTIMISER = "optimiser"
#: may grow: ``--resume`` trains on to more epochs, a study extends the cell;
ROLE_GROWS = "grows"
#: stored multiplied by the loss's batches per step (FactorVAE's two half-batches): `RunSpec.typed`;
ROLE_DOUBLED = "doubled"
#: disentangling-vae's keys that dvae keeps in specs.json but does not act on.
ROLE_REFERENCE = "reference"


@dataclass(frozen=True)
class Param:
    """One hyper-parameter.

    Attributes:
        name: Its ``specs.json`` key and RunSpec attribute (the papers' symbol where
            there is one, e.g. ``betaH_B``); the CLI option is ``--`` + name with dashes.
        type: ``float``, ``int``, ``str`` or ``bool``.
        default: Its value when nothing sets it. None makes it optional: None is then
            accepted, and means that the loss's `LossInfo.resolve` derives it from the
            other parameters (DIP-VAE's lambda_d).
        help: One line for ``--help``.
        symbol: How the paper writes it (shown in tables: ``beta``, ``gamma``, ``C``).
        choices: The allowed values of a ``str`` parameter.
        minimum: The smallest allowed value of a number (inclusive unless `exclusive`).
        exclusive: Whether `minimum` itself is refused.
        key: Whether it characterises a run (shown by ``experiments list`` and ``compare``).
        roles: Its roles (``ROLE_*``), as a `dvae_cli.spec.RunSpec` field's metadata
            gives them: e.g. ``ROLE_OPTIMISER`` for a learning rate ``--resume`` may change.
    """

    name: str
    type: type
    default: Any
    help: str
    symbol: str = ""
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    exclusive: bool = False
    key: bool = True
    roles: frozenset[str] = frozenset()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> None:
        """Raise `ConfigError` (or `UnknownNameError`) if `value` is not allowed, naming the flag and the value."""
        if value is None and self.default is None:
            return
        if self.type is str:
            if not isinstance(value, str):
                raise ConfigError(f"{self.flag} must be text, got {value!r}")
            if self.choices and value not in self.choices:
                raise UnknownNameError(self.flag.lstrip("-").replace("-", " "), value, self.choices)
            return
        if self.type is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{self.flag} must be true or false, got {value!r}")
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{self.flag} must be a finite number, got {value!r}")
        if self.type is int and not float(value).is_integer():
            raise ConfigError(f"{self.flag} must be an integer, got {value!r}")
        if self.minimum is not None and (value < self.minimum or (self.exclusive and value == self.minimum)):
            bound = f"> {self.minimum:g}" if self.exclusive else f">= {self.minimum:g}"
            if self.minimum == 0 and self.exclusive:
                bound = "a positive number"
            raise ConfigError(f"{self.flag} must be {bound}, got {value!r}")
