"""The spec of one run: every parameter, validated, and its ``specs.json`` form (standard library only).

The common parameters are `RunSpec` fields. The losses' hyper-parameters come from
the loss catalogue (`dvae_cli.catalogue.losses`): every registered loss's `Param`
is a value of the spec (``spec.betaH_B``), validated by its declaration and written
as a top-level key of ``specs.json``, as disentangling-vae writes them. The field
names are disentangling-vae's, so that its results folders read back unchanged.

Each key's role is declared once, in its field's metadata (a loss parameter's in its
`Param`): what training records, what changes nothing trained (a study and ``--resume``
may change it), the optimiser settings (``--resume`` only), the keys stored doubled for
FactorVAE, the browser's groups. `keys_with` and the functions below derive every group.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from dvae_cli.catalogue.losses import loss_info, loss_names, loss_params
from dvae_cli.catalogue.params import (
    ROLE_DOUBLED,
    ROLE_FREE,
    ROLE_GROWS,
    ROLE_OPTIMISER,
    ROLE_RECORDED,
    ROLE_REFERENCE,
)
from dvae_cli.catalogue.trackers import parse_trackers
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.sizes import split_folder
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.spec_values import coerce, field_type

REC_DISTS: tuple[str, ...] = ("bernoulli", "laplace", "gaussian")
MODEL_TYPES: tuple[str, ...] = ("Burgess",)
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
LOG_LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug", "notset")
CUSTOM_EXPERIMENT = "custom"
#: A bound that keeps a hostile or mistyped specs.json from allocating gigabytes.
MAX_LATENT_DIM = 4096
#: The groups of the browser's Overview, in order (a field's ``group`` metadata).
DISPLAY_GROUPS: tuple[str, ...] = ("data", "model", "loss", "training")


def _roles(*roles: str, group: str | None = None) -> dict[str, Any]:
    """A `RunSpec` field's metadata: its roles (``ROLE_*``) and its display group (`display_groups`)."""
    return {"roles": frozenset(roles), "group": group}


