"""Figures on a tiny trained run and on disentangling-vae's runs: sizes, frames, ranges, order, files."""

from __future__ import annotations

import shutil

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from conftest import run_dvae
from dvae_cli.config import resolve_run
from dvae_cli.engine.checkpoint import load_model
from dvae_cli.engine.run import train_run
from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.logs import write_train_log
from dvae_cli.viz.grid import grid_array
from dvae_cli.viz.grid import SEPARATOR, parse_layout_comment
from dvae_cli.viz.labels import TITLE_HEIGHT, label_width, row_centres, title_height
from dvae_cli.viz.plots import GIF_FRAMES, PlotOptions, PlotSkipped, make_plots
from dvae_cli.viz.traversals import kl_order, traversal_codes, traversal_range, traversals

TINY = {"subsample": 256, "epochs": 3, "batch_size": 32, "latent_dim": 4, "checkpoint_every": 10,
        "eval_batchsize": 50, "device": "cpu", "loss": "btcvae", "no_test": True}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, sprites_data_dir):
    results = tmp_path_factory.mktemp("results")
    from dvae_cli.viz.training_gif import training_gif

    train_run(resolve_run("tiny", None, TINY).spec, results, sprites_data_dir, callbacks=[training_gif])
    return results / "tiny"


@pytest.fixture
def run_copy(tmp_path, tiny_run):
    shutil.copytree(tiny_run, tmp_path / "tiny")
    return tmp_path / "tiny"


def grid_size(rows, cols, side=64, pad=2):
    return rows * side + (rows + 1) * pad, cols * side + (cols + 1) * pad


def read(path):
    return np.asarray(iio.imread(path))


def gray(image):
    return image if image.ndim == 2 else image[..., :3].mean(axis=-1)


def inked_rows(margin, centres, background):
    """Which of the label `centres` of a margin (H, W) have text (pixels far from the background) near them."""
    ink = np.abs(gray(margin).astype(float) - background) > 100
    return [bool(ink[max(int(y) - 5, 0):int(y) + 6].any()) for y in centres]


def test_training_gif_has_one_frame_per_epoch_of_every_latent_labelled(tiny_run):
    frames = iio.imread(tiny_run / "training.gif", index=None)
    height, width = grid_size(4, 10)
    title = "tiny · btcvae · sprites · prior traversals ±2\nepoch 1 of 3"
    labels = width + label_width(["z3 KL=888.88"])
    assert frames.shape[:3] == (3, height + title_height(title, labels), labels)
    assert title_height(title, labels) == 2 * (TITLE_HEIGHT - 4) + 4      # the epoch on a line of its own
    assert not np.array_equal(frames[0], frames[-1]), "the traversals change as the model trains"
    top = frames.shape[1] - height
    for frame in frames:   # sprites: white padding, black text; every latent's row is labelled
        assert all(inked_rows(frame[top:, width:], row_centres(height, 4), 255))


@pytest.mark.parametrize("rows,cols,up", [(4, 3, 1), (2, 5, 2)])
def test_grid_plots_have_the_size_of_rows_cols_and_upsampling(run_copy, sprites_data_dir, rows, cols, up):
    options = PlotOptions(n_rows=rows, n_cols=cols, upsample=up, title=False)
    written = make_plots(run_copy, ["generate-samples", "data-samples", "reconstruct", "traversals"],
                         sprites_data_dir, options=options)
    assert [p.name for p in written] == ["samples.png", "data_samples.png", "reconstruct.png",
                                         "prior_traversals.png"]
    for path in written[:3]:
        assert read(path).shape[:2] == grid_size(rows, cols, 64 * up), path.name
    latents = min(rows, 4)   # traversal rows: one per latent, at most latent_dim
    assert read(written[3]).shape[:2] == grid_size(latents, cols, 64 * up)
    titled = make_plots(run_copy, ["generate-samples"], options=PlotOptions(n_rows=rows, n_cols=cols, upsample=up))
    height, width = grid_size(rows, cols, 64 * up)
    title = "tiny · btcvae · sprites · samples from the prior"
    assert read(titled[0]).shape[:2] == (height + title_height(title, width), width)


