"""The spec of one run: every parameter, validated, and its ``specs.json`` form (standard library only).

The common parameters are `RunSpec` fields. The losses' hyper-parameters come from
the loss catalogue (`dvae_cli.catalogue.losses`): every registered loss's `Param`
is a value of the spec (``spec.betaH_B``), validated by its declaration and written
as a top-level key of ``specs.json``, as disentangling-vae writes them. The field
names are disentangling-vae's, so that its results folders read back unchanged.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from typing import Any

from dvae_cli.catalogue.losses import loss_info, loss_names, loss_params
from dvae_cli.catalogue.trackers import parse_trackers
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.sizes import split_folder
from dvae_cli.errors import ConfigError, UnknownNameError

REC_DISTS: tuple[str, ...] = ("bernoulli", "laplace", "gaussian")
MODEL_TYPES: tuple[str, ...] = ("Burgess",)
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
LOG_LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug", "notset")
CUSTOM_EXPERIMENT = "custom"
#: A bound that keeps a hostile or mistyped specs.json from allocating gigabytes.
MAX_LATENT_DIM = 4096
#: Fields filled in by training, not set by people.
RECORDED: tuple[str, ...] = ("name", "img_size", "n_train", "n_test", "dvae_version", "world_size", "changes",
                             "data_preprocessing", "study")


@dataclass(init=False)
class RunSpec:
    """Every parameter of one run; written as ``specs.json``.

    The defaults are those of disentangling-vae's ``[Custom]`` section, except the
    dataset (the embedded ``sprites``, so that everything works offline). Build it
    with keyword arguments: the fields below and any registered loss's parameters
    (``RunSpec(loss="btcvae", btcvae_B=9)``); read them the same way (``spec.btcvae_B``).

    Raises:
        TypeError: for a keyword that is neither a field nor a loss parameter.
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
    # loss (its own hyper-parameters are in `hyper`)
    loss: str = "betaB"
    rec_dist: str = "bernoulli"
    reg_anneal: float = 10000
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
    #: ``fp32``, or ``bf16`` autocast of the forward pass (the weights stay float32).
    precision: str = "fp32"
    #: Run the model through ``torch.compile``.
    compile: bool = False
    #: The batch size and epochs were multiplied by the loss's batches per step (FactorVAE's two
    #: half-batches; the name is disentangling-vae's).
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
    #: Experiment trackers that mirror the run (``tensorboard``, ``wandb``, ``mlflow``; `dvae_cli.trackers`).
    tracker: list[str] = field(default_factory=list)
    # filled in when training starts
    n_train: int | None = None
    n_test: int | None = None
    dvae_version: str | None = None
    #: How a folder dataset (``folder:PATH``) was prepared: its folder, resize, channels, images,
    #: files skipped and factors file (`dvae_cli.data.user_folder.preprocessing`); None otherwise.
    data_preprocessing: dict[str, Any] | None = None
    #: Optimiser settings changed when the run was resumed: one entry per resume that changed
    #: any, ``{"step": S, "epoch": E, "lr": [old, new], ...}`` (step and epoch where it resumed).
    changes: list[dict[str, Any]] = field(default_factory=list)
    #: The study this run is a cell of (`dvae_cli.study.plan.StudyPlan.record`: study name, file,
    #: cell, setting, grid values, seed); None for a run trained on its own.
    study: dict[str, Any] | None = None
    #: Every registered loss's hyper-parameters, by name (the catalogue's defaults unless set).
    hyper: dict[str, Any] = field(default_factory=dict)
    #: Keys of a ``specs.json`` that this version does not know (kept, written back).
    extra: dict[str, Any] = field(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        params = loss_params()
        hyper = {name: param.default for name, param in params.items()}
        hyper.update(values.pop("hyper", None) or {})
        for f in dataclasses.fields(self):
            if f.name == "hyper":
                continue
            if f.name in values:
                value = values.pop(f.name)
            elif f.default_factory is not dataclasses.MISSING:
                value = f.default_factory()
            else:
                value = f.default
            object.__setattr__(self, f.name, value)
        unknown = [key for key in values if key not in params]
        if unknown:
            raise TypeError(f"RunSpec got unknown parameters {unknown}; loss parameters: {sorted(params)}")
        hyper.update(values)
        object.__setattr__(self, "hyper", hyper)

    def __getattr__(self, name: str) -> Any:
        hyper = self.__dict__.get("hyper", {})
        if name in hyper:
            return hyper[name]
        raise AttributeError(f"RunSpec has no parameter '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.__dataclass_fields__ and name in self.__dict__.get("hyper", {}):
            self.hyper[name] = value
        else:
            object.__setattr__(self, name, value)

    def resolve_loss_defaults(self) -> RunSpec:
        """Fill in the loss parameters left at None whose defaults depend on others; return self.

        Only this run's loss (`LossInfo.resolve`, e.g. DIP-VAE's lambda_d from its type and
        lambda_od); the values set are written to ``specs.json``. Nothing for a loss
        that is not registered (validation names it).
        """
        if self.loss in loss_names():
            info = loss_info(self.loss)
            if info.resolve is not None:
                self.hyper.update(info.resolve({p.name: self.hyper.get(p.name, p.default) for p in info.params}))
        return self

    def validate(self) -> RunSpec:
        """Check every value; return self.

        Raises:
            ConfigError: naming the bad parameter, its value and what is allowed.
        """
        info = loss_info(self.loss)
        _choice("rec-dist", self.rec_dist, REC_DISTS)
        _choice("model type", self.model_type, MODEL_TYPES)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        _choice("log level", self.log_level.lower(), LOG_LEVELS)
        self.tracker = parse_trackers(self.tracker)
        if split_folder(self.dataset) is None:   # a folder is looked at when its images are loaded
            dataset_info(self.dataset)
        for key in ("epochs", "batch_size", "latent_dim", "checkpoint_every", "eval_batchsize"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{_flag(key)} must be a positive integer, got {value!r}")
        if self.latent_dim > MAX_LATENT_DIM:
            raise ConfigError(f"--latent-dim must be at most {MAX_LATENT_DIM}, got {self.latent_dim}")
        if not _finite(self.lr) or self.lr <= 0:
            raise ConfigError(f"--lr must be a positive number, got {self.lr!r}")
        for key in ("reg_anneal", "test_fraction"):
            if not _finite(getattr(self, key)):
                raise ConfigError(f"{_flag(key)} must be a finite number, got {getattr(self, key)!r}")
        params = loss_params()
        for name, value in self.hyper.items():
            if name in params:
                params[name].validate(value)
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
        typed = self.batch_size // info.batches_per_step if self.factor_doubled else self.batch_size
        if typed < info.min_batch:
            why = (f"each step takes {info.batches_per_step} batches of that size" if info.batches_per_step > 1
                   else "its estimator compares each sample with the rest of the batch")
            raise ConfigError(f"--batch-size must be >= {info.min_batch} with the {self.loss} loss ({why}), "
                              f"got {typed}")
        if not self.no_test and self.eval_batchsize < info.min_eval_batch:
            raise ConfigError(f"--eval-batchsize must be >= {info.min_eval_batch} with the {self.loss} loss: its "
                              f"estimator compares each test image with the rest of its batch, got "
                              f"{self.eval_batchsize} (or use --no-test)")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The ``specs.json`` content: every field and loss parameter, unknown keys merged back, sorted."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("extra", "hyper")}
        data.update(self.hyper)
        data.update(self.extra)
        if data["img_size"] is not None:
            data["img_size"] = list(data["img_size"])
        for key in ("tracker", "study"):   # a run without them keeps the specs.json it always had
            if not data[key]:
                del data[key]
        return dict(sorted(data.items()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        """Build a spec from a ``specs.json`` mapping (dvae's or disentangling-vae's).

        Missing keys take their defaults; unknown keys (a plugin's loss that is not
        installed, a newer version's) are kept in `extra` and written back.

        Raises:
            ConfigError: if a known key has a value of the wrong type.
        """
        known = {f.name: f for f in dataclasses.fields(cls) if f.name not in ("extra", "hyper")}
        params = loss_params()
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            if key in known:
                kwargs[key] = coerce(key, value, field_type(known[key]))
            elif key in params:
                kwargs[key] = coerce(key, value, params[key].type)
            elif key == "model":  # the name used by hyperparam.ini
                kwargs["model_type"] = coerce(key, value, str)
            else:
                extra[key] = value
        return cls(**kwargs, extra=extra)

    def key_params(self) -> dict[str, Any]:
        """The hyper-parameters that characterise this run's loss."""
        return {key: getattr(self, key) for key in loss_info(self.loss).key_params}


def spec_fields() -> dict[str, type]:
    """Map each parameter people set (fields and every registered loss parameter) to its type."""
    fields = {f.name: field_type(f) for f in dataclasses.fields(RunSpec)
              if f.name not in ("extra", "hyper", *RECORDED)}
    fields.update({name: param.type for name, param in loss_params().items()})
    return fields


def losses_choice(name: str) -> None:
    """Raise `UnknownNameError` if `name` is not a registered loss."""
    _choice("loss", name, loss_names())


# --------------------------------------------------------------------------- helpers


def _choice(kind: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise UnknownNameError(kind, value, choices)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def field_type(f: dataclasses.Field[Any]) -> type:
    """A field's value type (int, float, str, bool; ``object`` for the structured ones)."""
    annotation = str(f.type)
    for name, typ in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if annotation.startswith(name):
            return typ
    return object


def coerce(key: str, value: Any, typ: type) -> Any:
    """Convert a value read from TOML/JSON to the parameter's type, strictly.

    Raises:
        ConfigError: naming the key, the type and the value.
    """
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
