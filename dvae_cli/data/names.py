"""Dataset names that carry a size: the sides the model takes and ``folder:PATH`` / ``folder-<N>:PATH``.

A folder of the user's own images is named ``folder:PATH`` (read at 64x64) or
``folder-<N>:PATH`` (read at NxN, N a side the model takes). This grammar sits below
the dataset table (`dvae_cli.data.catalog`), the folder dataset
(`dvae_cli.data.user_folder`) and the sizes of a dataset (`dvae_cli.data.sizes`),
which all read it. Standard library only.
"""

from __future__ import annotations

import re

from dvae_cli.errors import ConfigError

#: The square image sides the model takes (`dvae_cli.engine.models.SUPPORTED_SIZES`).
MODEL_SIDES: tuple[int, ...] = (32, 64, 128)
#: The side of ``folder:PATH`` without a size.
FOLDER_SIDE = 64

_FOLDER = re.compile(r"folder(?:-(\d+))?:(.*)", re.DOTALL)


def split_folder(name: str) -> tuple[int, str] | None:
    """(side, PATH) of ``folder:PATH`` (side 64) or ``folder-<N>:PATH``; None for any other name.

    Raises:
        ConfigError: for ``folder-<N>:`` with a side the model does not take.
    """
    match = _FOLDER.fullmatch(name)
    if match is None:
        return None
    side = int(match.group(1)) if match.group(1) is not None else FOLDER_SIDE
    if side not in MODEL_SIDES:
        raise ConfigError(f"a folder of images can be read at {sides_text(MODEL_SIDES)} pixels, not {side}")
    return side, match.group(2)


def folder_name(path: str, side: int) -> str:
    """The dataset name of the folder `path` at `side` pixels (``folder:PATH`` at 64)."""
    return f"folder:{path}" if side == FOLDER_SIDE else f"folder-{side}:{path}"


def sides_text(sides: tuple[int, ...]) -> str:
    """``64x64``, or ``32x32, 64x64 or 128x128``: square sides as messages name them."""
    shown = [f"{side}x{side}" for side in sides]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
