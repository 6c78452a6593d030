"""``--img-size``: the datasets whose source allows it at 128x128 (and folders at 32, 64, 128), the 128x128 model."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_dvae
from PIL import Image
from test_user_folder import write_factors, write_folder
from tiny_runs import tiny_flags

from dvae_cli.config import resolve_run
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.loading import load_dataset
from dvae_cli.data.sizes import sized_name, sizes_of
from dvae_cli.errors import ConfigError


def test_each_dataset_comes_at_its_source_sizes_only():
    assert sizes_of("celeba") == {64: "celeba", 128: "celeba-128"} == sizes_of("celeba-128")
    assert sizes_of("chairs") == {64: "chairs", 128: "chairs-128"}
    assert sizes_of("cars3d") == {64: "cars3d", 128: "cars3d-128"}
    assert sizes_of("shapes3d") == {64: "shapes3d"} and sizes_of("mnist") == {32: "mnist"}
    assert sizes_of("sprites-color") == {64: "sprites-color"}
    assert sizes_of("folder:/x") == {32: "folder-32:/x", 64: "folder:/x", 128: "folder-128:/x"}
    assert sized_name("celeba-128", 64) == "celeba" and sized_name("folder-128:/x", 64) == "folder:/x"
    with pytest.raises(ConfigError, match=r"'smallnorb' comes at 64x64 only .* celeba, chairs, cars3d, folder:PATH"):
        sized_name("smallnorb", 128)
    with pytest.raises(ConfigError, match=r"--img-size 256: the model takes 32x32, 64x64 or 128x128 images"):
        sized_name("celeba", 256)
    with pytest.raises(ConfigError, match="32x32, 64x64 or 128x128 pixels, not 96"):
        dataset_info("folder-96:/x")


def test_resolving_img_size_names_the_sized_dataset():
    spec = resolve_run("r", None, {"dataset": "chairs", "img_size": 128}).spec
    assert (spec.dataset, spec.img_size) == ("chairs-128", [1, 128, 128])
    spec = resolve_run("r", None, {"dataset": "cars3d-128", "img_size": 64}).spec
    assert (spec.dataset, spec.img_size) == ("cars3d", [3, 64, 64])
    assert resolve_run("r", None, {}).spec.img_size == [1, 64, 64]   # no --img-size: the dataset's own


def _aligned_faces(folder: Path, n: int) -> None:
    """CelebA's format: 178x218 JPEGs named 000001.jpg..., with bands outside the centre 178x178 crop."""
    folder.mkdir(parents=True)
    for k in range(n):
        image = np.full((218, 178, 3), (40 * k, 100, 200 - 30 * k), dtype=np.uint8)
        image[60:120, 60:120] = (250, 250, 250)       # a square inside the crop, to compare the two sizes
        image[:8] = image[-8:] = (255, 0, 0)
        Image.fromarray(image).save(folder / f"{k + 1:06d}.jpg", quality=95)


def test_celeba_at_128_from_the_official_zip_next_to_64(tmp_path):
    source = tmp_path / "src" / "img_align_celeba"
    _aligned_faces(source, 4)
    (tmp_path / "data" / "celeba").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "data" / "celeba" / "img_align_celeba.zip", "w") as zipped:
        for file in sorted(source.iterdir()):
            zipped.write(file, f"img_align_celeba/{file.name}")
    big = load_dataset("celeba-128", tmp_path / "data")
    small = load_dataset("celeba", tmp_path / "data")
    assert big.img_size == (3, 128, 128) and small.img_size == (3, 64, 64) and len(big) == len(small) == 4
    assert dataset_info("celeba-128").prepared != dataset_info("celeba").prepared
    assert (tmp_path / "data" / dataset_info("celeba-128").prepared).is_file()
    pooled = torch.nn.functional.avg_pool2d(big.images().float(), 2)
    assert (pooled - small.images().float()).abs().mean() < 0.03     # the same crop at twice the resolution
    assert big.images()[:, 0].max() < 1 - 1e-3 or big.images()[:, 1].min() < 0.9   # the red bands were cropped


def test_chairs_at_128_from_rendered_pngs(tmp_path):
    renders = tmp_path / "data" / "chairs" / "rendered_chairs" / "1a6f615e8b1b5ae4dbbc9440457e303e" / "renders"
    renders.mkdir(parents=True)
    for view in range(3):
        image = np.full((600, 600, 3), 255, dtype=np.uint8)
        image[:100] = 0                                   # outside the 400x400 crop
        image[250:350, 250:350] = 60 * view
        Image.fromarray(image).save(renders / f"image_{view:03d}_p020_t000_r096.png")
    data = load_dataset("chairs-128", tmp_path / "data")
    assert data.img_size == (1, 128, 128) and len(data) == 3
    pixels = data.images().numpy()[:, 0]
    assert pixels[:, :8].min() > 0.98                      # the black border was cropped away
    assert pixels[0, 56:72, 56:72].max() < 0.02 and pixels[2, 56:72, 56:72].max() < 0.5   # the chair at the centre


def test_a_size_the_source_does_not_have_is_one_line_before_any_work(tmp_path):
    dirs = ["--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    for args, message in ((["-d", "shapes3d", "--img-size", "128"], "'shapes3d' comes at 64x64 only"),
                          (["-d", "folder:/nowhere", "--img-size", "48"], "the model takes 32x32, 64x64 or 128x128"),
                          (["--img-size", "0"], "--img-size must be the images' side in pixels")):
        result = run_dvae("train", "big", *args, *dirs)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("error: ") and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "data").exists()


@pytest.mark.slow
def test_own_images_at_128_train_evaluate_plot_and_resume(tmp_path):
    names = write_folder(tmp_path / "mine", n=32)
    write_factors(tmp_path / "mine", names)
    dirs = ["--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    trained = run_dvae("train", "big", "-d", "folder:mine", "--img-size", "128", *tiny_flags(batch_size=8),
                       *dirs, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    folder = tmp_path / "results" / "big"
    specs = json.loads((folder / "specs.json").read_text())
    assert specs["dataset"] == f"folder-128:{(tmp_path / 'mine').resolve()}" and specs["img_size"] == [3, 128, 128]
    assert specs["data_preprocessing"]["resize"].endswith("resize to 128x128")
    weights = torch.load(folder / "model.pt", map_location="cpu", weights_only=True)
    assert weights["encoder.conv_128.weight"].shape == (32, 32, 4, 4) and "decoder.convT_128.weight" in weights
    cache = np.load(tmp_path / "data" / dataset_info(specs["dataset"]).prepared, mmap_mode="r")
    assert cache.shape == (32, 3, 128, 128)

    scored = run_dvae("eval", "big", "--metric", "mig", "--no-test", *dirs)
    assert scored.returncode == 0, scored.stderr
    assert math.isfinite(json.loads((folder / "metrics.log").read_text())["MIG"])
    plotted = run_dvae("plot", "big", "reconstruct", *dirs)
    assert plotted.returncode == 0, plotted.stderr
    assert any(folder.glob("reconstruct*.png"))

    refused = run_dvae("train", "big", "--resume", "--img-size", "64", "-e", "2", *dirs)
    assert refused.returncode == 2 and "a resumed run keeps its spec" in refused.stderr
    resumed = run_dvae("train", "big", "--resume", "--img-size", "128", "-e", "2", *dirs)
    assert resumed.returncode == 0, resumed.stderr
    outcome = json.loads((folder / "outcome.json").read_text())
    assert (outcome["state"], outcome["epoch"]) == ("finished", 2)
