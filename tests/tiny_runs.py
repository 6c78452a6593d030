"""The suite's one tiny run: 256 sprites, one epoch, batches of 32, three latents, no test pass.

`TINY` is its spec (the values `resolve_run` takes), `tiny_flags` the same run as
``dvae train`` flags, with overrides for tests that need a variant (two epochs, four
latents...); `train_tiny` trains it in this process. The session fixture ``tiny_run``
of conftest.py trains it once for every test that only reads a run.
"""

from __future__ import annotations

from pathlib import Path

TINY = {"subsample": 256, "epochs": 1, "batch_size": 32, "latent_dim": 3, "device": "cpu", "no_test": True}


#: ``dvae train`` flags of each `TINY` key.
_FLAGS = {"subsample": "--subsample", "epochs": "-e", "batch_size": "-b", "latent_dim": "-z", "device": "--device",
          "eval_batchsize": "--eval-batchsize", "loss": "-l", "dataset": "-d", "checkpoint_every": "--checkpoint-every"}


def tiny_flags(**overrides: object) -> list[str]:
    """`TINY` (with `overrides`; ``no_test=False`` drops ``--no-test``) as ``dvae train`` flags."""
    values = {**TINY, **overrides}
    flags = [part for key, flag in _FLAGS.items() if key in values for part in (flag, str(values[key]))]
    return [*flags, "--no-test"] if values.get("no_test") else flags


def train_tiny(results_dir: Path, data_dir: Path, name: str = "tiny") -> Path:
    """Train the run `name` into `results_dir` in this process; return its folder."""
    from dvae_cli.config import resolve_run
    from dvae_cli.engine.run import train_run

    train_run(resolve_run(name, None, TINY).spec, results_dir, data_dir, handle_signals=False)
    return Path(results_dir) / name
