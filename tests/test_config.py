"""The experiment catalogue: the port of hyperparam.ini, precedence, and bad files."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dvae_cli.catalogue import loss_names
from dvae_cli.config import RunSpec, load_catalogue, resolve_run

LOSSES = loss_names()
from dvae_cli.errors import ConfigError, CorruptFileError, UnknownNameError

REFERENCE_DATASETS = ("mnist", "fashion", "dsprites", "celeba", "chairs")
REFERENCE_LOSSES = ("VAE", "betaH", "betaB", "factor", "btcvae")   # hyperparam.ini's; dvae adds others
REFERENCE_EXPERIMENTS = {"custom", "debug", "best_celeba", "best_dsprites"} | {
    f"{loss}_{data}" for loss in REFERENCE_LOSSES for data in REFERENCE_DATASETS}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue()


def test_all_29_reference_experiments_and_the_quickstarts_exist(catalogue):
    assert len(REFERENCE_EXPERIMENTS) == 29
    assert REFERENCE_EXPERIMENTS <= set(catalogue.names)
    assert {"quickstart", *(f"quickstart-{loss}" for loss in LOSSES if loss != "btcvae")} <= set(catalogue.names)
    quick = resolve_run("quickstart", catalogue=catalogue).spec
    assert (quick.loss, quick.dataset) == ("btcvae", "sprites")


def test_defaults_section_equals_the_spec_defaults(catalogue):
    """experiments.toml's [defaults] and RunSpec's field defaults must not drift apart."""
    defaults = RunSpec()
    for key, value in catalogue.defaults.items():
        assert getattr(defaults, key) == value, key


@pytest.mark.parametrize("name,expected", [
    # dataset common < loss common < experiment, values of hyperparam.ini
    ("betaH_celeba", dict(dataset="celeba", loss="betaH", betaH_B=10, epochs=200, checkpoint_every=100, lr=5e-4)),
    ("betaB_celeba", dict(loss="betaB", betaB_finC=50, lr=1e-3, reg_anneal=100000, betaB_G=100)),
    ("factor_chairs", dict(loss="factor", factor_G=3.2, lr_disc=1e-5, lr=1e-4, epochs=600, batch_size=128,
                           factor_doubled=True)),
    ("factor_dsprites", dict(factor_G=6.4, lr_disc=1e-4, epochs=60, batch_size=128, checkpoint_every=10)),
    ("btcvae_chairs", dict(btcvae_B=3.2, epochs=300, lr=5e-4)),
    ("btcvae_celeba", dict(btcvae_B=6.4)),
    ("btcvae_dsprites", dict(btcvae_B=6.4, epochs=30, checkpoint_every=10)),
    ("best_celeba", dict(loss="btcvae", btcvae_A=-10, btcvae_B=20, rec_dist="laplace", epochs=200,
                         checkpoint_every=100, lr=5e-4)),
    ("best_dsprites", dict(btcvae_A=-5, btcvae_B=10, epochs=30, checkpoint_every=10, lr=5e-4)),
    ("debug", dict(epochs=1, log_level="debug", no_test=True, reg_anneal=0, loss="betaB", lr=5e-4)),
    ("VAE_mnist", dict(epochs=400, checkpoint_every=100, img_size=[1, 32, 32])),
])
def test_reference_values_are_ported(catalogue, name, expected):
    spec = resolve_run(name, catalogue=catalogue).spec
    for key, value in expected.items():
        assert getattr(spec, key) == pytest.approx(value) if isinstance(value, float) else \
            getattr(spec, key) == value, key


def test_reference_specs_agree_with_the_catalogue(catalogue, disvae_results):
    """The fixtures' specs.json were written by the reference from the same ini."""
    for run in ("btcvae_dsprites", "factor_chairs", "betaB_celeba"):
        reference = json.loads((disvae_results / run / "specs.json").read_text())
        ours = resolve_run(run, catalogue=catalogue).spec.to_dict()
        for key in ("dataset", "loss", "epochs", "batch_size", "lr", "checkpoint_every", "latent_dim",
                    "rec_dist", "reg_anneal", "factor_G", "lr_disc", "btcvae_B", "betaB_finC", "img_size"):
            assert ours[key] == reference[key], (run, key)