@dataclass(init=False)
class RunSpec:
    """Every parameter of one run; written as ``specs.json``.

    The defaults are those of disentangling-vae's ``[Custom]`` section, except the
    dataset (the embedded ``sprites``, so that everything works offline). Build it
    with keyword arguments: the fields below and any registered loss's parameters
    (``RunSpec(loss="btcvae", btcvae_B=9)``); read them the same way (``spec.btcvae_B``).

    Each field's metadata gives its roles (``ROLE_*``) and its display group: the
    one place that decides what training records, what ``--resume`` and a study may
    change and how the browser groups it (`keys_with`, `display_groups`).

    Raises:
        TypeError: for a keyword that is neither a field nor a loss parameter.
    """

    name: str = field(default="run", metadata=_roles(ROLE_RECORDED))
    experiment: str = field(default=CUSTOM_EXPERIMENT, metadata=_roles(ROLE_FREE))
    # data
    dataset: str = field(default="sprites", metadata=_roles(group="data"))
    img_size: list[int] | None = field(default=None, metadata=_roles(ROLE_RECORDED, group="data"))
    subsample: int | None = field(default=None, metadata=_roles(group="data"))
    test_fraction: float = field(default=0.1, metadata=_roles(group="data"))
    #: Seed of the train/test split and of the subsample (fixed across runs by default,
    #: so that runs on a dataset share their test images).
    split_seed: int = field(default=0, metadata=_roles(group="data"))
    # filled in when training starts (n_train and n_test are shown with the data)
    n_train: int | None = field(default=None, metadata=_roles(ROLE_RECORDED, group="data"))
    n_test: int | None = field(default=None, metadata=_roles(ROLE_RECORDED, group="data"))
    # model
    model_type: str = field(default="Burgess", metadata=_roles(group="model"))
    latent_dim: int = field(default=10, metadata=_roles(group="model"))
    # loss (its own hyper-parameters are in `hyper`)
    loss: str = field(default="betaB", metadata=_roles(group="loss"))
    rec_dist: str = field(default="bernoulli", metadata=_roles(group="loss"))
    reg_anneal: float = field(default=10000, metadata=_roles(group="loss"))
    # training
    epochs: int = field(default=100, metadata=_roles(ROLE_GROWS, ROLE_DOUBLED, group="training"))
    batch_size: int = field(default=64, metadata=_roles(ROLE_DOUBLED, group="training"))
    lr: float = field(default=5e-4, metadata=_roles(ROLE_OPTIMISER, group="training"))
    checkpoint_every: int = field(default=30, metadata=_roles(ROLE_FREE, group="training"))
    #: Clip the global L2 norm of the VAE's gradients to this value each step (None: no clipping).
    clip_grad: float | None = field(default=None, metadata=_roles(ROLE_OPTIMISER))
    seed: int = field(default=1234, metadata=_roles(group="training"))
    device: str = field(default="auto", metadata=_roles(ROLE_FREE, group="training"))
    no_cuda: bool = field(default=False, metadata=_roles(ROLE_FREE, group="training"))
    #: ``fp32``, or ``bf16`` autocast of the forward pass (the weights stay float32).
    precision: str = "fp32"
    #: Run the model through ``torch.compile``.
    compile: bool = field(default=False, metadata=_roles(ROLE_FREE))
    #: The batch size and epochs were multiplied by the loss's batches per step (FactorVAE's two
    #: half-batches; the name is disentangling-vae's): `typed`, `double`.
    factor_doubled: bool = False
    #: Processes that trained the run (torchrun); `batch_size` is per process.
    world_size: int = field(default=1, metadata=_roles(ROLE_RECORDED))
    # evaluation
    no_test: bool = field(default=False, metadata=_roles(ROLE_FREE))
    eval_batchsize: int = field(default=1000, metadata=_roles(ROLE_FREE))
    is_metrics: bool = field(default=False, metadata=_roles(ROLE_FREE, ROLE_REFERENCE))
    is_eval_only: bool = field(default=False, metadata=_roles(ROLE_FREE, ROLE_REFERENCE))
    # display
    log_level: str = field(default="info", metadata=_roles(ROLE_FREE))
    no_progress_bar: bool = field(default=False, metadata=_roles(ROLE_FREE))
    #: Experiment trackers that mirror the run (``tensorboard``, ``wandb``, ``mlflow``; `dvae_cli.trackers`).
    tracker: list[str] = field(default_factory=list, metadata=_roles(ROLE_FREE))
    # filled in when training starts
    dvae_version: str | None = field(default=None, metadata=_roles(ROLE_RECORDED))
    #: How a folder dataset (``folder:PATH``) was prepared: its folder, resize, channels, images,
    #: files skipped and factors file (`dvae_cli.data.user_folder.preprocessing`); None otherwise.
    data_preprocessing: dict[str, Any] | None = field(default=None, metadata=_roles(ROLE_RECORDED))
    #: Optimiser settings changed when the run was resumed: one entry per resume that changed
    #: any, ``{"step": S, "epoch": E, "lr": [old, new], ...}`` (step and epoch where it resumed).
    changes: list[dict[str, Any]] = field(default_factory=list, metadata=_roles(ROLE_RECORDED))
    #: The study this run is a cell of (`dvae_cli.study.plan.StudyPlan.record`: study name, file,
    #: cell, setting, grid values, seed); None for a run trained on its own.
    study: dict[str, Any] | None = field(default=None, metadata=_roles(ROLE_RECORDED))
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
        typed = self.typed("batch_size")
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

    # ------------------------------------------------------------ FactorVAE's doubled batch
    # A loss that takes several batches per step (FactorVAE: two half-batches) trains with the
    # batch size and the epochs multiplied by that number, and specs.json stores them so, as
    # disentangling-vae does (dvae adds ``factor_doubled: true``). These four are the only
    # places that multiply or divide them.

    @property
    def per_step(self) -> int:
        """What the stored `batch_size` and `epochs` (``ROLE_DOUBLED``) are multiples of: 1 unless doubled."""
        if not self.factor_doubled:
            return 1
        return batches_per_step(self.loss) if self.loss in loss_names() else 2   # the flag's name says 2

    def typed(self, key: str) -> Any:
        """The value of `key` as people type it (``--batch-size``, ``--epochs``): the stored one divided back."""
        value = getattr(self, key)
        return value // self.per_step if key in DOUBLED and isinstance(value, int) else value

    def as_stored(self, values: dict[str, Any]) -> dict[str, Any]:
        """`values` (typed, e.g. ``--resume``'s flags) with the doubled keys multiplied as this spec stores them."""
        return {key: value * self.per_step if key in DOUBLED and isinstance(value, int) else value
                for key, value in values.items()}

    def double(self) -> RunSpec:
        """Multiply the doubled keys by the loss's batches per step, once, and record it; return self."""
        per_step = batches_per_step(self.loss)
        if per_step > 1 and not self.factor_doubled:
            for key in DOUBLED:
                setattr(self, key, getattr(self, key) * per_step)
            self.factor_doubled = True
        return self


