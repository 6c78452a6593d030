"""Run specifications and the experiment catalogue (`experiments.toml`).

One path for every run: the catalogue plus explicit command-line flags resolve into
one `RunSpec`, which the engine trains and which is written to ``specs.json``. The
field names are those of disentangling-vae's ``specs.json`` so that its results
folders read back unchanged.

Precedence, lowest first: the `RunSpec` field defaults < ``[defaults]`` < the
dataset's common section < the loss's common section < the experiment < flags
given explicitly on the command line.

This module imports only the standard library (no torch).
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvae_cli.data.catalog import DATASET_NAMES, dataset_info
from dvae_cli.errors import ConfigError, CorruptFileError, UnknownNameError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

LOSSES: tuple[str, ...] = ("VAE", "betaH", "betaB", "factor", "btcvae")
REC_DISTS: tuple[str, ...] = ("bernoulli", "laplace", "gaussian")
MODEL_TYPES: tuple[str, ...] = ("Burgess",)
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
BTCVAE_SAMPLINGS: tuple[str, ...] = ("mss", "mws")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
LOG_LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug", "notset")

#: The hyper-parameters that characterise each loss (shown by `experiments list`
#: and `compare`).
LOSS_KEY_PARAMS: dict[str, tuple[str, ...]] = {
    "VAE": (),
    "betaH": ("betaH_B",),
    "betaB": ("betaB_initC", "betaB_finC", "betaB_G"),
    "factor": ("factor_G", "lr_disc"),
    "btcvae": ("btcvae_A", "btcvae_B", "btcvae_G", "btcvae_sampling"),
}

#: Images an evaluation batch of each loss needs (btcvae compares each image with the rest of its batch).
MIN_EVAL_BATCH: dict[str, int] = {"btcvae": 2}

#: A bound that keeps a hostile or mistyped specs.json from allocating gigabytes.
MAX_LATENT_DIM = 4096

CATALOGUE_ENV = "DVAE_EXPERIMENTS"
CATALOGUE_FILENAME = "experiments.toml"
CUSTOM_EXPERIMENT = "custom"


@dataclass
class RunSpec:
    """Every parameter of one run; written as ``specs.json``.

    The defaults are those of disentangling-vae's ``[Custom]`` section, except the
    dataset (the embedded ``sprites``, so that everything works offline).
    """

    name: str = "run"
    experiment: str = CUSTOM_EXPERIMENT
    # data
    dataset: str = "sprites"
    img_size: list[int] | None = None
    subsample: int | None = None
    test_fraction: float = 0.1
    #: Seed of the train/test split and of the subsample (fixed across runs by default,
    #: so that runs on a dataset share their test images).
    split_seed: int = 0
    # model
    model_type: str = "Burgess"
    latent_dim: int = 10
    # loss
    loss: str = "betaB"
    rec_dist: str = "bernoulli"
    reg_anneal: float = 10000
    betaH_B: float = 4
    betaB_initC: float = 0
    betaB_finC: float = 25
    betaB_G: float = 100
    factor_G: float = 6
    lr_disc: float = 5e-5
    btcvae_A: float = 1
    btcvae_G: float = 1
    btcvae_B: float = 6
    btcvae_sampling: str = "mss"
    # training
    epochs: int = 100
    batch_size: int = 64
    lr: float = 5e-4
    checkpoint_every: int = 30
    #: Clip the global L2 norm of the VAE's gradients to this value each step (None: no clipping).
    clip_grad: float | None = None
    seed: int = 1234
    device: str = "auto"
    no_cuda: bool = False
    factor_doubled: bool = False
    #: Processes that trained the run (torchrun); `batch_size` is per process.
    world_size: int = 1
    # evaluation
    no_test: bool = False
    eval_batchsize: int = 1000
    is_metrics: bool = False
    is_eval_only: bool = False
    # display
    log_level: str = "info"
    no_progress_bar: bool = False
    # filled in when training starts
    n_train: int | None = None
    n_test: int | None = None
    dvae_version: str | None = None
    #: Optimiser settings changed when the run was resumed: one entry per resume that changed
    #: any, ``{"step": S, "epoch": E, "lr": [old, new], ...}`` (step and epoch where it resumed).
    changes: list[dict[str, Any]] = field(default_factory=list)
    #: Keys of a ``specs.json`` that this version does not know (kept, written back).
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> RunSpec:
        """Check every value; return self.

        Raises:
            ConfigError: naming the bad parameter, its value and what is allowed.
        """
        _choice("loss", self.loss, LOSSES)
        _choice("rec-dist", self.rec_dist, REC_DISTS)
        _choice("model type", self.model_type, MODEL_TYPES)
        _choice("device", self.device, DEVICES)
        _choice("btcvae sampling", self.btcvae_sampling, BTCVAE_SAMPLINGS)
        _choice("log level", self.log_level.lower(), LOG_LEVELS)
        dataset_info(self.dataset)
        for key in ("epochs", "batch_size", "latent_dim", "checkpoint_every", "eval_batchsize"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{_flag(key)} must be a positive integer, got {value!r}")
        if self.latent_dim > MAX_LATENT_DIM:
            raise ConfigError(f"--latent-dim must be at most {MAX_LATENT_DIM}, got {self.latent_dim}")
        for key in ("lr", "lr_disc"):
            value = getattr(self, key)
            if not _finite(value) or value <= 0:
                raise ConfigError(f"{_flag(key)} must be a positive number, got {value!r}")
        for key in ("reg_anneal", "betaH_B", "betaB_initC", "betaB_finC", "betaB_G", "factor_G",
                    "btcvae_A", "btcvae_G", "btcvae_B", "test_fraction"):
            if not _finite(getattr(self, key)):
                raise ConfigError(f"{_flag(key)} must be a finite number, got {getattr(self, key)!r}")
        if self.clip_grad is not None and (not _finite(self.clip_grad) or self.clip_grad <= 0):
            raise ConfigError(f"--clip-grad must be a positive number (the largest gradient norm), got "
                              f"{self.clip_grad!r}")
        if self.reg_anneal < 0:
            raise ConfigError(f"--reg-anneal must be >= 0, got {self.reg_anneal!r}")
        if not 0 <= self.test_fraction < 1 or (self.test_fraction == 0 and not self.no_test):
            raise ConfigError(f"--test-fraction must be in (0, 1), or 0 with --no-test (train on every image, as "
                              f"disentangling-vae does), got {self.test_fraction!r}")
        if self.subsample is not None and self.subsample <= 0:
            raise ConfigError(f"--subsample must be a positive integer, got {self.subsample!r}")
        if self.loss == "btcvae" and self.batch_size < 2:
            raise ConfigError("--batch-size must be >= 2 with the btcvae loss: its estimator "
                              f"compares each sample with the rest of the batch, got {self.batch_size}")
        if not self.no_test and self.eval_batchsize < MIN_EVAL_BATCH.get(self.loss, 1):
            raise ConfigError("--eval-batchsize must be >= 2 with the btcvae loss: its estimator compares each "
                              f"test image with the rest of its batch, got {self.eval_batchsize} (or use --no-test)")
        if self.loss == "factor" and self.batch_size < 4:
            if self.factor_doubled:   # what the user typed, before the doubling
                raise ConfigError("--batch-size must be >= 2 with the factor loss (each step takes two batches "
                                  f"of that size, one for the discriminator), got {self.batch_size // 2}")
            raise ConfigError("--batch-size must be >= 4 with the factor loss (two halves of at "
                              f"least 2), got {self.batch_size}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The ``specs.json`` content: every field, unknown keys merged back, sorted."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        data.update(self.extra)
        if data["img_size"] is not None:
            data["img_size"] = list(data["img_size"])
        return dict(sorted(data.items()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """Build a spec from a ``specs.json`` mapping (dvae's or disentangling-vae's).

        Missing keys take their defaults; unknown keys are kept in `extra`.

        Raises:
            ConfigError: if a known key has a value of the wrong type.
        """
        known = {f.name: f for f in dataclasses.fields(cls) if f.name != "extra"}
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                kwargs[key] = _coerce(key, value, _field_type(known[key]))
            elif key == "model":  # the name used by hyperparam.ini
                kwargs["model_type"] = _coerce(key, value, str)
            else:
                extra[key] = value
        return cls(**kwargs, extra=extra)

    def key_params(self) -> dict[str, Any]:
        """The hyper-parameters that characterise this run's loss."""
        return {key: getattr(self, key) for key in LOSS_KEY_PARAMS[self.loss]}


