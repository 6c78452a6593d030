"""What ``dvae train NAME --resume`` continues: the run's own spec, and the flags it may change.

A resumed run keeps the spec it was started with (``specs.json``). Only the keys
`dvae_cli.spec.resumable_keys` names may differ: more epochs, what changes nothing
trained (the display, the device, checkpoints, the evaluation at the end: the keys
a study may change too) and the optimiser's settings (`dvae_cli.spec.optimiser_keys`),
so that a diverged run continues from its last good checkpoint with a lower
learning rate or gradient clipping. Those changes are recorded in ``specs.json``
(``changes``) when training resumes. Imports no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dvae_cli.errors import ConfigError, RunExistsError, RunNotFoundError
from dvae_cli.runs.folder import RunFolder, list_run_names
from dvae_cli.runs.layout import TRAINING_LOCK
from dvae_cli.runs.training_lock import lock_alive
from dvae_cli.spec import RunSpec, resumable_keys


def resumable_folder(results_dir: Path, name: str) -> RunFolder:
    """The folder of run `name`, which must exist and not be training now.

    Raises:
        RunNotFoundError: if there is no such run (the closest names are suggested).
        RunExistsError: if another process is training it.
    """
    folder = RunFolder(Path(results_dir) / name)
    if not folder.specs_path.is_file():
        import difflib

        names = list_run_names(Path(results_dir))
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        choices = f"; runs there: {', '.join(names[:20])}" if names else ""
        raise RunNotFoundError(f"no run '{name}' to resume in {results_dir}{hint}{choices}")
    lock = folder.path / TRAINING_LOCK
    if lock.is_file() and lock_alive(lock):
        raise RunExistsError(f"run '{name}' is being trained by another process now ({lock}); "
                             "stop it before resuming")
    return folder


def resumed_spec(folder: RunFolder, flags: dict[str, Any], experiment: str | None = None) -> RunSpec:
    """The spec of the run in `folder`, with the flags a resumed run may change applied.

    Args:
        folder: The run folder.
        flags: Options given explicitly on the command line (`RunSpec` field names).
        experiment: ``-x`` if given: it must be the run's own experiment.

    Raises:
        CorruptFileError: if ``specs.json`` cannot be read.
        ConfigError: if a flag would change what is trained (naming the stored value).
    """
    spec = folder.read_spec()
    spec.name = folder.name  # the folder is the run, whatever a copied specs.json says
    if experiment is not None and experiment != spec.experiment:
        raise ConfigError(f"-x {experiment}: run '{folder.name}' was started from experiment "
                          f"'{spec.experiment}'; a resumed run keeps its spec")
    flags = spec.as_stored(flags)   # --epochs, --batch-size as typed; stored doubled for the factor loss
    may_change = resumable_keys()
    for key, value in flags.items():
        if key in may_change or (key == "img_size" and spec.img_size and value == spec.img_size[-1]):
            continue
        if getattr(spec, key, None) != value:
            flag = "--" + key.replace("_", "-")
            raise ConfigError(f"{flag} {value} differs from run '{folder.name}' ({getattr(spec, key, None)}): "
                              "a resumed run keeps its spec; drop the flag or train a new run")
    for key in may_change:
        if key in flags:
            setattr(spec, key, flags[key])
    return spec.validate()
