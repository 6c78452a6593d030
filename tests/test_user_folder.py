"""``folder:PATH``: a folder of the user's own image files as a dataset, with and without factors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dvae_cli.data import user_folder
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.loading import load_dataset
from dvae_cli.errors import ConfigError, DatasetUnavailableError

from conftest import run_dvae
from tiny_runs import tiny_flags

N = 48


def write_folder(root: Path, n: int = N, grey: bool = False) -> list[str]:
    """`n` images in the formats users have (png, jpg, webp, 16-bit png, RGBA, tiff) in nested folders,
    and a text file; returns the images' relative paths in sorted order."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(n):
        folder = root / ("a" if i % 3 else "b/c")
        folder.mkdir(parents=True, exist_ok=True)
        height, width = 70 + i % 5, 90 - i % 7
        if grey:
            image = Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), "L")
            name = f"{i:03d}.png"
        elif i % 6 == 0:
            image = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))   # mode I;16
            name = f"{i:03d}.png"
        elif i % 6 == 1:
            image = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
            name = f"{i:03d}.png"
        else:
            image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")
            name = f"{i:03d}." + ("jpg", "webp", "tiff", "png")[i % 4]
        image.save(folder / name)
        names.append((folder / name).relative_to(root).as_posix())
    (root / "a" / "README.txt").write_text("not an image")
    return sorted(names)