def spec_fields() -> dict[str, type]:
    """Map each settable `RunSpec` field to its Python type (int, float, str, bool)."""
    return {f.name: _field_type(f) for f in dataclasses.fields(RunSpec)
            if f.name not in ("extra", "name", "img_size", "n_train", "n_test", "dvae_version", "world_size",
                              "changes")}


# --------------------------------------------------------------------------- catalogue


@dataclass
class Catalogue:
    """The experiment catalogue: ``[defaults]``, dataset and loss commons, experiments."""

    path: Path
    defaults: dict[str, Any]
    datasets: dict[str, dict[str, Any]]
    losses: dict[str, dict[str, Any]]
    experiments: dict[str, dict[str, Any]]

    @property
    def names(self) -> list[str]:
        """The experiment names in file order."""
        return list(self.experiments)

    def description(self, experiment: str) -> str:
        """The one-line description of an experiment ('' if none)."""
        return str(self.experiments[experiment].get("description", ""))

    def layers(self, experiment: str) -> list[tuple[str, dict[str, Any]]]:
        """The parameter layers of an experiment, lowest precedence first.

        Raises:
            UnknownNameError: if the experiment is not in the catalogue.
        """
        if experiment not in self.experiments:
            raise UnknownNameError("experiment", experiment, self.names)
        own = {k: v for k, v in self.experiments[experiment].items() if k != "description"}
        layers = [("defaults", self.defaults)]
        # Only the dataset and loss an experiment names itself bring their commons,
        # as in disentangling-vae (`custom` and `debug` use the defaults alone).
        if "dataset" in own and own["dataset"] in self.datasets:
            layers.append((f"datasets.{own['dataset']}", self.datasets[own["dataset"]]))
        if "loss" in own and own["loss"] in self.losses:
            layers.append((f"losses.{own['loss']}", self.losses[own["loss"]]))
        layers.append((f"experiments.{experiment}", own))
        return layers

    def params(self, experiment: str) -> dict[str, Any]:
        """The merged parameters of an experiment (without command-line flags)."""
        merged: dict[str, Any] = {}
        for _, layer in self.layers(experiment):
            merged.update(layer)
        return merged


