"""`score`: what ``dvae score`` does, as a function: the scores of an encoder dvae did not train.

The encoder is an ONNX or TorchScript file (``dvae export``'s load directly), a Python
``module:callable``, or an ``.npz`` of codes (`dvae_cli.engine.encoders`). Its codes of a
dataset's images are scored as ``dvae eval --metrics`` scores a run's, through the same
function (`dvae_cli.metrics.arrays.score`), and written as a run's are: ``metrics.log``
(with the protocols) and ``metrics_detail.json``, beside a ``scored.json`` that says
what was scored (`dvae_cli.runs.layout.SCORED`), so ``compare`` and ``browse`` list the
folder beside trained runs.

Everything that can be refused is refused before the dataset is encoded: the options,
the encoder (missing, unknown format, a graph that does not load, an output of the wrong
shape on two images), the dataset (unknown, another image size, no factors for a metric
that needs them), the rows of an ``.npz``, the output folder (a trained run's, another
encoder's scores without ``overwrite``, unwritable), and what the metrics need of the
images (`dvae_cli.metrics.suite.check_inputs`). It prints nothing: a shell passes
`ScoreEvents` (``dvae score`` uses `dvae_cli.views.score.ScoreView`).
Importing this module imports no torch and no numpy; `score` does when it computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dvae_cli.catalogue.metrics import needs_factors
from dvae_cli.data.catalog import dataset_info, metrics_dataset
from dvae_cli.errors import ConfigError, CorruptFileError
from dvae_cli.metrics.names import parse_metric_names
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.folder import RunFolder, check_writable, default_data_dir, default_results_dir
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import METRICS_LOG, METRICS_LOG_BACKUP, SCORED, SPECS
from dvae_cli.version import __version__
from dvae_cli.workflows.evaluate import ScoringEvents, metric_settings

if TYPE_CHECKING:
    from dvae_cli.engine.disentanglement import MetricsResult
    from dvae_cli.engine.encoders import EncoderSource
    from dvae_cli.metrics.runner import MetricsReport


@dataclass(frozen=True)
class ScoreRequest:
    """What to score and how (the options of ``dvae score``).

    Attributes:
        encoder: An ``.onnx``, a TorchScript file, a ``dvae export`` folder, an ``.npz`` of
            codes, or ``package.module:callable`` (`dvae_cli.engine.encoders`).
        dataset: The dataset whose images are encoded and whose factors score the codes.
        metrics: Metric names (a sequence, a comma-separated string or ``"all"``); None: the
            default metrics this encoder and dataset allow (notes say which are left out).
        factors: Score only these factors (default: every factor with more than one value).
        n_samples: Posterior samples per entropy (MIG, AAM; default: the settings').
        max_images: Score this many images, chosen with balanced factor values (default: all;
            10,000 with `fast`).
        fast: A quick look (`MetricSettings.fast`): fewer images, samples and classifier points.
        seed: Seed of the image selection and of the metrics.
        batch_size: Images per call of the encoder.
        device: ``auto``, ``cpu`` or ``cuda``: where a TorchScript encoder runs (an ONNX one
            uses onnxruntime's CUDA provider there if installed).
        out: The folder to write (default: ``<results_dir>/<encoder name>-scored``).
        overwrite: Replace the scores already in `out` (the first ``metrics.log`` replaced is
            kept as ``metrics.log.bak``).
        results_dir: Where the default `out` goes (default: ``$DVAE_RESULTS_DIR`` or ``./results``).
        data_dir: Where datasets are (default: ``$DVAE_DATA_DIR`` or ``./data``).
    """

    encoder: str | Path
    dataset: str
    metrics: str | Sequence[str] | None = None
    factors: Sequence[str] | None = None
    n_samples: int | None = None
    max_images: int | None = None
    fast: bool = False
    seed: int = 0
    batch_size: int = 256
    device: str = "auto"
    out: Path | None = None
    overwrite: bool = False
    results_dir: Path | None = None
    data_dir: Path | None = None


@dataclass
class ScoreResult:
    """What `score` computed and wrote.

    Attributes:
        out: The folder written.
        source: The encoder (`dvae_cli.engine.encoders.EncoderSource`).
        metrics: The metrics computed.
        latent_dim: D, the codes' latent dimension.
        log_variances: Whether the encoder gave log-variances with its codes.
        scored: The report, the dataset, the images scored, the files written.
        notes: What was left out of the defaults, and why.
    """

    out: Path
    source: EncoderSource
    metrics: tuple[str, ...]
    latent_dim: int
    log_variances: bool
    scored: MetricsResult
    notes: list[str] = field(default_factory=list)

    @property
    def scores(self) -> dict[str, float | None]:
        """Score name -> value (None: undefined, the reason in its protocol)."""
        return dict(self.scored.report.scores)


class ScoreEvents(ScoringEvents):
    """What `score` reports while it works, beyond `ScoringEvents`. Each method does nothing here."""

    def found(self, source: EncoderSource, out: Path) -> None:
        """The encoder, identified, and the folder that will be written (nothing loaded yet)."""


def score(request: ScoreRequest, events: ScoreEvents | None = None) -> ScoreResult:
    """Encode a dataset's images with an encoder dvae did not train and score the codes (module docstring).

    Args:
        request: What to score (`ScoreRequest`).
        events: Told of the progress (`ScoreEvents`); None: nothing is shown.

    Returns:
        The `ScoreResult`.

    Raises:
        ConfigError: a bad option, a missing or unusable encoder, an output of the wrong shape,
            an ``.npz`` whose rows do not match the dataset, a dataset of another image size
            or without the factors a metric needs, an output folder that cannot be written
            or holds other scores, images the metrics cannot score.
        UnknownNameError: an unknown metric, factor or dataset.
        MissingExtraError: an ONNX encoder without onnxruntime.
        CorruptFileError: an unreadable ``export.json`` or ``.npz``.
        DatasetUnavailableError: the dataset is not here and cannot be made.
    """
    from dvae_cli.engine import encoders
    from dvae_cli.metrics.arrays import choose_metrics

    events = events or ScoreEvents()
    for option, value in (("--batch-size", request.batch_size), ("--n-samples", request.n_samples),
                          ("--max-images", request.max_images)):
        if value is not None and value <= 0:
            raise ConfigError(f"{option} must be a positive integer, got {value}")
    settings = metric_settings(request.seed, request.fast, None, request.n_samples)
    limit = request.max_images if request.max_images is not None else settings.max_images
    name = request.dataset
    info = dataset_info(name)
    if request.metrics is not None:
        asked = parse_metric_names(request.metrics if isinstance(request.metrics, str) else ",".join(request.metrics))
        if needs_factors(asked):
            metrics_dataset(name)   # a dataset without factors: one line naming those that have them
    source = encoders.find_encoder(str(request.encoder))
    encoders.check_image_size(source, name, info.img_size)
    out, replacing = _output_folder(request, source)
    events.found(source, out)
    if replacing:
        events.note(f"--overwrite: the scores in {out} are replaced (the first {METRICS_LOG} replaced is kept as "
                    f"{METRICS_LOG_BACKUP})")
    npz = None
    if source.format == "npz":
        assert source.path is not None
        npz = encoders.read_npz(source.path)
        n_scored = info.n_images if limit is None else min(limit, info.n_images)
        encoders.check_code_rows(source.path, len(npz[0]), npz[2], name, info.n_images, n_scored)
        choose_metrics(request.metrics, info.has_factors, npz[1] is not None)   # refused before the dataset loads
    else:
        encoder = encoders.load_encoder(source, _device(request.device, source.format))
        encoders.check_image_size(encoder, name, info.img_size)
    from dvae_cli.data.loading import load_dataset
    from dvae_cli.metrics.arrays import select_images

    data = load_dataset(name, request.data_dir or default_data_dir(), log=events.log)
    codes = logvar = None
    if npz is not None:
        assert source.path is not None
        codes, logvar, indices = npz
        alignment = encoders.check_code_rows(source.path, len(codes), indices, name, len(data),
                                             len(data) if limit is None else min(limit, len(data)))
        if alignment == "indices" and indices is not None:
            data = data.subset(indices)
        elif alignment == "scored":   # the rows are the images selected below, in order
            rows, _ = select_images(_classes(data), len(data), limit, settings.seed)
            data = data.subset(rows) if rows is not None else data
    rows, selection = select_images(_classes(data), len(data), limit, settings.seed)
    if rows is not None:
        data = data.subset(rows)
        if codes is not None:
            codes, logvar = codes[rows], None if logvar is None else logvar[rows]
    has_logvar = encoders.probe(encoder, data)[1] if npz is None else logvar is not None
    names, sizes, classes = _factors(data)
    chosen, notes = choose_metrics(request.metrics, bool(names), has_logvar)
    if request.metrics is None and not info.has_factors:
        notes = [f"dataset '{name}' has {note}" if note.startswith("no ground-truth") else note for note in notes]
    for note in notes:
        events.note(note)
    from dvae_cli.metrics.suite import check_inputs

    check_inputs(classes, names, sizes, chosen, request.factors, has_posterior=has_logvar)
    return _encode_and_score(request, events, source, out, data, codes, logvar,
                             (names, sizes, classes), chosen, replace(settings, max_images=limit), selection,
                             notes, None if npz is not None else encoder)


def _encode_and_score(request: ScoreRequest, events: ScoreEvents, source: EncoderSource, out: Path, data: Any,
                      codes: Any, logvar: Any, factors: tuple[Any, Any, Any], chosen: tuple[str, ...],
                      settings: Any, selection: str, notes: list[str], encoder: Any) -> ScoreResult:
    """The work, once everything was checked: encode (unless codes were given), write, score."""
    import time

    import torch

    from dvae_cli.engine.disentanglement import MetricsResult, MetricsWriter
    from dvae_cli.engine.encoders import encode_images
    from dvae_cli.metrics.arrays import score as score_arrays

    names, sizes, classes = factors
    started = time.perf_counter()
    with events.scoring() as progress:
        if encoder is not None:
            events.log(f"encoding {len(data):,} images of {request.dataset} with {source.format} encoder "
                       f"{source.reference}")
            codes, logvar = encode_images(encoder, data, request.batch_size,
                                          (lambda done, total: progress("encoding", done, total)) if progress
                                          else None)
        # torch tensors, as dvae eval scores them (the dataset imported torch already)
        codes, logvar = torch.from_numpy(codes), None if logvar is None else torch.from_numpy(logvar)
        out.mkdir(parents=True, exist_ok=True)
        description = scored_description(source, request.dataset, int(codes.shape[1]), len(data),
                                          logvar is not None, selection)
        writer = MetricsWriter(RunFolder(out), request.dataset, [f"z{j}" for j in range(codes.shape[1])], selection,
                               keep_previous=False)   # scores of another encoder, or of another version of it

        def write(report: MetricsReport) -> None:   # scored.json with the first score: never one without the other
            if not writer.written:
                write_json(out / SCORED, description)
            writer.write(report)

        report = score_arrays(codes, classes, logvar=logvar, factor_names=names, factor_sizes=sizes, metrics=chosen,
                              settings=settings, factors_to_score=request.factors, log=events.log, on_score=write,
                              progress=progress)
    result = MetricsResult(report, request.dataset, len(data), time.perf_counter() - started, writer.written,
                           writer.replaced)
    events.scored(result)
    return ScoreResult(out, source, chosen, int(codes.shape[1]), logvar is not None, result, notes)


def scored_description(source: EncoderSource, dataset: str, latent_dim: int, images: int, log_variances: bool,
                       selection: str) -> dict[str, Any]:
    """The content of ``scored.json``: what was scored, on what, by which dvae, when."""
    export = source.export or {}
    return {"encoder": source.describe(), "format": source.format, "dataset": dataset, "latent_dim": latent_dim,
            "images": images, "image_selection": selection, "log_variances": log_variances,
            "exported_from": export.get("run"), "dvae_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _output_folder(request: ScoreRequest, source: EncoderSource) -> tuple[Path, bool]:
    """The folder to write, checked; and whether it holds scores that `ScoreRequest.overwrite` replaces.

    Raises:
        ConfigError: for a trained run's folder, a folder of other files, scores already
            there without `ScoreRequest.overwrite`, an unwritable folder.
    """
    out = Path(request.out) if request.out is not None else \
        (request.results_dir or default_results_dir()) / f"{source.name}-scored"
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder")
    if (out / SPECS).is_file():
        raise ConfigError(f"{out} is the folder of a trained run; score it with dvae eval, or choose another --out")
    replacing = False
    if out.is_dir() and any(out.iterdir()):
        previous = _read_scored(out)
        if previous is None and not (out / METRICS_LOG).is_file():
            raise ConfigError(f"{out} holds other files; choose a new or empty folder with --out")
        if not request.overwrite:
            what = f"the scores of {previous.get('encoder')} on {previous.get('dataset')}" if previous else "scores"
            raise ConfigError(f"{out} already holds {what}; use --overwrite to replace them, or choose another "
                              "folder with --out")
        replacing = True
    check_writable(out, "output folder")
    return out, replacing


def _read_scored(out: Path) -> dict[str, Any] | None:
    try:
        content = read_json(out / SCORED)
    except (FileNotFoundError, NotADirectoryError, CorruptFileError):
        return None
    return content if isinstance(content, dict) else None


def _device(name: str, fmt: str) -> str:
    """Where the encoder runs: the CPU for a callable (it is given numpy arrays), else `name` resolved."""
    if fmt == "callable" or name == "cpu":
        return "cpu"
    from dvae_cli.engine.device import resolve_device

    return str(resolve_device(name))


def _classes(data: Any) -> Any:
    return None if data.factors is None else data.factors.classes


def _factors(data: Any) -> tuple[tuple[str, ...], tuple[int, ...], Any]:
    """(names, sizes, classes (N, K)) of the images' factors; K = 0 for a dataset without."""
    import numpy as np

    if data.factors is None:
        return (), (), np.zeros((len(data), 0), dtype=np.int64)
    return tuple(data.factors.names), tuple(data.factors.sizes), data.factors.classes


__all__ = ["ScoreEvents", "ScoreRequest", "ScoreResult", "score", "scored_description"]
