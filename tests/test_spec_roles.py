"""Each spec key's role and each default in one home; FactorVAE's doubled batch in one pair of methods."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

from dvae_cli.catalogue.losses import (
    LOSSES,
    LossInfo,
    loss_info,
    loss_names,
    register_loss,
)
from dvae_cli.catalogue.params import (
    ROLE_DOUBLED,
    ROLE_FREE,
    ROLE_GROWS,
    ROLE_OPTIMISER,
    ROLE_RECORDED,
    ROLE_REFERENCE,
    Param,
)
from dvae_cli.config import resolve_run
from dvae_cli.runs.atomic import write_json
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.resume import resumed_spec
from dvae_cli.spec import (
    DOUBLED,
    RECORDED,
    RunSpec,
    display_groups,
    field_keys,
    keys_with,
    optimiser_keys,
    resumable_keys,
    spec_defaults,
    study_free_keys,
)
from dvae_cli.study.state import spec_conflict
from dvae_cli.tui.data.details import SPEC_GROUPS

ROLES = (ROLE_RECORDED, ROLE_FREE, ROLE_OPTIMISER, ROLE_GROWS, ROLE_DOUBLED, ROLE_REFERENCE)
#: A changed value of every study-free key (a study file and --resume both accept it).
FREE_CHANGES = {"experiment": "custom", "checkpoint_every": 7, "device": "cpu", "no_cuda": True, "compile": True,
                "no_test": True, "eval_batchsize": 50, "is_metrics": True, "is_eval_only": True,
                "log_level": "debug", "no_progress_bar": True, "tracker": ["tensorboard"]}


# ---------------------------------------------------------------- roles


def test_every_group_derives_from_the_field_metadata():
    fields = [f for f in dataclasses.fields(RunSpec) if f.name not in ("hyper", "extra")]
    for role in ROLES:
        assert field_keys(role) == tuple(f.name for f in fields if role in f.metadata.get("roles", ()))
    assert RECORDED == field_keys(ROLE_RECORDED) and DOUBLED == ("epochs", "batch_size")
    assert SPEC_GROUPS == display_groups()
    assert display_groups() == {
        "data": ("dataset", "img_size", "subsample", "test_fraction", "split_seed", "n_train", "n_test"),
        "model": ("model_type", "latent_dim"),
        "loss": ("loss", "rec_dist", "reg_anneal"),
        "training": ("epochs", "batch_size", "lr", "checkpoint_every", "seed", "device", "no_cuda"),
    }
    assert set(optimiser_keys()) == {"lr", "clip_grad", "lr_disc"}   # lr_disc: its catalogue Param's role


def test_a_loss_parameter_gets_its_role_from_its_param():
    register_loss(LossInfo("roled", "Roled", "-", "dvae_cli.engine.losses.betah:BetaHLoss",
                           (Param("roled_lr", float, 1e-3, "A learning rate.", roles=frozenset({ROLE_OPTIMISER})),
                            Param("roled_w", float, 1.0, "A weight."))))
    try:
        assert "roled_lr" in keys_with(ROLE_OPTIMISER) and "roled_lr" in resumable_keys()
        assert "roled_lr" not in study_free_keys() and "roled_w" not in resumable_keys()
    finally:
        LOSSES.unregister("roled")


def test_resume_and_a_study_agree_on_what_may_change():
    free, resumable = set(study_free_keys()), set(resumable_keys())
    assert free <= resumable
    # --resume may also train on (a study extends the cell) and change the optimiser (a study cell
    # with another learning rate is another run).
    assert resumable - free == {"epochs", *optimiser_keys()}
    assert set(FREE_CHANGES) == free


def _stored_run(tmp_path, **values):
    spec = resolve_run("cell", flags={"subsample": 64, "epochs": 2, **values}).spec
    spec.n_train, spec.n_test = 58, 6
    folder = tmp_path / "cell"
    folder.mkdir()
    write_json(folder / "specs.json", spec.to_dict())
    return RunFolder(folder), spec


def test_what_a_study_may_change_resume_accepts_and_the_other_way_round(tmp_path):
    folder, spec = _stored_run(tmp_path)
    for key, value in FREE_CHANGES.items():
        if key == "experiment":   # -x is checked on its own: a resumed run keeps its experiment
            continue
        assert getattr(resumed_spec(folder, {key: value}), key) == value, key
        assert spec_conflict(folder.path, {**spec.to_dict(), key: value}) == ("", 0), key
    assert spec_conflict(folder.path, {**spec.to_dict(), "epochs": 5}) == ("", 5)   # grows in both
    assert resumed_spec(folder, {"epochs": 5}).epochs == 5
    assert resumed_spec(folder, {"lr": 1e-4}).lr == 1e-4   # the optimiser: --resume only
    assert spec_conflict(folder.path, {**spec.to_dict(), "lr": 1e-4})[0].startswith("lr ")
    with pytest.raises(Exception, match="--seed"):
        resumed_spec(folder, {"seed": 9})
    assert spec_conflict(folder.path, {**spec.to_dict(), "seed": 9})[0].startswith("seed ")


# ---------------------------------------------------------------- FactorVAE's doubled batch


def test_the_doubling_round_trips_through_specs_json(tmp_path):
    spec = resolve_run("f", flags={"loss": "factor", "batch_size": 32, "epochs": 5}).spec
    assert (spec.batch_size, spec.epochs, spec.factor_doubled, spec.per_step) == (64, 10, True, 2)
    assert (spec.typed("batch_size"), spec.typed("epochs"), spec.typed("lr")) == (32, 5, spec.lr)
    assert spec.double() is spec and spec.batch_size == 64   # once only
    text = json.dumps(spec.to_dict(), indent=4)
    back = RunSpec.from_dict(json.loads(text))
    assert json.dumps(back.to_dict(), indent=4) == text
    assert (back.typed("batch_size"), back.typed("epochs")) == (32, 5)
    assert back.as_stored({"epochs": 7, "lr": 0.1}) == {"epochs": 14, "lr": 0.1}
    folder, _ = _stored_run(tmp_path, loss="factor", batch_size=32)
    assert resumed_spec(folder, {"epochs": 6, "batch_size": 32}).epochs == 12   # typed, stored doubled
    plain = resolve_run("b", flags={"batch_size": 32, "epochs": 5}).spec
    assert (plain.batch_size, plain.per_step, plain.as_stored({"epochs": 7})) == (32, 1, {"epochs": 7})


def test_disentangling_vae_factor_run_keeps_its_stored_values(disvae_results):
    raw = json.loads((disvae_results / "factor_chairs" / "specs.json").read_text())
    spec = RunSpec.from_dict(raw)   # disentangling-vae doubles without a flag: shown as stored
    assert (spec.batch_size, spec.epochs, spec.factor_doubled, spec.per_step) == (128, 600, False, 1)
    assert (spec.typed("batch_size"), spec.typed("epochs")) == (128, 600)
    assert {key: spec.to_dict()[key] for key in raw} == raw


# ---------------------------------------------------------------- loss defaults


@pytest.mark.parametrize("name", loss_names())
def test_the_catalogue_is_each_loss_s_only_default(name):
    from dvae_cli.losses import get_loss, loss_class

    signature = inspect.signature(loss_class(name).__init__)
    with_defaults = [p.name for p in signature.parameters.values() if p.default is not inspect.Parameter.empty]
    assert with_defaults == [], f"{name}'s constructor repeats defaults; the catalogue's Param is their home"
    defaults = spec_defaults()
    loss = get_loss(name, n_data=100)
    assert (loss.rec_dist, loss.reg_anneal) == (RunSpec().rec_dist, RunSpec().reg_anneal)
    given = get_loss(name, n_data=100, **{p.name: defaults[p.name] for p in loss_info(name).params})
    assert repr(given) == repr(loss)