def test_explicit_flags_win_over_every_layer(catalogue):
    res = resolve_run("run1", "betaH_celeba", {"betaH_B": 2.0, "epochs": 3, "lr": 0.1}, catalogue=catalogue)
    assert (res.spec.betaH_B, res.spec.epochs, res.spec.lr) == (2.0, 3, 0.1)
    assert res.sources["betaH_B"] == "flag" and res.sources["checkpoint_every"] == "datasets.celeba"
    assert res.sources["lr"] == "flag" and res.sources["loss"] == "experiments.betaH_celeba"
    assert res.spec.name == "run1" and res.spec.experiment == "betaH_celeba"


def test_run_name_that_is_an_experiment_selects_it(catalogue):
    res = resolve_run("btcvae_celeba", None, {"loss": "btcvae"}, catalogue=catalogue)
    assert res.from_name and res.experiment == "btcvae_celeba" and res.spec.btcvae_B == 6.4
    other = resolve_run("my-run", None, {}, catalogue=catalogue)
    assert not other.from_name and other.experiment == "custom" and other.spec.dataset == "sprites"
    named = resolve_run("btcvae_celeba", "quickstart", {}, catalogue=catalogue)
    assert not named.from_name and named.spec.dataset == "sprites"


def test_factor_doubles_batch_and_epochs_even_for_flags(catalogue):
    spec = resolve_run("f", None, {"loss": "factor", "batch_size": 32, "epochs": 5}, catalogue=catalogue).spec
    assert (spec.batch_size, spec.epochs, spec.factor_doubled) == (64, 10, True)
    assert spec.to_dict()["factor_doubled"] is True


@pytest.mark.parametrize("flags,message", [
    ({"loss": "betaX"}, "unknown loss 'betaX'"),
    ({"dataset": "mnsit"}, "did you mean 'mnist'"),
    ({"epochs": 0}, "--epochs must be a positive integer"),
    ({"batch_size": -2}, "--batch-size must be a positive integer"),
    ({"lr": 0.0}, "--lr must be a positive number"),
    ({"latent_dim": 0}, "--latent-dim must be a positive integer"),
    ({"loss": "btcvae", "batch_size": 1}, "estimator"),
    ({"rec_dist": "normal"}, "choose from: bernoulli, laplace, gaussian"),
    ({"test_fraction": 1.5}, "--test-fraction"),
])
def test_bad_values_name_the_problem(catalogue, flags, message):
    with pytest.raises(ConfigError, match=message):
        resolve_run("x", None, flags, catalogue=catalogue)


def test_unknown_experiment_suggests_the_closest(catalogue):
    with pytest.raises(UnknownNameError, match="did you mean 'betaH_celeba'"):
        resolve_run("x", "betaH_celbea", {}, catalogue=catalogue)


@pytest.mark.parametrize("text,message", [
    ("[defaults]\nepochs = 'ten'\n", "'epochs' must be int"),
    ("[defaults]\nepoch = 10\n", "unknown parameter 'epoch'"),
    ("[defaults\n", "cannot read experiments file"),
    ("[datasets.imagenet]\nepochs = 3\n", "not a dataset"),
    ("[oops]\n", "unknown section"),
])
def test_broken_catalogue_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "experiments.toml"
    path.write_text(text)
    with pytest.raises(CorruptFileError, match=message) as info:
        load_catalogue(path)
    assert "experiments.toml" in str(info.value)


def test_spec_round_trips_through_json_and_keeps_unknown_keys():
    spec = RunSpec(name="a", loss="btcvae", img_size=[1, 64, 64], extra={"future_key": 3})
    data = json.loads(json.dumps(spec.to_dict()))
    again = RunSpec.from_dict(data)
    assert dataclasses.asdict(again) == dataclasses.asdict(spec)
    with pytest.raises(ConfigError, match="'epochs' must be int"):
        RunSpec.from_dict({"epochs": "many"})
