"""dvae: train, evaluate, inspect and compare disentangled variational autoencoders.

From Python, a trained run is one call away (see `dvae_cli.run_handle`)::

    from dvae_cli import load_run          # or: from dvae import load_run
    run = load_run("quickstart")
    mean, logvar = run.encode(images)

The command line (`dvae`) is a thin shell over this library:

- `dvae_cli.config`: run specs and the experiment catalogue,
- `dvae_cli.engine`: models, losses (`dvae_cli.losses.get_loss`), trainer, evaluation, export,
- `dvae_cli.data`: datasets,
- `dvae_cli.runs`: reading and writing run folders (no torch).

Importing this package imports no torch: `load_run` and `Run` are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Run", "__version__", "load_run"]

if TYPE_CHECKING:
    from dvae_cli.run_handle import Run, load_run


def __getattr__(name: str) -> Any:
    if name in ("Run", "load_run"):
        from dvae_cli import run_handle

        return getattr(run_handle, name)
    raise AttributeError(f"module 'dvae_cli' has no attribute {name!r}")
