"""Registries of the extension points, and third-party extensions (standard library only).

Each extension point (losses, datasets, metrics, plots) is one `Registry` of small,
torch-free descriptions; everything else (spec fields, CLI options, validation,
tables, figures) is derived from it. A description names its implementation as
``"module:attribute"``, imported only when it is used (`resolve`), so listing and
``--help`` never import torch.

Third-party packages extend dvae without editing it, in either of two ways:

- an entry point in the group of the extension point (``dvae.losses``,
  ``dvae.datasets``, ``dvae.metrics``, ``dvae.plots``) whose object is the
  description (a `dvae_cli.catalogue.LossInfo`, ...) or a module that registers
  on import; every installed entry point is loaded the first time a registry is read;
- an explicit call, e.g. ``dvae_cli.catalogue.register_loss(LossInfo(...))``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from dvae_cli.errors import ConfigError, UnknownNameError


class Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=Named)


def resolve(reference: str | Callable[..., Any]) -> Any:
    """The object a ``"package.module:attribute"`` reference names (imported now); a callable is returned as is.

    Raises:
        ConfigError: if the module or the attribute does not exist.
    """
    if not isinstance(reference, str):
        return reference
    module_name, _, attribute = reference.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split(".") if attribute else ():
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load '{reference}': {exc}") from None
    return target


class Registry(Generic[T]):
    """Descriptions of one kind of extension, by name, in registration order.

    Args:
        kind: What the items are, for messages (``loss``, ``dataset``, ...).
        group: The entry-point group third-party packages register in.
        check: Called with each item before it is registered (raises `ConfigError`).
    """

    def __init__(self, kind: str, group: str, check: Callable[[T], None] | None = None) -> None:
        self.kind, self.group, self._check = kind, group, check
        self._items: dict[str, T] = {}
        self._plugins_loaded = False

    def register(self, item: T, replace: bool = False) -> T:
        """Add `item` (returned, so this can decorate). A second item of the same name needs `replace`.

        Raises:
            ConfigError: for a name already registered, or an item `check` refuses.
        """
        if self._check is not None:
            self._check(item)
        if item.name in self._items and not replace and self._items[item.name] is not item:
            raise ConfigError(f"a {self.kind} named '{item.name}' is already registered")
        self._items[item.name] = item
        return item

    def unregister(self, name: str) -> None:
        """Remove the item `name` (for tests and plugins that replace a built-in)."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """The item `name`.

        Raises:
            UnknownNameError: naming the valid choices.
        """
        self._load_plugins()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def names(self) -> tuple[str, ...]:
        """Every name, built-ins first, in registration order."""
        self._load_plugins()
        return tuple(self._items)

    def values(self) -> list[T]:
        self._load_plugins()
        return list(self._items.values())

    def __contains__(self, name: object) -> bool:
        self._load_plugins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def _load_plugins(self) -> None:
        """Load the entry points of `group` once: each is a description to register or a module that registers."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for entry in entry_points(group=self.group):
            try:
                loaded = entry.load()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break dvae; say which
                import sys

                sys.stderr.write(f"warning: dvae plugin '{entry.name}' ({entry.value}) did not load: "
                                 f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}\n")
                continue
            if hasattr(loaded, "name") and not isinstance(loaded, type(importlib)):
                self.register(loaded, replace=True)