def catalogue_path() -> Path:
    """Where the catalogue is read from.

    ``$DVAE_EXPERIMENTS`` if set, else ``./experiments.toml`` if present, else the
    copy that ships with dvae (the repository root or the installed package).
    """
    env = os.environ.get(CATALOGUE_ENV)
    if env:
        return Path(env)
    local = Path.cwd() / CATALOGUE_FILENAME
    if local.is_file():
        return local
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / CATALOGUE_FILENAME, package_dir.parent / CATALOGUE_FILENAME):
        if candidate.is_file():
            return candidate
    return package_dir.parent / CATALOGUE_FILENAME


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Read and check an experiments file.

    Raises:
        CorruptFileError: if the file is missing, not TOML, or has an unknown key
            or a value of the wrong type or out of range (the message names the
            file, the section and the key).
    """
    path = Path(path) if path is not None else catalogue_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptFileError(f"experiments file not found: {path} (set ${CATALOGUE_ENV})") from None
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"cannot read experiments file {path}: not UTF-8 text ({exc.reason} at byte "
                               f"{exc.start})") from None
    except OSError as exc:
        raise CorruptFileError(f"cannot read experiments file {path}: {exc.strerror or exc}") from None
    except RecursionError:
        raise CorruptFileError(f"cannot read experiments file {path}: nested too deeply") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer past Python's limit of digits
        raise CorruptFileError(f"cannot read experiments file {path}: {str(exc).split(';')[0]}") from None
    unknown_sections = set(raw) - {"defaults", "datasets", "losses", "experiments"}
    if unknown_sections:
        raise CorruptFileError(f"{path}: unknown section(s) {sorted(unknown_sections)}; "
                               "expected defaults, datasets, losses, experiments")
    fields = spec_fields()

    def check(section: str, table: Any, allow_description: bool = False) -> dict[str, Any]:
        if not isinstance(table, dict):
            raise CorruptFileError(f"{path}: [{section}] must be a table")
        out: dict[str, Any] = {}
        for key, value in table.items():
            if key == "description" and allow_description:
                out[key] = str(value)
                continue
            if key not in fields:
                raise CorruptFileError(f"{path}: [{section}] unknown parameter {_quoted(key)}")
            try:
                out[key] = _coerce(key, value, fields[key])
                RunSpec(**{key: out[key]}).validate()  # the value alone (e.g. epochs = 0, loss = "foo")
            except ConfigError as exc:
                raise CorruptFileError(f"{path}: [{section}] {exc}") from None
        return out

    def group(name: str, allow_description: bool = False) -> dict[str, dict[str, Any]]:
        tables = raw.get(name, {})
        if not isinstance(tables, dict):
            raise CorruptFileError(f"{path}: [{name}] must be a table of tables")
        return {k: check(f"{name}.{_shown(k)}", v, allow_description) for k, v in tables.items()}

    catalogue = Catalogue(path=path, defaults=check("defaults", raw.get("defaults", {})),
                          datasets=group("datasets"), losses=group("losses"),
                          experiments=group("experiments", allow_description=True))
    for name in catalogue.datasets:
        if name not in DATASET_NAMES:
            raise CorruptFileError(f"{path}: [datasets.{_shown(name)}] is not a dataset; "
                                   f"choose from: {', '.join(DATASET_NAMES)}")
    for name in catalogue.losses:
        if name not in LOSSES:
            raise CorruptFileError(f"{path}: [losses.{_shown(name)}] is not a loss; "
                                   f"choose from: {', '.join(LOSSES)}")
    return catalogue


@dataclass
class Resolution:
    """The outcome of resolving a run: its spec and where the values came from."""

    spec: RunSpec
    experiment: str
    #: True when the run name itself selected the experiment (``dvae train NAME``).
    from_name: bool
    #: parameter -> layer it came from (``defaults``, ``experiments.X``, ``flag``, ...)
    sources: dict[str, str]


def resolve_run(name: str, experiment: str | None = None, flags: dict[str, Any] | None = None,
                catalogue: Catalogue | None = None) -> Resolution:
    """Resolve the spec of a run.

    Args:
        name: The run name (the results sub-folder). If `experiment` is None and
            `name` is an experiment of the catalogue, that experiment is used.
        experiment: The experiment to start from (``-x``); None for the above rule,
            falling back to ``custom``.
        flags: Parameters given explicitly on the command line; they win over
            every layer of the catalogue.
        catalogue: The catalogue; read with `load_catalogue` if None.

    Returns:
        The resolved, validated spec. With the ``factor`` loss, the batch size and
        the number of epochs are doubled (each step uses two half batches, as in
        disentangling-vae) and ``factor_doubled`` records it.

    Raises:
        UnknownNameError: if the experiment is unknown.
        ConfigError: if a parameter value is invalid.
    """
    catalogue = catalogue if catalogue is not None else load_catalogue()
    flags = dict(flags or {})
    from_name = experiment is None and name in catalogue.experiments
    if experiment is None:
        experiment = name if from_name else CUSTOM_EXPERIMENT
    if experiment not in catalogue.experiments and experiment != CUSTOM_EXPERIMENT:
        raise UnknownNameError("experiment", experiment, catalogue.names)
    layers = catalogue.layers(experiment) if experiment in catalogue.experiments else [
        ("defaults", catalogue.defaults)]
    layers.append(("flag", flags))
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, layer in layers:
        for key, value in layer.items():
            merged[key] = value
            sources[key] = source
    fields = spec_fields()
    for key in merged:
        if key not in fields:
            raise ConfigError(f"unknown parameter '{key}'")
    merged["name"] = name
    merged["experiment"] = experiment
    spec = RunSpec(**merged)
    _choice("dataset", spec.dataset, DATASET_NAMES)
    spec.img_size = list(dataset_info(spec.dataset).img_size)
    if spec.loss == "factor":
        spec.batch_size *= 2
        spec.epochs *= 2
        spec.factor_doubled = True
    spec.validate()
    return Resolution(spec=spec, experiment=experiment, from_name=from_name, sources=sources)


# --------------------------------------------------------------------------- helpers


def _choice(kind: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UnknownNameError(kind, value, choices)


def _shown(name: str) -> str:
    """`name` with control characters escaped, so that a message stays on one line."""
    return name if name.isprintable() else repr(name)[1:-1]


def _quoted(name: str) -> str:
    return f"'{_shown(name)}'"


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _field_type(f: dataclasses.Field[Any]) -> type:
    annotation = str(f.type)
    for name, typ in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if annotation.startswith(name):
            return typ
    return object


def _coerce(key: str, value: Any, typ: type) -> Any:
    """Convert a value read from TOML/JSON to the field's type, strictly."""
    if value is None or typ is object:
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif typ is float:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= sys.float_info.max:
            return float(value)
    elif typ is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"'{key}' must be {typ.__name__}, got {value!r}")
