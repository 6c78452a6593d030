"""``import dvae``: the Python API of the ``dvae`` distribution, whose code lives in `dvae_cli`.

    import dvae
    run = dvae.train("small", experiment="quickstart", epochs=1, subsample=1000)   # a Run
    result = dvae.evaluate(run, metrics=["mig"], fast=True)    # or run.evaluate(...); result.scores
    run = dvae.load_run("quickstart")       # a run name under ./results, or a run folder's path
    report = dvae.score(codes, factors, factor_names=names)   # any encoder's numpy codes; no torch needed

See `dvae_cli.api` for `train` and `evaluate`, `dvae_cli.metrics.arrays` for `score`,
`dvae_cli.run_handle` for `load_run` and `Run`.
Importing this package imports no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import dvae_cli
from dvae_cli import __all__ as __all__
from dvae_cli import __version__ as __version__

if TYPE_CHECKING:
    from dvae_cli.api import evaluate as evaluate
    from dvae_cli.api import load_dataset as load_dataset
    from dvae_cli.api import score as score
    from dvae_cli.api import train as train
    from dvae_cli.run_handle import Run as Run
    from dvae_cli.run_handle import load_run as load_run


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(dvae_cli, name)
    raise AttributeError(f"module 'dvae' has no attribute {name!r}")