def write_factors(root: Path, names: list[str], rows: int | None = None, bad: str | None = None) -> None:
    """factors.csv with a file column, listed in reverse order (matched by name, not by position)."""
    with (root / "factors.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "shape", "size"])
        for i, name in reversed(list(enumerate(names[:rows]))):
            writer.writerow([name, bad if bad is not None and i == 3 else int(Path(name).stem) % 3,
                             int(Path(name).stem) % 4])


def test_folder_is_a_dataset_with_its_images_factors_and_skipped_files(tmp_path):
    names = write_folder(tmp_path / "mine")
    write_factors(tmp_path / "mine", names)
    name = f"folder:{tmp_path / 'mine'}"
    info = dataset_info(name)
    assert (info.img_size, info.n_images, info.has_factors) == ((3, 64, 64), N, True)
    found = user_folder.scan(name)
    assert found.images == tuple(names)
    assert found.skipped == (("a/README.txt", "not an image Pillow can read"),)
    assert {"I;16", "RGBA", "RGB"} <= set(found.modes)
    data = load_dataset(name, tmp_path / "data")
    assert len(data) == N and data.img_size == (3, 64, 64)
    classes = data.factors.classes
    expected = np.array([[int(Path(n).stem) % 3, int(Path(n).stem) % 4] for n in names])
    assert data.factors.names == ("shape", "size") and np.array_equal(classes, expected)
    pixels = data.batch(torch.arange(N)).float()
    assert pixels.min() >= 0 and pixels.max() <= 1 and pixels.std() > 0.1   # 16-bit images are not white


def test_a_greyscale_folder_gives_one_channel(tmp_path):
    write_folder(tmp_path / "grey", n=8, grey=True)
    assert dataset_info(f"folder:{tmp_path / 'grey'}").img_size == (1, 64, 64)


def test_the_cache_is_reused_and_remade_when_the_folder_changes(tmp_path, monkeypatch):
    write_folder(tmp_path / "mine", n=12)
    name = f"folder:{tmp_path / 'mine'}"
    first = load_dataset(name, tmp_path / "data").batch(torch.arange(12)).clone()
    cache = tmp_path / "data" / dataset_info(name).prepared
    assert cache.is_file()

    def no_second_preparation(*args, **kwargs):
        raise AssertionError("the images were prepared again")

    with monkeypatch.context() as patch:
        patch.setattr(user_folder, "_prepare", no_second_preparation)
        assert (load_dataset(name, tmp_path / "data").batch(torch.arange(12)) == first).all()
    Image.new("RGB", (64, 64), "red").save(tmp_path / "mine" / "zz.png")   # a new file: a new cache
    grown = dataset_info(name)
    assert grown.n_images == 13 and (tmp_path / "data" / grown.prepared) != cache
    assert len(load_dataset(name, tmp_path / "data")) == 13 and len(list(cache.parent.glob("*.npy"))) == 2


@pytest.mark.parametrize(("rows", "bad", "message"), [(N - 1, None, "no row for image"),
                                                      (None, "x", "factor 'shape' holds 'x', not an integer")])
def test_a_factors_file_that_does_not_fit_is_refused(tmp_path, rows, bad, message):
    names = write_folder(tmp_path / "mine")
    write_factors(tmp_path / "mine", names, rows=rows, bad=bad)
    with pytest.raises(ConfigError, match=message):
        load_dataset(f"folder:{tmp_path / 'mine'}", tmp_path / "data")


def test_missing_and_empty_folders_are_one_line(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="does not exist"):
        dataset_info(f"folder:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DatasetUnavailableError, match=r"no image files under .*empty \(1 other files skipped\)"):
        dataset_info(f"folder:{tmp_path / 'empty'}")
    for target in ("nowhere", "empty"):
        result = run_dvae("train", "x", "-d", f"folder:{tmp_path / target}", "--results-dir",
                          str(tmp_path / "results"), "--data-dir", str(tmp_path / "data"))
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
        assert not (tmp_path / "results").exists() and "Traceback" not in result.stderr


@pytest.mark.slow
def test_train_eval_and_info_on_a_folder_with_factors(tmp_path):
    names = write_folder(tmp_path / "mine")
    write_factors(tmp_path / "mine", names)
    dirs = ["--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    trained = run_dvae("train", "own", "-d", "folder:mine", *tiny_flags(batch_size=8), *dirs, cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    specs = json.loads((tmp_path / "results" / "own" / "specs.json").read_text())
    assert specs["dataset"] == f"folder:{(tmp_path / 'mine').resolve()}"   # recorded absolute
    assert specs["data_preprocessing"] == {"folder": str((tmp_path / "mine").resolve()), "resize": user_folder.resize_text(64),
                                           "channels": 3, "images": N, "skipped": 1, "factors": "factors.csv"}
    scored = run_dvae("eval", "own", "--metric", "mig,dci", "--no-test", *dirs)
    assert scored.returncode == 0, scored.stderr
    scores = json.loads((tmp_path / "results" / "own" / "metrics.log").read_text())
    assert all(math.isfinite(scores[key]) for key in ("MIG", "DCI_disentanglement", "DCI_completeness"))
    info = run_dvae("data", "info", f"folder:{tmp_path / 'mine'}", "-n", "4", *dirs[2:], cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    assert "a/README.txt" in info.stdout and "not an image Pillow can read" in info.stdout
    assert "I;16" in info.stdout and (tmp_path / "folder-mine-samples.png").is_file()


@pytest.mark.slow
def test_without_factors_only_the_unsupervised_scores(tmp_path):
    write_folder(tmp_path / "mine", n=16)
    dirs = ["--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    trained = run_dvae("train", "own", "-d", f"folder:{tmp_path / 'mine'}", *tiny_flags(batch_size=8), *dirs)
    assert trained.returncode == 0, trained.stderr
    scored = run_dvae("eval", "own", "--metric", "mig", "--no-test", *dirs)
    assert scored.returncode == 2 and scored.stderr.count("\n") == 1
    assert "has no ground-truth factors" in scored.stderr and "Traceback" not in scored.stderr
    unsupervised = run_dvae("eval", "own", "--metrics", "--no-test", *dirs)   # the scores that need no factors
    assert unsupervised.returncode == 0, unsupervised.stderr
    scores = json.loads((tmp_path / "results" / "own" / "metrics.log").read_text())
    assert "MIG" not in scores and math.isfinite(scores["gaussian_total_correlation"])
