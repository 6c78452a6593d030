"""``import dvae``: the Python API of the ``dvae`` distribution, whose code lives in `dvae_cli`.

    from dvae import load_run
    run = load_run("quickstart")       # a run name under ./results, or a run folder's path

See `dvae_cli.run_handle` for `load_run` and `Run`. Importing this package imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dvae_cli
from dvae_cli import __all__, __version__

if TYPE_CHECKING:
    from dvae_cli.run_handle import Run, load_run


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(dvae_cli, name)
    raise AttributeError(f"module 'dvae' has no attribute {name!r}")