# --------------------------------------------------------------------------- roles


def field_keys(role: str) -> tuple[str, ...]:
    """The `RunSpec` fields with `role` in their metadata, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(RunSpec) if role in f.metadata.get("roles", ()))


def keys_with(role: str) -> tuple[str, ...]:
    """Every spec key with `role`: the `RunSpec` fields, then every registered loss's `Param` that has it."""
    return (*field_keys(role), *(name for name, param in loss_params().items() if role in param.roles))


#: Fields filled in by training, not set by people.
RECORDED: tuple[str, ...] = field_keys(ROLE_RECORDED)
#: Fields stored multiplied by the loss's batches per step (`RunSpec.typed`).
DOUBLED: tuple[str, ...] = field_keys(ROLE_DOUBLED)
#: disentangling-vae's keys that dvae keeps but does not act on.
REFERENCE_ONLY: tuple[str, ...] = field_keys(ROLE_REFERENCE)


def optimiser_keys() -> tuple[str, ...]:
    """The optimiser settings (``lr``, ``clip_grad``, FactorVAE's ``lr_disc``): ``--resume`` may change them."""
    return keys_with(ROLE_OPTIMISER)


def study_free_keys() -> tuple[str, ...]:
    """Keys that change nothing trained: a study file may change them without a conflict."""
    return keys_with(ROLE_FREE)


def resumable_keys() -> tuple[str, ...]:
    """Keys ``dvae train NAME --resume`` may change.

    The study-free keys, the epochs (more of them; a study extends the cell the same
    way) and the optimiser settings (recorded in ``changes``; a study cell with
    another learning rate is another run, so a study refuses them).
    """
    return (*keys_with(ROLE_GROWS), *study_free_keys(), *optimiser_keys())


def display_groups() -> dict[str, tuple[str, ...]]:
    """The fields shown in each group of the browser's Overview (``data``, ``model``, ...), in order."""
    groups: dict[str, list[str]] = {group: [] for group in DISPLAY_GROUPS}
    for f in dataclasses.fields(RunSpec):
        if f.metadata.get("group"):
            groups[f.metadata["group"]].append(f.name)
    return {group: tuple(keys) for group, keys in groups.items()}


def batches_per_step(loss: str) -> int:
    """Batches of ``--batch-size`` images one step of loss `loss` takes (1 for a loss that is not registered)."""
    return loss_info(loss).batches_per_step if loss in loss_names() else 1


def spec_fields() -> dict[str, type]:
    """Map each parameter people set (fields and every registered loss parameter) to its type."""
    fields = {f.name: field_type(f) for f in dataclasses.fields(RunSpec)
              if f.name not in ("extra", "hyper", *RECORDED)}
    fields.update({name: param.type for name, param in loss_params().items()})
    return fields


def spec_defaults() -> dict[str, Any]:
    """Every key's default: each `RunSpec` field's and each registered loss's `Param`'s (the only defaults)."""
    spec = RunSpec()
    return {**{f.name: getattr(spec, f.name) for f in dataclasses.fields(RunSpec) if f.name not in ("extra", "hyper")},
            **spec.hyper}


def option_keys() -> tuple[str, ...]:
    """What ``experiments.toml`` and ``dvae train``'s options may set: `spec_fields` and ``img_size``.

    ``img_size`` is recorded as ``[C, H, W]``, but may be given as the images' side in
    pixels (`dvae_cli.config.resolve_run`).
    """
    return (*spec_fields(), "img_size")


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