def test_reconstruct_splits_originals_from_reconstructions(run_copy, sprites_data_dir):
    (path,) = make_plots(run_copy, ["reconstruct"], sprites_data_dir, options=PlotOptions(n_rows=4, n_cols=3))
    image = read(path)
    half, width = grid_size(2, 3)
    labels = label_width(["originals", "reconstructions"])
    title = "tiny · btcvae · sprites · test images and their reconstructions"
    top = title_height(title, width + labels)
    assert image.shape == (top + 2 * half + SEPARATOR, width + labels)
    band = image[top + half:top + half + SEPARATOR, :width]
    assert (band == 128).all(axis=1).sum() == 2 and (band == 255).all(axis=1).sum() == SEPARATOR - 2
    assert all(inked_rows(image[top:, width:], [half / 2, half + SEPARATOR + half / 2], 255))
    assert 8 * title_height(title, 10_000) > top > title_height(title, 10_000)   # wrapped, not cut
    (plain,) = make_plots(run_copy, ["reconstruct"], sprites_data_dir,
                          options=PlotOptions(n_rows=4, n_cols=3, title=False))
    assert read(plain).shape == grid_size(4, 3)              # --no-title: the reference's layout


def test_reconstruct_traverse_rows_and_loss_labels(run_copy, sprites_data_dir):
    options = PlotOptions(n_rows=3, n_cols=5, show_loss=True, posterior=True)
    (path,) = make_plots(run_copy, ["reconstruct-traverse"], sprites_data_dir, options=options)
    image = read(path)
    (_, width), one, three = grid_size(1, 5), grid_size(1, 5)[0], grid_size(3, 5)[0]
    height = 2 * one + three + 2 * SEPARATOR
    assert image.shape[0] - height == title_height(
        "tiny · btcvae · sprites · test images, reconstructions, posterior traversals ±2", image.shape[1])
    assert image.shape[1] - width >= label_width(["reconstruction", "z0 KL=0.00"])
    top = image.shape[0] - height
    centres = [one / 2, one + SEPARATOR + one / 2, *row_centres(three, 3, 2 * (one + SEPARATOR))]
    assert all(inked_rows(image[top:, width:], centres, 255))


def test_gif_traversals_frames_rows_latents_columns_examples(run_copy, sprites_data_dir):
    (path,) = make_plots(run_copy, ["gif-traversals"], sprites_data_dir,
                         options=PlotOptions(n_rows=2, n_cols=3, title=False))
    frames = iio.imread(path, index=None)
    assert frames.shape[0] == GIF_FRAMES
    assert frames.shape[1:3] == grid_size(2, 3)
    assert not np.array_equal(frames[0], frames[-1])
    assert parse_layout_comment(iio.immeta(path, plugin="pillow").get("comment")) == (0, 0)


def test_gif_traversals_label_each_row_with_its_latent(run_copy, sprites_data_dir):
    for show_loss in (False, True):
        (path,) = make_plots(run_copy, ["gif-traversals"], sprites_data_dir,
                             options=PlotOptions(n_rows=3, n_cols=2, show_loss=show_loss))
        frames = iio.imread(path, index=None)
        height, width = grid_size(3, 2)
        top, right = parse_layout_comment(iio.immeta(path, plugin="pillow").get("comment"))
        assert (top, right) == (frames.shape[1] - height, frames.shape[2] - width)   # the comment is right
        assert right == (label_width(["z0 KL=0.00"]) if show_loss else label_width(["z0"]))
        assert top >= 2 * (TITLE_HEIGHT - 4) + 4                     # the title and its legend line
        assert all(inked_rows(frames[0, top:, width:], row_centres(height, 3), 255))


def test_traversal_ranges_absolute_quantile_and_centred_on_the_posterior():
    assert traversal_range(2.0) == (-2.0, 2.0)
    assert traversal_range(2.0, mean=1.0, std=0.5) == (-1.0, 3.0)
    low, high = traversal_range(0.45)
    assert low == pytest.approx(-1.6449, abs=1e-4) and high == pytest.approx(1.6449, abs=1e-4)
    low, high = traversal_range(0.45, mean=3.0, std=0.1)   # the reference gave (+-ppf) around 0 here
    assert (low + high) / 2 == pytest.approx(3.0) and high - low == pytest.approx(0.32898, abs=1e-4)


def test_posterior_traversal_sweeps_around_the_images_posterior_mean(tiny_run, sprites_data_dir):
    model = load_model(tiny_run / "model.pt", RunFolder(tiny_run).read_spec())
    image = torch.zeros(1, 1, 64, 64)
    image[..., 20:40, 10:30] = 1
    mean, logvar = model.encoder(image)
    codes = traversal_codes(model, [1], 5, 0.45, image, torch.Generator().manual_seed(0))
    std = torch.exp(0.5 * logvar[0, 1])
    assert codes[2, 1].item() == pytest.approx(mean[0, 1].item(), abs=1e-5)   # the middle step is the mean
    assert (codes[4, 1] - codes[0, 1]).item() == pytest.approx(2 * 1.6449 * std.item(), rel=1e-3)
    assert torch.equal(codes[:, 0], codes[0, 0].repeat(5))   # the other latents stay put


