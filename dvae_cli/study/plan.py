"""A study file: a base, a grid over models and hyper-parameters, seeds, and the evaluation of each cell.

A study is a TOML table, ``[study]`` in a file of its own or ``[studies.NAME]`` in
``studies.toml`` (the named studies that ship beside ``experiments.toml``)::

    [study]
    name = "mine"                  # default: the file's stem
    experiment = "quickstart"      # the base: an experiment of experiments.toml (default: the defaults)
    seeds = 3                      # 1, 2, 3; or a list of seeds
    metrics = ["mig", "dci"]       # scored after each training ([]: none)
    fast_metrics = true            # dvae eval --fast's protocol
    max_images = 5000              # score this many images (dvae eval --max-images; default: the protocol's)
    plots = ["reconstruct"]        # dvae plot after each training
    udr = true                     # keep each model's codes of a shared sample for UDR
    udr_correlation = "lasso"      # UDR's R(a, b): lasso (disentanglement_lib's default), spearman, pearson
    udr_weighting = "dlib"         # dlib (mean of means) or paper (1/(d_a+d_b)); default: dlib with
                                   # lasso, paper with spearman and pearson (the paper's UDR_S)

    [study.params]                 # every cell
    epochs = 4
    [study.grid]                   # crossed
    loss = ["betaH", "btcvae"]
    [study.grid.betaH]             # crossed only into the cells of that loss
    betaH_B = [1, 4, 16]
    [study.slurm]                  # requests of each cell's job (dvae study run --executor slurm)
    timeout_min = 120

Each cell is one normal run, named for what it varies (``betaH-B4-s1``: loss, then each
axis without its loss prefix, then the seed); its *setting* is the name without the
seed. Standard library only (a named ``udr_correlation`` or ``udr_weighting`` is checked
against `dvae_cli.metrics.udr`, which imports numpy).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvae_cli import tomlfile
from dvae_cli.errors import ConfigError, CorruptFileError, UnknownNameError

STUDY_KEYS = ("name", "description", "experiment", "seeds", "metrics", "fast_metrics", "max_images", "plots", "udr",
              "udr_correlation", "udr_weighting", "params", "grid", "slurm")
SLURM_KEYS = {"timeout_min": int, "mem_gb": (int, float), "gpus_per_node": int, "cpus_per_task": int,
              "partition": str, "array_parallelism": int, "account": str, "qos": str, "constraint": str}
STUDIES_FILENAME = "studies.toml"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")


@dataclass(frozen=True)
class Cell:
    """One run of a study.

    Attributes:
        name: The run folder's name (``betaH-B4-s1``).
        setting: The name without the seed (``betaH-B4``): the cells that differ only by seed.
        axes: The grid values of this cell (``{"loss": "betaH", "betaH_B": 4}``), in grid order.
        seed: Its seed.
    """

    name: str
    setting: str
    axes: dict[str, Any]
    seed: int


@dataclass
class StudyPlan:
    """A parsed study (see the module docstring).

    Attributes:
        name: The study's name: its folder under the results dir.
        source: The file it was read from.
        cells: Every cell, in grid order (seeds innermost).
        udr_correlation, udr_weighting: UDR's protocol (`dvae_cli.metrics.udr`), computed by
            ``dvae study report``; the weighting resolved from the correlation when not given.
    """

    name: str
    source: Path
    description: str = ""
    experiment: str | None = None
    seeds: list[int] = field(default_factory=lambda: [1])
    metrics: list[str] = field(default_factory=list)
    fast_metrics: bool = True
    max_images: int | None = None
    plots: list[str] = field(default_factory=list)
    udr: bool = True
    udr_correlation: str = "lasso"
    udr_weighting: str = "dlib"
    params: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    loss_grids: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    slurm: dict[str, Any] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)

    def cell(self, name: str) -> Cell:
        """The cell called `name`.

        Raises:
            UnknownNameError: naming the study's cells.
        """
        for cell in self.cells:
            if cell.name == name:
                return cell
        raise UnknownNameError(f"cell of study '{self.name}'", name, tuple(c.name for c in self.cells))

    def flags(self, cell: Cell) -> dict[str, Any]:
        """The run parameters of `cell`: the study's params, its grid values and its seed."""
        return {**self.params, **cell.axes, "seed": cell.seed}

    def record(self, cell: Cell) -> dict[str, Any]:
        """What ``specs.json`` records of the study under ``study``."""
        return {"name": self.name, "file": str(self.source), "cell": cell.name, "setting": cell.setting,
                "axes": dict(cell.axes), "seed": cell.seed}

    def settings(self) -> list[str]:
        """The settings, in grid order."""
        return list(dict.fromkeys(cell.setting for cell in self.cells))


