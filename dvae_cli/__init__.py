"""dvae: train, evaluate, inspect and compare disentangled variational autoencoders.

From Python (`dvae_cli.api`, `dvae_cli.run_handle`)::

    import dvae                            # the same as: import dvae_cli
    run = dvae.train("small", experiment="quickstart", epochs=1, subsample=1000)
    scores = dvae.evaluate(run, metrics=["mig"], fast=True).scores
    run = dvae.load_run("quickstart")
    mean, logvar = run.encode(images)
    report = dvae.score(codes, factors, factor_names=names)   # numpy codes of any encoder

The command line (`dvae`), a study's cells and this API are thin shells over the same use
cases (`dvae_cli.workflows`):

- `dvae_cli.config`: run specs and the experiment catalogue,
- `dvae_cli.engine`: models, losses (`dvae_cli.losses.get_loss`), trainer, evaluation, export,
- `dvae_cli.data`: datasets,
- `dvae_cli.runs`: reading and writing run folders (no torch).

Importing this package imports no torch: `train`, `evaluate`, `score`, `load_dataset`, `load_run`
and `Run` are loaded on first use; `score` imports torch only for the metrics that sample
the posterior (``mig``, ``aam``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dvae_cli.version import __version__

__all__ = ["Run", "__version__", "evaluate", "load_dataset", "load_run", "score", "train"]

if TYPE_CHECKING:
    from dvae_cli.api import evaluate, load_dataset, score, train
    from dvae_cli.run_handle import Run, load_run


def __getattr__(name: str) -> Any:
    if name in ("Run", "evaluate", "load_dataset", "load_run", "score", "train"):
        from dvae_cli import api

        return getattr(api, name)
    raise AttributeError(f"module 'dvae_cli' has no attribute {name!r}")