def test_latent_rows_are_ordered_by_last_epoch_kl(run_copy):
    history = RunFolder(run_copy).train_losses()
    kl = {0: 0.5, 1: 0.01, 2: 3.0, 3: 1.5}      # rewrite the last epoch's KL: order z2, z3, z0, z1
    last = max(e for e, _ in history["kl_loss_0"])
    for j, value in kl.items():
        history[f"kl_loss_{j}"][-1] = (last, value)
    write_train_log(run_copy / "train_losses.log", history)
    assert kl_order([kl[j] for j in range(4)], 4) == [2, 3, 0, 1]
    (path,) = make_plots(run_copy, ["traversals"], options=PlotOptions(n_rows=2, n_cols=4, title=False))
    model = load_model(run_copy / "model.pt", RunFolder(run_copy).read_spec())
    expected = grid_array(traversals(model, [2, 3], 4, 2.0), nrow=4)
    assert np.array_equal(read(path), expected[:, :, 0])


def test_loss_kl_and_mutual_information_charts(run_copy, sprites_data_dir):
    written = make_plots(run_copy, ["losses", "kl-per-dim"])
    assert [p.name for p in written] == ["losses.png", "kl_per_dim.png"]
    assert all(read(p).shape[0] > 200 for p in written)
    with pytest.raises(PlotSkipped, match="dvae eval --metrics"):
        make_plots(run_copy, ["mutual-info"])
    result = run_dvae("eval", str(run_copy), "--no-test", "--metric", "mig", "--fast", "--max-images", "3000",
                      "--data-dir", str(sprites_data_dir))
    assert result.returncode == 0, result.stderr
    (path,) = make_plots(run_copy, ["mutual-info"])
    assert read(path).shape[1] > 400


def test_bad_plot_requests_fail_before_drawing(run_copy):
    with pytest.raises(UnknownNameError, match="did you mean 'traversals'"):
        make_plots(run_copy, ["travesals"])
    with pytest.raises(ConfigError, match="--n-rows must be even"):
        make_plots(run_copy, ["reconstruct"], options=PlotOptions(n_rows=3))
    with pytest.raises(ConfigError, match="--max-traversal"):
        make_plots(run_copy, ["traversals"], options=PlotOptions(max_traversal=0))
    assert not (run_copy / "reconstruct.png").exists()


@pytest.mark.slow
def test_plots_of_the_reference_runs(tmp_path, disvae_results, sprites_data_dir):
    for name in ("btcvae_dsprites", "factor_chairs", "VAE_mnist"):
        shutil.copytree(disvae_results / name, tmp_path / name)
    result = run_dvae("plot", "btcvae_dsprites", "all", "-d", "sprites", "--show-loss", "-r", "4",
                      "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert result.returncode == 0, result.stderr
    for name in ("samples.png", "data_samples.png", "reconstruct.png", "prior_traversals.png",
                 "reconstruct_traverse.png", "posterior_traversals.gif", "losses.png", "kl_per_dim.png"):
        assert (tmp_path / "btcvae_dsprites" / name).is_file(), name
    assert "skipped mutual-info" in result.stdout
    # dSprites has black backgrounds: white grid lines; chairs are on white: black lines
    samples = read(tmp_path / "btcvae_dsprites" / "samples.png")
    assert samples[samples.shape[0] - grid_size(6, 7)[0], 0].min() == 255
    result = run_dvae("plot", "factor_chairs", "generate-samples", "--results-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    samples = read(tmp_path / "factor_chairs" / "samples.png")
    assert samples[samples.shape[0] - grid_size(6, 7)[0], 0].max() == 0
    # mnist cannot be downloaded here: 'all' draws what needs no data, a named data plot is an error
    env = {"DVAE_OFFLINE": "1"}
    result = run_dvae("plot", "VAE_mnist", "all", "--results-dir", str(tmp_path), "--data-dir",
                      str(tmp_path / "no-data"), env=env)
    assert result.returncode == 0, result.stderr
    assert "skipped data-samples" in result.stdout and (tmp_path / "VAE_mnist" / "samples.png").is_file()
    before = sorted(p.name for p in (tmp_path / "VAE_mnist").iterdir())
    result = run_dvae("plot", "VAE_mnist", "reconstruct", "--results-dir", str(tmp_path), "--data-dir",
                      str(tmp_path / "no-data"), env=env)
    assert result.returncode == 2 and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (tmp_path / "VAE_mnist").iterdir()) == before


def test_the_readme_names_each_plots_files_from_its_catalogue_entry():
    """The README's table of plots and `PlotInfo` name the same plots and files (the catalogue owns them)."""
    from pathlib import Path

    from dvae_cli.catalogue.plots import PLOTS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    for info in PLOTS.values():
        assert rows[info.name] == " / ".join(f"`{file.name}`" for file in info.files), info.name