def shipped_studies_path() -> Path:
    """``studies.toml``: beside the experiments catalogue (the repository root or the installed package)."""
    package_dir = Path(__file__).resolve().parent.parent
    for candidate in (package_dir / STUDIES_FILENAME, package_dir.parent / STUDIES_FILENAME):
        if candidate.is_file():
            return candidate
    return package_dir.parent / STUDIES_FILENAME


def shipped_names() -> tuple[str, ...]:
    """The names of the studies in the shipped ``studies.toml``."""
    path = shipped_studies_path()
    return tuple(_read_toml(path).get("studies", {})) if path.is_file() else ()


def load_study(where: str | Path) -> StudyPlan:
    """The study of a file (its ``[study]`` table) or of a name in the shipped ``studies.toml``.

    Raises:
        UnknownNameError: for a name that is neither a file nor a shipped study.
        CorruptFileError: for a file that is not TOML or has no ``[study]``.
        ConfigError: for an unknown key, a value of the wrong type, or two cells with one name.
    """
    path = Path(where).expanduser()
    if path.is_file():
        raw = _read_toml(path)
        if "study" not in raw:
            shipped = list(raw.get("studies", {}))
            hint = f" (it holds [studies.*]: name one of {', '.join(shipped)})" if shipped else ""
            raise CorruptFileError(f"{path} has no [study] table{hint}")
        table, default_name = raw["study"], path.stem
    else:
        shipped_path = shipped_studies_path()
        studies = _read_toml(shipped_path).get("studies", {}) if shipped_path.is_file() else {}
        if str(where) not in studies:
            if path.suffix == ".toml" or "/" in str(where):
                raise ConfigError(f"no study file {path} (and no study of that name in {STUDIES_FILENAME}: "
                                  f"{', '.join(studies)})")
            raise UnknownNameError("study (a file, or a study of studies.toml)", str(where), tuple(studies))
        table, default_name, path = studies[str(where)], str(where), shipped_path
    return parse_study(table, default_name, path.resolve())


def parse_study(table: dict[str, Any], default_name: str, source: Path) -> StudyPlan:
    """A `StudyPlan` from its TOML table (see `load_study`)."""
    unknown = [key for key in table if key not in STUDY_KEYS]
    if unknown:
        raise ConfigError(f"study '{default_name}': unknown key '{unknown[0]}'; valid keys: {', '.join(STUDY_KEYS)}")
    name = str(table.get("name", default_name))
    if not name or _UNSAFE.search(name) or name.startswith("."):
        raise ConfigError(f"study name {name!r}: use letters, digits and . _ + = - only")
    plan = StudyPlan(name=name, source=source, description=str(table.get("description", "")),
                     experiment=table.get("experiment"), seeds=_seeds(table.get("seeds", 1)),
                     metrics=_strings(table, "metrics"), fast_metrics=_bool(table, "fast_metrics", True),
                     max_images=_positive(table, "max_images"),
                     plots=_strings(table, "plots"), udr=_bool(table, "udr", True),
                     params=_table(table, "params"), slurm=_slurm(table.get("slurm", {})))
    plan.udr_correlation, plan.udr_weighting = _udr_protocol(table)
    grid = _table(table, "grid")
    for key, value in grid.items():
        if isinstance(value, dict):
            plan.loss_grids[key] = {axis: _axis(f"grid.{key}.{axis}", values) for axis, values in value.items()}
        else:
            plan.grid[key] = _axis(f"grid.{key}", value)
    _check_axes(plan)
    plan.cells = _expand(plan)
    return plan


def _check_axes(plan: StudyPlan) -> None:
    """Refuse a grid that names a value twice or gives a loss another loss's parameter."""
    from dvae_cli.catalogue.losses import LOSSES

    if "loss" in plan.grid and "loss" in plan.params:
        raise ConfigError(f"study '{plan.name}': 'loss' is both in [params] ({plan.params['loss']!r}) and in "
                          "the grid; keep one")
    for key in plan.grid:
        if key in plan.params:
            raise ConfigError(f"study '{plan.name}': '{key}' is both in [params] and in the grid; keep one")
    owner = {param.name: info.name for info in LOSSES.values() for param in info.params}
    for loss, axes in plan.loss_grids.items():
        for key in axes:
            if owner.get(key, loss) != loss:
                raise ConfigError(f"study '{plan.name}': [grid.{loss}] {key} is a parameter of {owner[key]}, "
                                  f"not of {loss} (it would make settings that differ in nothing {loss} reads)")


