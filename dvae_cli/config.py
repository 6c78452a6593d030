"""The experiment catalogue (`experiments.toml`), and resolving a run's spec from it.

One path for every run: the catalogue plus explicit command-line flags resolve into
one `RunSpec` (`dvae_cli.spec`, re-exported here), which the engine trains and which
is written to ``specs.json``.

Precedence, lowest first: the `RunSpec` field defaults < ``[defaults]`` < the
dataset's common section < the loss's common section < the experiment < flags
given explicitly on the command line.

This module imports only the standard library (no torch).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvae_cli import tomlfile
from dvae_cli.catalogue.losses import loss_names
from dvae_cli.data.catalog import dataset_info, dataset_names
from dvae_cli.data.sizes import sized_name, split_folder
from dvae_cli.errors import ConfigError, CorruptFileError, UnknownNameError
from dvae_cli.spec import (
    CUSTOM_EXPERIMENT,
    DEVICES,
    LOG_LEVELS,
    MAX_LATENT_DIM,
    MODEL_TYPES,
    PRECISIONS,
    REC_DISTS,
    RunSpec,
    option_keys,
    spec_fields,
)
from dvae_cli.spec_values import coerce

__all__ = ["CUSTOM_EXPERIMENT", "DEVICES", "LOG_LEVELS", "MAX_LATENT_DIM", "MODEL_TYPES", "PRECISIONS", "REC_DISTS",
           "Catalogue", "Resolution", "RunSpec", "load_catalogue", "resolve_run", "spec_fields"]

CATALOGUE_ENV = "DVAE_EXPERIMENTS"
CATALOGUE_FILENAME = "experiments.toml"


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
        raw = tomlfile.loads(path.read_text(encoding="utf-8"))
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
                out[key] = coerce(key, value, fields[key])
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
        if name not in dataset_names():
            raise CorruptFileError(f"{path}: [datasets.{_shown(name)}] is not a dataset; "
                                   f"choose from: {', '.join(dataset_names())}")
    for name in catalogue.losses:
        if name not in loss_names():
            raise CorruptFileError(f"{path}: [losses.{_shown(name)}] is not a loss; "
                                   f"choose from: {', '.join(loss_names())}")
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
        The resolved, validated spec. With a loss that takes several batches per step
        (``factor``: two half batches, as in disentangling-vae), the batch size and the
        number of epochs are multiplied by that number and ``factor_doubled`` records it
        (`RunSpec.double`; `RunSpec.typed` gives them back as typed).
        Loss parameters whose default depends on others (DIP-VAE's lambda_d) are filled in.

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
    options = option_keys()   # img_size: a side in pixels here, [C, H, W] once resolved
    for key in merged:
        if key not in options:
            import difflib

            close = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
            raise ConfigError(f"unknown parameter '{_shown(key)}'" + (f" (did you mean '{close[0]}'?)" if close
                                                                      else ""))
    merged["name"] = name
    merged["experiment"] = experiment
    side = merged.pop("img_size", None)   # --img-size N: the dataset at NxN (dvae_cli.data.sizes)
    spec = RunSpec(**merged)
    if split_folder(spec.dataset) is None:   # any folder of images: dvae_cli.data.user_folder
        _choice("dataset", spec.dataset, dataset_names())
    if side is not None:
        if not isinstance(side, int) or isinstance(side, bool) or side <= 0:
            raise ConfigError(f"--img-size must be the images' side in pixels (e.g. 128), got {side!r}")
        spec.dataset = sized_name(spec.dataset, side)
    info = dataset_info(spec.dataset)
    spec.dataset, spec.img_size = info.name, list(info.img_size)   # a folder's path made absolute
    spec.double().validate()   # each step takes the loss's batches per step (FactorVAE's two halves)
    given = dict(spec.hyper)
    spec.resolve_loss_defaults().validate()   # the values derived from valid ones (DIP-VAE's lambda_d)
    sources.update({key: f"{spec.loss}'s default for these values" for key, value in spec.hyper.items()
                    if given.get(key) != value})
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
