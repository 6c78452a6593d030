"""The Python API: `train`, `evaluate`, `score` and `load_dataset`, beside `dvae_cli.run_handle.load_run`.

    >>> import dvae
    >>> run = dvae.train("small", experiment="quickstart", epochs=1, subsample=1000)
    >>> scores = dvae.evaluate(run, metrics=["mig"], fast=True).scores    # or run.evaluate(...)
    >>> report = dvae.score(codes, factors, factor_names=names, metrics=["dci"])   # any encoder's codes

`train` and `evaluate` are thin shells over their use cases (`dvae_cli.workflows.train`,
`dvae_cli.workflows.evaluate`), as ``dvae train`` and ``dvae eval`` are: the same checks,
files, trackers and errors. `score` is `dvae_cli.metrics.arrays.score`, the function
``dvae eval`` and ``dvae score`` score codes with: numpy arrays in, plain Python out, no
torch needed. They print nothing; progress lines go to `log` if given.
Importing this module imports no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.metrics.arrays import score
from dvae_cli.run_handle import Run, load_run
from dvae_cli.runs.folder import default_data_dir
from dvae_cli.workflows.evaluate import EvaluateRequest, EvaluateResult, LogEvents
from dvae_cli.workflows.evaluate import evaluate as evaluate_workflow
from dvae_cli.workflows.train import TrainRequest
from dvae_cli.workflows.train import train as train_workflow

if TYPE_CHECKING:
    from dvae_cli.data.in_memory import ImageSource
    from dvae_cli.engine.callbacks import CallbackSpec


def train(name: str, experiment: str | None = None, *, results_dir: str | Path | None = None,
          data_dir: str | Path | None = None, overwrite: bool = False, resume: bool = False,
          callbacks: Sequence[CallbackSpec] = (), log: Callable[[str], None] | None = None,
          **overrides: Any) -> Run:
    """Train a run (as ``dvae train NAME -x EXPERIMENT --key value ...``) and open it.

    Args:
        name: The run's name: its folder under `results_dir`. Without `experiment`, an
            experiment of ``experiments.toml`` of that name is used if there is one.
        experiment: The experiment to start from (default: the rule above, else ``custom``).
        results_dir: Where run folders go (default: ``$DVAE_RESULTS_DIR`` or ``./results``).
        data_dir: Where datasets are cached (default: ``$DVAE_DATA_DIR`` or ``./data``).
        overwrite: Replace an existing run of the same name.
        resume: Continue the run from its saved training state (``epochs=N`` may grow it).
        callbacks: More training callbacks (`dvae_cli.engine.hooks.Callback`, or factories of them).
        log: Called with one-line progress messages.
        **overrides: Spec values over the experiment's, by ``specs.json`` name, as ``dvae train``
            takes them (``epochs=5``, ``loss="btcvae"``, ``btcvae_B=6.0``, ``subsample=1000``).

    Returns:
        The trained run (`dvae_cli.run_handle.Run`), its model on the CPU.

    Raises:
        RunExistsError: the run exists and neither `overwrite` nor `resume` is set.
        ConfigError, UnknownNameError: a value ``dvae train`` would refuse, naming the valid choices.
        TrainingInterrupted, NonFiniteLossError, DatasetUnavailableError: as ``dvae train``.
    """
    request = TrainRequest(name=name, experiment=experiment, overrides=overrides,
                           results_dir=_path(results_dir), data_dir=_path(data_dir), overwrite=overwrite,
                           resume=resume)
    result = train_workflow(request, callbacks=callbacks, log=log)
    return load_run(result.folder.path)


def evaluate(run: Run | str | Path, metrics: bool | str | Sequence[str] = True, *, fast: bool = False,
             test: bool = True, results_dir: str | Path | None = None, data_dir: str | Path | None = None,
             log: Callable[[str], None] | None = None, **options: Any) -> EvaluateResult:
    """Test losses and disentanglement scores of a run (as ``dvae eval RUN --metrics``); written into its folder.

    Args:
        run: A `Run`, a run name under `results_dir`, or a run folder's path (dvae's or disentangling-vae's).
        metrics: True: the default metrics (on a dataset without factors, those that need none);
            ``"all"``; a list of names (``["mig", "dci"]``); False: the test losses only.
        fast: ``dvae eval --fast``: a quick look with fewer images and samples.
        test: Compute the test losses (``test_losses.log``) too.
        results_dir: Where run names are looked up (default: ``$DVAE_RESULTS_DIR`` or ``./results``).
        data_dir: Where datasets are (default: ``$DVAE_DATA_DIR`` or ``./data``).
        log: Called with one-line progress messages.
        **options: The other fields of `dvae_cli.workflows.evaluate.EvaluateRequest`: ``dataset``,
            ``factors``, ``n_samples``, ``max_images``, ``seed``, ``batch_size``, ``device``, ``trackers``.

    Returns:
        `dvae_cli.workflows.evaluate.EvaluateResult`: ``.scores`` (name -> value, None where not
        computed), ``.test_losses``, the protocols and files under ``.scored``.

    Raises:
        TypeError: for an option `EvaluateRequest` does not have.
        ConfigError: nothing to compute, a bad value, a dataset without the factors a metric needs.
        RunNotFoundError, CorruptFileError, DatasetUnavailableError: as ``dvae eval``.
    """
    where: str | Path = run.folder.path if isinstance(run, Run) else run
    request = EvaluateRequest(run=where, metrics=metrics, test=test, fast=fast, results_dir=_path(results_dir),
                              data_dir=_path(data_dir), **options)
    return evaluate_workflow(request, LogEvents(log) if log is not None else None)


def load_dataset(name: str, data_dir: str | Path | None = None) -> ImageSource:
    """Every image of a dataset (generated or prepared first if missing, as ``dvae data prepare``).

    ``load_dataset("sprites").images(0, 8)`` is (8, 1, 64, 64) float32 in [0, 1]; ``.factors``
    holds the ground-truth factors of the datasets that have them (None otherwise).

    Args:
        name: A dataset of ``dvae data list``.
        data_dir: Where datasets are cached (default: ``$DVAE_DATA_DIR`` or ``./data``).

    Raises:
        UnknownNameError: naming the datasets. DatasetUnavailableError: its files are missing here.
    """
    from dvae_cli.data.loading import load_dataset as load

    return load(name, _path(data_dir) or default_data_dir())


def _path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


__all__ = ["Run", "evaluate", "load_dataset", "load_run", "score", "train"]