def _expand(plan: StudyPlan) -> list[Cell]:
    base_loss = plan.params.get("loss")
    cells: list[Cell] = []
    for values in itertools.product(*plan.grid.values()):
        axes = dict(zip(plan.grid, values))
        loss = axes.get("loss", base_loss)
        own = plan.loss_grids.get(str(loss), {})
        for own_values in itertools.product(*own.values()):
            cell_axes = {**axes, **dict(zip(own, own_values))}
            varying = [key for key, values in {**plan.grid, **own}.items() if len(values) > 1 or key == "loss"]
            setting = _setting_name(cell_axes, loss, varying)
            cells.extend(Cell(f"{setting}-s{seed}", setting, cell_axes, seed) for seed in plan.seeds)
    seen: dict[str, Cell] = {}
    for cell in cells:
        if cell.name in seen:
            raise ConfigError(f"study '{plan.name}': two cells are named '{cell.name}' ({seen[cell.name].axes} "
                              f"and {cell.axes}); give the grid distinct values")
        seen[cell.name] = cell
    stray = [loss for loss in plan.loss_grids if loss not in {str(c.axes.get("loss", base_loss)) for c in cells}]
    if stray:
        raise ConfigError(f"study '{plan.name}': [grid.{stray[0]}] names a loss that no cell trains")
    return cells


def _setting_name(axes: dict[str, Any], loss: Any, varying: list[str]) -> str:
    """``[dataset-]loss[-<axis><value>...]``: the axes of one value are left out (they vary nothing)."""
    parts = [str(axes["dataset"])] if "dataset" in varying else []
    parts.append(str(loss) if loss is not None else "base")
    for key, value in axes.items():
        if key in ("loss", "dataset") or key not in varying:
            continue
        short = key[len(f"{loss}_"):] if loss is not None and key.startswith(f"{loss}_") else key
        parts.append(f"{short}{_value_text(value)}")
    return _UNSAFE.sub("_", "-".join(parts))


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomlfile.loads(path.read_text(encoding="utf-8"))
    except tomlfile.TOMLDecodeError as exc:
        raise CorruptFileError(f"{path} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"cannot read study file {path}: {exc}") from None


def _seeds(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return list(range(1, value + 1))
    if isinstance(value, list) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        if len(set(value)) != len(value):
            raise ConfigError(f"study seeds repeat a seed: {value}")
        return list(value)
    raise ConfigError(f"study 'seeds' must be a positive number of seeds or a list of integers, got {value!r}")


def _axis(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"study {where} must be a non-empty list of values, got {value!r}")
    if any(isinstance(v, (dict, list)) for v in value):
        raise ConfigError(f"study {where}: values must be numbers, strings or booleans")
    return list(value)


def _strings(table: dict[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"study '{key}' must be a list of names, got {value!r}")
    return value


def _udr_protocol(table: dict[str, Any]) -> tuple[str, str]:
    """(correlation, weighting) of UDR: lasso and dlib without the keys; a named correlation alone takes
    its `dvae_cli.metrics.udr.default_weighting` (a study that names spearman keeps the paper's UDR_S)."""
    correlation, weighting = table.get("udr_correlation", "lasso"), table.get("udr_weighting")
    for key, value in (("udr_correlation", correlation), ("udr_weighting", weighting)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"study '{key}' must be a name (a string), got {value!r}")
    if "udr_correlation" not in table and weighting is None:
        return "lasso", "dlib"
    from dvae_cli.metrics.udr import default_weighting, udr_protocol

    weighting = weighting or default_weighting(correlation)
    udr_protocol(correlation, weighting)      # UnknownNameError naming the choices
    return correlation, weighting


def _bool(table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"study '{key}' must be true or false, got {value!r}")
    return value


def _positive(table: dict[str, Any], key: str) -> int | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise ConfigError(f"study '{key}' must be a positive integer, got {value!r}")
    return value


def _table(table: dict[str, Any], key: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"study '{key}' must be a table ([study.{key}]), got {value!r}")
    return dict(value)


def _slurm(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError("study 'slurm' must be a table ([study.slurm])")
    for key, item in value.items():
        if key not in SLURM_KEYS:
            raise ConfigError(f"study slurm: unknown key '{key}'; valid keys: {', '.join(SLURM_KEYS)}")
        wanted = SLURM_KEYS[key]
        if not isinstance(item, wanted) or isinstance(item, bool):  # type: ignore[arg-type]
            kind = "an integer" if wanted is int else "a string" if wanted is str else "a number"
            raise ConfigError(f"study slurm.{key} must be {kind}, got {item!r}")
    return dict(value)
