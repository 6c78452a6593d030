"""`evaluate`: what ``dvae eval`` does, as a function: test losses, then scores, then the trackers.

It owns the rules of an evaluation: the checks made before any work, the fallback to
the metrics that need no factors (``--metrics`` on a dataset without them), the metric
settings (`metric_settings`), the test losses before the scores, the files written and
the values mirrored into experiment trackers. It prints nothing: a shell shows its
progress through an `EvaluateEvents` it passes in (``dvae eval`` and a study cell use
`dvae_cli.views.evaluate.EvaluationView`), and reads the rest in the `EvaluateResult`.

Underneath, one `dvae_cli.engine.eval_context.EvaluationContext` reads the spec, checks
the folder and loads the model and the dataset once for both the test losses and the scores.
Importing this module imports no torch; `evaluate` does when it computes.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.catalogue.metrics import factor_free_metrics, needs_factors
from dvae_cli.catalogue.trackers import (
    TRACKERS,
    check_installed,
    is_installed,
    parse_trackers,
)
from dvae_cli.data.catalog import dataset_info, metrics_dataset
from dvae_cli.errors import ConfigError
from dvae_cli.metrics.names import MetricSettings, parse_metric_names
from dvae_cli.runs.folder import RunFolder, default_data_dir, default_results_dir

if TYPE_CHECKING:
    from dvae_cli.engine.disentanglement import MetricsResult
    from dvae_cli.engine.evaluate import Evaluation

#: Called with (phase, done, total) during the long phases of scoring.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EvaluateRequest:
    """What to evaluate and how (the options of ``dvae eval``).

    Attributes:
        run: A run name under `results_dir`, or the path of a run folder (dvae's or disentangling-vae's).
        metrics: Which scores: False: none; True: the default metrics; ``"all"``: every
            registered one (True and ``"all"`` fall back to the metrics that need no
            factors on a dataset without them, with a note); a comma-separated string or
            a sequence of names: exactly those.
        test: Compute the test losses (``test_losses.log``).
        dataset: Evaluate on another dataset with images of the model's size (default: the run's).
        factors: Score only these factors (default: every factor with more than one value).
        n_samples: Posterior samples per entropy (MIG, AAM; default: the settings').
        max_images: Score this many images, chosen with balanced factor values (default: all;
            10,000 with `fast`).
        fast: A quick look (`MetricSettings.fast`): fewer images, samples and classifier points.
        seed: Seed of the metrics (default: the run's).
        batch_size: Images per test-loss batch (default: the run's ``eval_batchsize``).
        device: ``auto``, ``cpu`` or ``cuda``.
        trackers: Mirror the test losses and scores into these experiment trackers (names, or a
            comma-separated string; ``"none"``: no tracker); None: the run's own that are installed.
        results_dir: Where run names are looked up (default: ``$DVAE_RESULTS_DIR`` or ``./results``).
        data_dir: Where datasets are (default: ``$DVAE_DATA_DIR`` or ``./data``).
    """

    run: str | Path
    metrics: bool | str | Sequence[str] = False
    test: bool = True
    dataset: str | None = None
    factors: Sequence[str] | None = None
    n_samples: int | None = None
    max_images: int | None = None
    fast: bool = False
    seed: int | None = None
    batch_size: int | None = None
    device: str = "auto"
    trackers: str | Sequence[str] | None = None
    results_dir: Path | None = None
    data_dir: Path | None = None


@dataclass
class EvaluateResult:
    """What `evaluate` computed, wrote and logged.

    Attributes:
        folder: The run folder.
        metrics: The metrics scored (after the fallback to those that need no factors); empty: none.
        test: The test losses and how they were computed (None: not asked for).
        scored: The scores, their protocols and the files written (None: no metric asked for).
        notes: Notes about what was chosen (the fallback), also given to `EvaluateEvents.note`.
        trackers: Tracker name -> where its run is (link or command), for each tracker logged into.
    """

    folder: RunFolder
    metrics: tuple[str, ...]
    test: Evaluation | None = None
    scored: MetricsResult | None = None
    notes: list[str] = field(default_factory=list)
    trackers: dict[str, str] = field(default_factory=dict)

    @property
    def test_losses(self) -> dict[str, float] | None:
        """Loss term -> mean over the test set (None: not computed)."""
        return None if self.test is None else self.test.losses

    @property
    def scores(self) -> dict[str, float | None]:
        """Score name (``MIG``, ``DCI_disentanglement``, ...) -> value (None: not computed); empty without metrics."""
        return {} if self.scored is None else dict(self.scored.report.scores)


class ScoringEvents:
    """What a use case that scores (`evaluate`, `dvae_cli.workflows.score.score`) reports while it works.

    Each method does nothing here; a shell overrides those it shows.
    """

    def note(self, text: str) -> None:
        """A note about what will be computed, before any work (a fallback, a default metric left out)."""

    def log(self, text: str) -> None:
        """A progress line (a dataset generated, a phase of scoring started, a warning of the metrics)."""

    @contextlib.contextmanager
    def scoring(self) -> Iterator[Progress | None]:
        """Entered around the scoring; yields what is called with (phase, done, total), or None."""
        yield None

    def scored(self, result: MetricsResult) -> None:
        """The scores, computed and written."""


class EvaluateEvents(ScoringEvents):
    """What `evaluate` reports while it works, beyond `ScoringEvents`. Each method does nothing here."""

    def found(self, folder: RunFolder) -> None:
        """The run folder to evaluate, found (nothing of it read yet)."""

    def tested(self, evaluation: Evaluation) -> None:
        """The test losses, computed and written, before any score."""

    def warn(self, text: str) -> None:
        """A tracker's warning (it failed and is left out); Python's warnings by default."""
        warnings.warn(text, stacklevel=2)


class LogEvents(EvaluateEvents):
    """`EvaluateEvents` that pass the progress lines, and the notes as ``note: ...``, to a `log` callable."""

    def __init__(self, log: Callable[[str], None]) -> None:
        self._log = log

    def note(self, text: str) -> None:
        self._log(f"note: {text}")

    def log(self, text: str) -> None:
        self._log(text)


def chosen_metrics(metrics: bool | str | Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """The metric names asked for, and whether they may fall back to those that need no factors.

    Raises:
        UnknownNameError: for a name that is not a metric.
        ConfigError: for an empty list of names.
    """
    if metrics is False or metrics is None:
        return (), False
    if metrics is True:
        return parse_metric_names(None), True
    text = metrics if isinstance(metrics, str) else ",".join(metrics)
    return parse_metric_names(text), text.strip().lower() == "all"


def metric_settings(run_seed: int, fast: bool = False, seed: int | None = None,
                    n_samples: int | None = None) -> MetricSettings:
    """The sample sizes and seed of the scores: the standard ones or `fast`'s, seeded with `seed` or the run's."""
    settings = MetricSettings.fast(seed=run_seed) if fast else MetricSettings(seed=run_seed)
    if seed is not None:
        settings = settings.with_seed(seed)
    if n_samples is not None:
        settings = replace(settings, n_samples=n_samples)
    return settings


def evaluate(request: EvaluateRequest, events: EvaluateEvents | None = None) -> EvaluateResult:
    """Compute a run's test losses over its whole test set and, if asked, its disentanglement scores.

    Everything that can be refused is refused before any work: the options, the run
    (its ``specs.json``, a writable folder, a ``model.pt``), the trackers, the dataset (its
    image size, its factors for the metrics that need them). Then the test losses are
    computed and written (``test_losses.log``, the first version kept as ``.bak``), then the
    scores (``metrics.log``, ``metrics_detail.json``, rewritten after each metric), then both
    are logged into the trackers at the run's last training step.

    Args:
        request: What to evaluate (`EvaluateRequest`).
        events: Told of the progress (`EvaluateEvents`); None: nothing is shown.

    Returns:
        The `EvaluateResult`.

    Raises:
        ConfigError: a bad option, nothing to compute, a dataset of another image size or
            without the factors a metric needs, an unwritable run folder, a tracker that is
            not installed, a test set too small for the loss.
        UnknownNameError: an unknown metric, dataset or tracker.
        RunNotFoundError: no such run.
        CorruptFileError: an unreadable ``specs.json``, ``model.pt`` or training state, or no
            ``model.pt`` (saying how the run ended).
        DatasetUnavailableError: the dataset is not here and cannot be made.
    """
    from dvae_cli.engine.eval_context import EvaluationContext

    events = events or EvaluateEvents()
    for option, value in (("--eval-batchsize", request.batch_size), ("--n-samples", request.n_samples),
                          ("--max-images", request.max_images)):
        if value is not None and value <= 0:
            raise ConfigError(f"{option} must be a positive integer, got {value}")
    chosen, may_fall_back = chosen_metrics(request.metrics)
    if not request.test and not chosen:
        raise ConfigError("--no-test without --metrics leaves nothing to compute")
    folder = RunFolder.find(str(request.run), request.results_dir or default_results_dir())
    events.found(folder)
    # the spec is read (a broken specs.json fails here, before torch) and the folder checked writable, once
    context = EvaluationContext(folder, request.data_dir or default_data_dir(), dataset=request.dataset,
                                device=request.device, log=events.log)
    spec = context.spec
    folder.require_model()   # a run that diverged or is training says so
    trackers = eval_trackers(request.trackers, spec.tracker)
    chosen, notes = _check_dataset(context.dataset, request.dataset, spec.img_size, chosen, may_fall_back)
    for note in notes:
        events.note(note)
    result = EvaluateResult(folder, chosen, notes=notes)
    tracked: dict[str, float | None] = {}
    if request.test:
        from dvae_cli.engine.evaluate import evaluate_test_set  # imports torch

        result.test = evaluate_test_set(context, batch_size=request.batch_size)
        events.tested(result.test)
        tracked.update({f"test/{key}": value for key, value in result.test.losses.items()})
    if chosen:
        from dvae_cli.engine.disentanglement import score_run

        settings = metric_settings(spec.seed, request.fast, request.seed, request.n_samples)
        with events.scoring() as progress:
            result.scored = score_run(context, chosen, settings, request.factors, request.max_images, progress)
        events.scored(result.scored)
        tracked.update({f"metrics/{key}": value for key, value in result.scored.report.scores.items()})
    if trackers and tracked:
        result.trackers = log_to_trackers(trackers, folder.path, spec.to_dict(), tracked, events.warn)
    return result


def _check_dataset(name: str, asked: str | None, img_size: Sequence[int] | None, chosen: tuple[str, ...],
                   may_fall_back: bool) -> tuple[tuple[str, ...], list[str]]:
    """The metrics to compute on dataset `name` and the notes to give; refuse a dataset that cannot be used."""
    notes = []
    if chosen and needs_factors(chosen) and may_fall_back and not dataset_info(name).has_factors \
            and factor_free_metrics():   # --metrics (or --metric all) on a dataset without factors
        chosen = factor_free_metrics()
        notes.append(f"dataset '{name}' has no ground-truth factors: computing the metrics that need none "
                     f"({', '.join(chosen)})")
    if chosen and needs_factors(chosen):  # a dataset without factors fails before the test losses load anything
        metrics_dataset(name, img_size)
    elif chosen and list(dataset_info(name).img_size) != list(img_size or ()):
        size = list(dataset_info(name).img_size)   # the metrics that need no factors
        raise ConfigError(f"dataset '{name}' has {size} images but the run's model takes "
                          f"{list(img_size or ())}; choose a dataset of that size with -d")
    elif asked is not None:
        dataset_info(asked)
    return chosen, notes


def eval_trackers(given: str | Sequence[str] | None, the_runs: list[str]) -> list[str]:
    """The trackers an evaluation logs into: `given` (refused now if not installed), else the run's own.

    A tracker the run was trained with whose package is missing here is left out.

    Raises:
        UnknownNameError: for a name that is not a tracker.
        ConfigError: for a given tracker whose package is not installed.
    """
    if given is not None:
        names = parse_trackers(given if isinstance(given, str) else list(given))
        check_installed(names)
        return names
    return [name for name in the_runs if name in TRACKERS and is_installed(name)]


def log_to_trackers(names: list[str], folder: Path, spec: dict[str, Any], values: dict[str, float | None],
                    warn: Callable[[str], None]) -> dict[str, str]:
    """Log `values` at the run's last training step into its tracker runs (continuing them).

    Returns:
        Tracker name -> where its run is, for each tracker that logged (a failing one warns and is left out).
    """
    from dvae_cli.runs.outcome import read_outcome
    from dvae_cli.runs.tracker_links import tracker_links
    from dvae_cli.trackers.session import TrackerSession

    outcome = read_outcome(folder)
    step = outcome.step if outcome else 0
    session = TrackerSession(names, folder, spec.get("name") or folder.name, spec, first_step=step, warn=warn)
    session.log_scalars({key: value for key, value in values.items() if value is not None}, step)
    logged = list(session.active)
    session.finish("finished")
    links = tracker_links(folder)
    return {name: links.get(name, "") for name in logged}


__all__ = ["EvaluateEvents", "EvaluateRequest", "EvaluateResult", "chosen_metrics", "eval_trackers", "evaluate",
           "log_to_trackers", "metric_settings"]
