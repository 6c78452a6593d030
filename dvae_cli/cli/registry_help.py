"""Help texts written when ``--help`` is shown, so that they list what is registered then.

A command's arguments are declared when its module is imported, before a plugin has
registered anything; the help of the arguments that list a registry's names (``dvae
plot``'s plots, ``dvae eval --metric``'s metrics) is therefore made on demand, from
the registry as it is when the help is printed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from typer.core import TyperCommand


class ListingCommand(TyperCommand):
    """A command whose parameters named in `help_texts` get their help from a function, at help time."""

    #: Parameter name -> the function that writes its help.
    help_texts: ClassVar[dict[str, Callable[[], str]]] = {}

    def format_help(self, ctx: Any, formatter: Any) -> None:
        for param in self.params:
            write = self.help_texts.get(param.name or "")
            if write is not None:
                param.help = write()  # type: ignore[attr-defined]
        super().format_help(ctx, formatter)


def listing_command(**help_texts: Callable[[], str]) -> type[TyperCommand]:
    """A `ListingCommand` class (for ``app.command(cls=...)``) with these parameters' help functions."""
    return type("ListingCommand", (ListingCommand,), {"help_texts": dict(help_texts)})
