"""Tiny real training runs through the engine: determinism, results folder, test losses."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from dvae_cli.catalogue import loss_names
from dvae_cli.config import resolve_run

LOSSES = loss_names()
from dvae_cli.data import sprites
from dvae_cli.data.in_memory import EpochBatches, split_indices, train_test_split
from dvae_cli.engine.checkpoint import load_checkpoint, load_model
from dvae_cli.engine.evaluate import evaluate_losses, evaluate_run
from dvae_cli.engine.run import train_run
from dvae_cli.errors import RunExistsError
from dvae_cli.losses import get_loss
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.logs import read_train_log

TINY = {"subsample": 256, "epochs": 2, "batch_size": 32, "latent_dim": 4, "checkpoint_every": 1,
        "eval_batchsize": 50, "reg_anneal": 10, "device": "cpu"}


def tiny_spec(name, **flags):
    return resolve_run(name, None, {**TINY, **flags}).spec


def test_sprites_grid_order_and_factors():
    factors = sprites.sprites_factors()
    assert factors.names == ("color", "shape", "scale", "orientation", "posX", "posY")
    assert factors.sizes == (1, 3, 6, 40, 32, 32) and len(factors.classes) == 737_280
    np.testing.assert_allclose(factors.values[2], np.linspace(0.5, 1, 6))
    np.testing.assert_allclose(factors.values[3], np.linspace(0, 2 * np.pi, 40))
    index = np.array([0, 1, 32, 1024, 737_279, 123_456])
    classes = sprites.index_to_classes(index)
    assert classes[1].tolist() == [0, 0, 0, 0, 0, 1] and classes[2].tolist() == [0, 0, 0, 0, 1, 0]
    assert classes[4].tolist() == [0, 2, 5, 39, 31, 31]
    np.testing.assert_array_equal(sprites.classes_to_index(classes), index)


def test_sprites_cache_matches_direct_rendering_and_positions_move_the_object(sprites_data_dir):
    data = sprites.load("sprites", sprites_data_dir)
    assert len(data) == 737_280 and data.packed and data.pixels.dtype == torch.uint8
    index = np.array([5, 999, 40_000, 500_000, 737_279])
    cached = data.batch(torch.from_numpy(index)).numpy().astype(bool)
    np.testing.assert_array_equal(cached, sprites.render(sprites.index_to_classes(index)))
    # posX moves the object right by 32/31 px per step, posY down (dSprites' grid: centres 16..48 px)
    steps = np.arange(32)
    row = sprites.classes_to_index(np.array([[0, 1, 5, 3, i, 7] for i in steps]))
    column = sprites.classes_to_index(np.array([[0, 1, 5, 3, 7, j] for j in steps]))
    xs = [np.nonzero(im)[1].mean() for im in data.batch(torch.from_numpy(row)).numpy()[:, 0]]
    ys = [np.nonzero(im)[0].mean() for im in data.batch(torch.from_numpy(column)).numpy()[:, 0]]
    for centroid in (xs, ys):
        slope, intercept = np.polyfit(steps, centroid, 1)
        assert slope == pytest.approx(32 / 31, abs=0.01) and intercept == pytest.approx(15.5, abs=0.2)


def test_split_and_subsample_are_fixed_and_disjoint(sprites_data_dir):
    train, test = split_indices(1000, 0.1)
    assert len(test) == 100 and not set(train) & set(test)
    assert np.array_equal(split_indices(1000, 0.1)[1], test)
    data = sprites.load("sprites", sprites_data_dir)
    tr, te = train_test_split(data, 0.1, subsample=300)
    tr2, _ = train_test_split(data, 0.1, subsample=300)
    assert (len(tr), len(te)) == (300, 33)
    assert np.array_equal(tr.factors.classes, tr2.factors.classes)
    full_train, full_test = split_indices(len(data), 0.1)
    chosen = sprites.classes_to_index(tr.factors.classes)
    assert set(chosen) <= set(full_train.tolist())   # a subsample never draws test images


def test_epoch_batches_are_seeded_per_epoch_and_drop_the_remainder():
    batches = EpochBatches(10, 3, seed=1)
    epoch0 = [b.tolist() for b in batches.epoch(0)]
    assert len(epoch0) == 3 and all(len(b) == 3 for b in epoch0)
    assert epoch0 == [b.tolist() for b in EpochBatches(10, 3, seed=1).epoch(0)]
    assert epoch0 != [b.tolist() for b in batches.epoch(1)]


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_trains_and_writes_a_compatible_results_folder(tmp_path, sprites_data_dir, loss):
    spec = tiny_spec(f"tiny-{loss}", loss=loss, **({"epochs": 1} if loss == "factor" else {}))
    result = train_run(spec, tmp_path, sprites_data_dir)
    folder = result.folder
    files = {p.name for p in folder.path.iterdir()}
    assert {"specs.json", "model.pt", "train_losses.log", "test_losses.log", "model-0.pt",
            "model-1.pt", "training_state.pt"} <= files
    written = json.loads(folder.specs_path.read_text())
    for key in ("img_size", "model_type", "experiment", "dataset", "n_train", "n_test", "test_fraction"):
        assert key in written
    assert written["img_size"] == [1, 64, 64] and written["n_train"] == 256
    history = read_train_log(folder.train_log_path)
    assert {"loss", "recon_loss", "kl_loss", "kl_loss_0", "kl_loss_3"} <= set(history)
    expected = {"betaB": {"C"}, "factor": {"tc_loss", "discrim_loss"},
                "btcvae": {"mi_loss", "tc_loss", "dw_kl_loss"}}.get(loss, set())
    assert expected <= set(history)
    assert all(len(points) == 2 for points in history.values())   # one row per term per epoch
    assert all(math.isfinite(v) for points in history.values() for _, v in points)
    # model.pt is a plain state_dict as disentangling-vae writes it
    state = torch.load(folder.model_path, weights_only=True)
    assert set(state) == set(load_model(folder.model_path, folder.read_spec()).state_dict())
    checkpoint = load_checkpoint(folder.path / "training_state.pt")
    assert checkpoint["epoch"] == 2 and checkpoint["step"] == 2 * (256 // spec.batch_size)
    if loss == "factor":
        assert any(key.startswith("discriminator.") for key in checkpoint["loss"])
        assert checkpoint["loss_optimizer"]["state"], "the discriminator's optimiser state is saved"


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_trains_in_bf16_and_keeps_float32_weights(tmp_path, sprites_data_dir, loss):
    spec = tiny_spec(f"bf16-{loss}", loss=loss, subsample=64, epochs=1, no_test=True)
    bf16 = train_run(tiny_spec(f"bf16-{loss}", loss=loss, subsample=64, epochs=1, no_test=True, precision="bf16"),
                     tmp_path / "bf16", sprites_data_dir)
    assert json.loads((bf16.folder.specs_path).read_text())["precision"] == "bf16"   # recorded with the run
    fp32 = train_run(spec, tmp_path / "fp32", sprites_data_dir)
    assert all(math.isfinite(v) for points in bf16.history.values() for _, v in points)
    state = torch.load(bf16.folder.model_path, weights_only=True)
    assert all(t.dtype == torch.float32 for t in state.values() if t.is_floating_point())
    # autocast really ran: the same seed in bf16 lands on other losses than in fp32
    assert bf16.history["recon_loss"] != fp32.history["recon_loss"]


def test_same_seed_same_log_other_seed_other_log(tmp_path, sprites_data_dir):
    logs = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_run(tiny_spec(name, loss="btcvae", seed=seed), tmp_path, sprites_data_dir)
        logs.append((tmp_path / name / "train_losses.log").read_text())
    assert logs[0] == logs[1]
    assert logs[0] != logs[2]


def test_losses_fall_during_training(tmp_path, sprites_data_dir):
    spec = tiny_spec("falls", loss="betaH", subsample=1024, epochs=3, batch_size=32, lr=1e-3)
    history = train_run(spec, tmp_path, sprites_data_dir).history
    recon = [v for _, v in history["recon_loss"]]
    assert recon[-1] < 0.5 * recon[0]


def test_test_losses_average_the_whole_test_set(tmp_path, sprites_data_dir):
    spec = tiny_spec("whole", loss="betaH", eval_batchsize=7)
    result = train_run(spec, tmp_path, sprites_data_dir)
    folder = result.folder
    model = load_model(folder.model_path, folder.read_spec())
    _, test = train_test_split(sprites.load("sprites", sprites_data_dir), spec.test_fraction, spec.subsample)
    assert len(test) == result.spec.n_test == 28
    loss = get_loss("betaH", **spec.to_dict())
    with torch.no_grad():   # one pass over all 28 images (betaH's terms are per-image means)
        everything = loss(model, test.images(), None).terms
    logged = json.loads(folder.test_log_path.read_text())
    for key in ("loss", "recon_loss", "kl_loss"):
        assert logged[key] == pytest.approx(everything[key].item(), rel=1e-5)
    assert logged == pytest.approx(evaluate_losses(model, loss, test, batch_size=1000), rel=1e-5)


def test_existing_run_is_never_replaced_without_overwrite(tmp_path, sprites_data_dir):
    spec = tiny_spec("keep", loss="VAE", epochs=1)
    train_run(spec, tmp_path, sprites_data_dir)
    before = (tmp_path / "keep" / "model.pt").read_bytes()
    with pytest.raises(RunExistsError, match="--overwrite"):
        train_run(tiny_spec("keep", loss="VAE", epochs=1, seed=9), tmp_path, sprites_data_dir)
    assert (tmp_path / "keep" / "model.pt").read_bytes() == before
    train_run(tiny_spec("keep", loss="VAE", epochs=1, seed=9), tmp_path, sprites_data_dir, overwrite=True)
    assert (tmp_path / "keep" / "model.pt").read_bytes() != before


def test_reference_run_evaluates_on_sprites(tmp_path, disvae_results, sprites_data_dir):
    import shutil

    run = tmp_path / "btcvae_dsprites"
    shutil.copytree(disvae_results / "btcvae_dsprites", run)
    original = (run / "test_losses.log").read_text()
    spec = RunFolder(run).read_spec()
    spec_dict = json.loads((run / "specs.json").read_text())
    spec_dict["subsample"] = 900   # keep the test small: 100 test images
    (run / "specs.json").write_text(json.dumps(spec_dict))
    evaluation = evaluate_run(RunFolder(run), sprites_data_dir, dataset="sprites", device="cpu")
    assert evaluation.n_images == 100 and spec.loss == "btcvae"
    assert {"loss", "recon_loss", "mi_loss", "tc_loss", "dw_kl_loss", "kl_loss"} <= set(evaluation.losses)
    assert all(math.isfinite(v) for v in evaluation.losses.values())
    assert (run / "test_losses.log.bak").read_text() == original
