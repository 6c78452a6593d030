"""disentanglement_lib's benchmark datasets (shapes3d, mpi3d-*, cars3d, smallnorb) on tiny official-format files.

Each test writes a miniature file in the official format (HDF5 with 3D Shapes' keys,
an .npz holding ``images``, MATLAB files holding ``im``, NORB binary matrices with
their documented header) and loads it through the real loader. Where a loader checks
the official grid size, the test shrinks that module constant in-process.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from dvae_cli.data import mpi3d, shapes3d, smallnorb
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.loading import load_dataset
from dvae_cli.data.streaming import StreamedImages
from dvae_cli.errors import DatasetUnavailableError
from tests.conftest import run_dvae

TINY_SHAPES = (2, 2, 2, 2, 2, 4)   # floor, wall, object hue, scale, shape, orientation: 128 images


def write_shapes3d(data_dir: Path, sizes: tuple[int, ...] = TINY_SHAPES, seed: int = 0) -> np.ndarray:
    """A tiny 3dshapes.h5 (the official keys, dtypes and row-major label layout); returns its images."""
    import h5py

    grids = (np.linspace(0, 0.9, 10), np.linspace(0, 0.9, 10), np.linspace(0, 0.9, 10), np.linspace(0.75, 1.25, 8),
             np.arange(4.0), np.linspace(-30, 30, 15))
    classes = np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1)
    labels = np.stack([grids[k][classes[:, k]] for k in range(6)], axis=1)
    images = np.random.default_rng(seed).integers(0, 256, (len(labels), 64, 64, 3), dtype=np.uint8)
    (data_dir / "shapes3d").mkdir(parents=True, exist_ok=True)
    with h5py.File(data_dir / "shapes3d" / "3dshapes.h5", "w") as handle:
        handle.create_dataset("images", data=images)
        handle.create_dataset("labels", data=labels.astype(np.float64))
    return images


@pytest.fixture
def tiny_shapes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shapes3d, "FACTOR_SIZES", TINY_SHAPES)


def test_shapes3d_factor_grid_and_values(tmp_path, tiny_shapes):
    images = write_shapes3d(tmp_path)
    data = load_dataset("shapes3d", tmp_path)
    assert len(data) == 128 and data.img_size == (3, 64, 64)
    assert data.factors.names == ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
    assert data.factors.sizes == TINY_SHAPES
    np.testing.assert_allclose(data.factors.values[3], [0.75, 0.75 + 0.5 / 7])
    np.testing.assert_allclose(data.factors.values[5], np.linspace(-30, 30, 15)[:4])
    wanted = (1, 0, 1, 1, 0, 3)                                  # a known image at a known factor index
    index = int(np.ravel_multi_index(wanted, TINY_SHAPES))
    assert tuple(data.factors.classes[index]) == wanted
    got = data.batch(torch.tensor([index]))[0].numpy()
    np.testing.assert_array_equal(got, images[index].transpose(2, 0, 1) / np.float32(255))


def test_shapes3d_second_load_uses_the_cache(tmp_path, tiny_shapes):
    images = write_shapes3d(tmp_path)
    load_dataset("shapes3d", tmp_path)
    cache = tmp_path / dataset_info("shapes3d").prepared
    assert np.load(cache, mmap_mode="r").shape == (128, 3, 64, 64)
    (tmp_path / "shapes3d" / "3dshapes.h5").write_bytes(b"not HDF5 any more")   # never read again
    again = load_dataset("shapes3d", tmp_path)
    assert dataset_info("shapes3d").status(tmp_path)[0] == "prepared"
    np.testing.assert_array_equal(again.batch(torch.tensor([5]))[0].numpy(),
                                  images[5].transpose(2, 0, 1) / np.float32(255))
    assert again.factors.sizes == TINY_SHAPES


def test_shapes3d_rejects_a_file_out_of_grid_order(tmp_path, tiny_shapes):
    import h5py

    write_shapes3d(tmp_path)
    with h5py.File(tmp_path / "shapes3d" / "3dshapes.h5", "r+") as handle:
        handle["labels"][...] = handle["labels"][()][::-1]
    with pytest.raises(DatasetUnavailableError, match="row-major order"):
        load_dataset("shapes3d", tmp_path)
    (tmp_path / "shapes3d" / "3dshapes.h5").write_bytes(b"garbage")
    with pytest.raises(DatasetUnavailableError, match="cannot read .*3dshapes.h5 as HDF5"):
        load_dataset("shapes3d", tmp_path)


TINY_MPI = (2, 2, 2, 1, 1, 4, 8)   # 256 images


def write_mpi3d(data_dir: Path, variant: str, compressed: bool = False) -> np.ndarray:
    images = np.random.default_rng(1).integers(0, 256, (int(np.prod(TINY_MPI)), 64, 64, 3), dtype=np.uint8)
    (data_dir / "mpi3d").mkdir(parents=True, exist_ok=True)
    (np.savez_compressed if compressed else np.savez)(data_dir / "mpi3d" / f"{variant}.npz", images=images)
    return images


@pytest.mark.parametrize("compressed", [False, True])
def test_mpi3d_streams_from_a_uint8_memory_map(tmp_path, monkeypatch, compressed):
    monkeypatch.setattr(mpi3d, "GRIDS", {int(np.prod(TINY_MPI)): TINY_MPI})
    monkeypatch.setattr(mpi3d, "CHUNK", 16)
    monkeypatch.setenv("DVAE_MAX_MEMORY", "1K")
    images = write_mpi3d(tmp_path, "mpi3d_real", compressed)
    tracemalloc.start()
    try:
        data = load_dataset("mpi3d-real", tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < images.nbytes / 2              # neither a float copy nor a whole uint8 copy was made
    assert isinstance(data, StreamedImages)
    assert isinstance(data._open(), np.memmap) and data._open().dtype == np.uint8
    assert data.factors.names == ("object_color", "object_shape", "object_size", "camera_height",
                                  "background_color", "horizontal_axis", "vertical_axis")
    wanted = (1, 0, 1, 0, 0, 3, 5)
    index = int(np.ravel_multi_index(wanted, TINY_MPI))
    assert tuple(data.factors.classes[index]) == wanted
    got = data.batch(torch.tensor([index, 0]))
    assert got.dtype == torch.float32 and got.shape == (2, 3, 64, 64)
    np.testing.assert_array_equal(got[0].numpy(), images[index].transpose(2, 0, 1) / np.float32(255))


def test_mpi3d_in_budget_is_uint8_and_cached(tmp_path, monkeypatch):
    monkeypatch.setattr(mpi3d, "GRIDS", {int(np.prod(TINY_MPI)): TINY_MPI})
    monkeypatch.setenv("DVAE_MAX_MEMORY", "1G")
    write_mpi3d(tmp_path, "mpi3d_toy")
    data = load_dataset("mpi3d-toy", tmp_path)
    assert not data.streaming and data.pixels.dtype == torch.uint8 and data.pixels.shape == (256, 3, 64, 64)
    (tmp_path / "mpi3d" / "mpi3d_toy.npz").unlink()
    assert len(load_dataset("mpi3d-toy", tmp_path)) == 256      # from the cache alone


def test_mpi3d_refuses_an_unknown_grid(tmp_path):
    write_mpi3d(tmp_path, "mpi3d_realistic")
    with pytest.raises(DatasetUnavailableError, match="256 images; an MPI3D grid has 1,036,800 or 460,800"):
        load_dataset("mpi3d-realistic", tmp_path)


def write_cars(data_dir: Path, n_objects: int = 2) -> None:
    """Tiny-count but full-layout Cars3D .mat files: each view a constant colour naming its factors."""
    import scipy.io

    folder = data_dir / "cars3d" / "cars"
    folder.mkdir(parents=True)
    for obj in range(n_objects):
        im = np.zeros((128, 128, 3, 24, 4), dtype=np.uint8)
        for az in range(24):
            for el in range(4):
                im[:, :, :, az, el] = (el * 24 + az, 100 + 50 * obj, 7)
        scipy.io.savemat(folder / f"car_{obj:03d}_mesh.mat", {"im": im})


def test_cars3d_grid_order_resize_and_cache(tmp_path):
    write_cars(tmp_path)
    data = load_dataset("cars3d", tmp_path)
    assert len(data) == 4 * 24 * 2 and data.img_size == (3, 64, 64)
    assert data.factors.names == ("elevation", "azimuth", "object") and data.factors.sizes == (4, 24, 2)
    for wanted in [(2, 5, 1), (0, 0, 0), (3, 23, 1)]:
        index = int(np.ravel_multi_index(wanted, (4, 24, 2)))
        assert tuple(data.factors.classes[index]) == wanted
        pixels = (data.batch(torch.tensor([index]))[0] * 255).round().numpy()
        el, az, obj = wanted
        assert (pixels[0] == el * 24 + az).all() and (pixels[1] == 100 + 50 * obj).all() and (pixels[2] == 7).all()
    for path in (tmp_path / "cars3d" / "cars").iterdir():
        path.write_bytes(b"damaged")                           # the cache is used, the .mat files are not read
    assert len(load_dataset("cars3d", tmp_path)) == 192


def norb_matrix(array: np.ndarray, magic: int) -> bytes:
    """NORB's binary matrix: int32 magic, int32 ndim, max(3, ndim) int32 sizes (padded with 1), elements."""
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    return np.array([magic, array.ndim, *dims], dtype="<i4").tobytes() + array.tobytes()


TINY_NORB = (2, 2, 2, 3, 2)   # category, instance, elevation, azimuth / 2, lighting: 48 images


def write_norb(data_dir: Path, gz: bool) -> None:
    """Training (instance 1) and test (instance 0) sets, shuffled; each left image's value names its grid cell."""
    import gzip

    folder = data_dir / "smallnorb"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for chunk, instance in zip(smallnorb.CHUNKS, (1, 0)):
        cells = [(c, instance, e, a, light) for c in range(2) for e in range(2) for a in range(3) for light in range(2)]
        cells = [cells[i] for i in rng.permutation(len(cells))]
        grid = np.array([np.ravel_multi_index(cell, TINY_NORB) for cell in cells])
        dat = np.empty((len(cells), 2, 96, 96), dtype=np.uint8)
        dat[:, 0] = (grid * 5)[:, None, None]
        dat[:, 1] = 255 - dat[:, 0]                            # the right camera: never used
        cat = np.array([c[0] for c in cells], dtype=np.int32)
        info = np.array([(c[1], c[2], 2 * c[3], c[4]) for c in cells], dtype=np.int32)
        for part, array, magic in (("dat", dat, 0x1E3D4C55), ("cat", cat, 0x1E3D4C54), ("info", info, 0x1E3D4C54)):
            raw = norb_matrix(array, magic)
            name = folder / f"{chunk}-{part}.mat"
            if gz:
                Path(f"{name}.gz").write_bytes(gzip.compress(raw))
            else:
                name.write_bytes(raw)


@pytest.mark.parametrize("gz", [False, True])
def test_smallnorb_both_sets_in_grid_order_without_instances(tmp_path, monkeypatch, gz):
    monkeypatch.setattr(smallnorb, "GRID", TINY_NORB)
    write_norb(tmp_path, gz)
    data = load_dataset("smallnorb", tmp_path)
    assert len(data) == 48 and data.img_size == (1, 64, 64)
    assert data.factors.names == ("category", "elevation", "azimuth", "lighting")
    assert data.factors.sizes == (2, 2, 3, 2)
    np.testing.assert_array_equal(data.factors.values[1], [30, 35])      # degrees
    np.testing.assert_array_equal(data.factors.values[2], [0, 20, 40])   # degrees
    for cell in [(1, 0, 1, 2, 1), (0, 1, 0, 0, 0), (1, 1, 1, 2, 1)]:
        index = int(np.ravel_multi_index(cell, TINY_NORB))
        assert tuple(data.factors.classes[index]) == (cell[0], cell[2], cell[3], cell[4])
        pixels = (data.batch(torch.tensor([index]))[0, 0] * 255).round().numpy()
        assert (pixels == index * 5).all()
    for path in (tmp_path / "smallnorb").glob("*.mat*"):
        path.unlink()
    assert len(load_dataset("smallnorb", tmp_path)) == 48


def test_norb_header_errors(tmp_path):
    path = tmp_path / "x.mat"
    path.write_bytes(np.array([123, 1, 2, 1, 1], dtype="<i4").tobytes())
    with pytest.raises(DatasetUnavailableError, match="not a NORB binary matrix"):
        smallnorb.read_matrix(path)
    path.write_bytes(norb_matrix(np.zeros((3, 4), dtype=np.int32), 0x1E3D4C54)[:-4])
    with pytest.raises(DatasetUnavailableError, match="bytes of data"):
        smallnorb.read_matrix(path)
    path.write_bytes(norb_matrix(np.arange(12, dtype=np.int32).reshape(3, 4), 0x1E3D4C54))
    np.testing.assert_array_equal(smallnorb.read_matrix(path), np.arange(12).reshape(3, 4))


@pytest.mark.parametrize("name, file, folder", [
    ("shapes3d", "3dshapes.h5", "shapes3d"),
    ("mpi3d-toy", "mpi3d_toy.npz", "mpi3d"),
    ("mpi3d-realistic", "mpi3d_realistic.npz", "mpi3d"),
    ("mpi3d-real", "mpi3d_real.npz", "mpi3d"),
    ("cars3d", "nips2015-analogy-data.tar.gz", "cars3d"),
    ("smallnorb", "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat", "smallnorb"),
])
def test_offline_error_names_the_file_and_folder(tmp_path, monkeypatch, name, file, folder):
    monkeypatch.setenv("DVAE_OFFLINE", "1")
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset(name, tmp_path)
    message = str(caught.value)
    assert f"place {file}" in message or file in message.split("place ", 1)[1]
    assert f"{tmp_path / folder}/" in message and "\n" not in message
    assert dataset_info(name).status(tmp_path)[0] == "missing"


def test_cli_offline_error_is_one_line(tmp_path):
    result = run_dvae("train", "x", "-d", "mpi3d-toy", "--data-dir", str(tmp_path / "data"), "--results-dir",
                      str(tmp_path / "results"), env={"DVAE_OFFLINE": "1"})
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: dataset 'mpi3d-toy' is not in") and "mpi3d_toy.npz" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "results").exists()


@pytest.mark.slow
def test_cli_trains_on_tiny_shapes3d_and_shows_it(tmp_path, tiny_shapes):
    write_shapes3d(tmp_path / "data")
    load_dataset("shapes3d", tmp_path / "data")   # prepared here with the tiny grid; the CLI reads the cache
    (tmp_path / "data" / "shapes3d" / "3dshapes.h5").unlink()
    data = ["--data-dir", str(tmp_path / "data")]
    trained = run_dvae("train", "tiny3d", "-d", "shapes3d", "-e", "1", "-b", "16", "-z", "3", "--no-test",
                       "--device", "cpu", "--results-dir", str(tmp_path / "results"), *data, env={"DVAE_OFFLINE": "1"})
    assert trained.returncode == 0, trained.stderr
    written = {p.name for p in (tmp_path / "results" / "tiny3d").iterdir()}
    assert {"specs.json", "model.pt", "train_losses.log"} <= written
    scored = run_dvae("eval", "tiny3d", "--metric", "mig,factorvae,dci", "--factors", "scale,orientation", "--no-test",
                      "--device", "cpu", "--results-dir", str(tmp_path / "results"), *data)
    assert scored.returncode == 0, scored.stderr
    assert "metrics on shapes3d" in scored.stdout and "FactorVAE" in scored.stdout
    out = tmp_path / "samples.png"
    info = run_dvae("data", "info", "shapes3d", "-n", "4", "-o", str(out), *data)
    assert info.returncode == 0, info.stderr
    assert "orientation" in info.stdout and "4 values in [-30, -17.1]" in info.stdout and out.is_file()


def test_training_streams_mpi3d(tmp_path, monkeypatch):
    """A real (tiny) run over the memory-mapped MPI3D cache, read by DataLoader workers."""
    from dvae_cli.config import resolve_run
    from dvae_cli.engine.run import train_run

    monkeypatch.setattr(mpi3d, "GRIDS", {int(np.prod(TINY_MPI)): TINY_MPI})
    monkeypatch.setenv("DVAE_MAX_MEMORY", "1K")
    write_mpi3d(tmp_path, "mpi3d_toy")
    spec = resolve_run("streamed", None, {"dataset": "mpi3d-toy", "epochs": 1, "batch_size": 32, "latent_dim": 3,
                                         "device": "cpu", "eval_batchsize": 64}).spec
    result = train_run(spec, tmp_path / "results", tmp_path, handle_signals=False)
    assert result.spec.n_train + result.spec.n_test == 256
    assert result.test_losses is not None and np.isfinite(result.test_losses["loss"])


@pytest.mark.parametrize(("experiment", "lambda_d"), [("dip-i_shapes3d", 100.0), ("dip-ii_shapes3d", 10.0)])
def test_dip_presets_train_on_tiny_shapes3d(tmp_path, tiny_shapes, experiment, lambda_d):
    """DIP-VAE-I and -II through their disentanglement_lib presets, on a tiny official-format 3dshapes.h5."""
    import json

    write_shapes3d(tmp_path / "data")
    load_dataset("shapes3d", tmp_path / "data")   # the tiny grid is prepared here; the CLI reads the cache
    trained = run_dvae("train", experiment, "-e", "1", "-b", "16", "-z", "3", "--no-test", "--device", "cpu",
                       "--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data"),
                       env={"DVAE_OFFLINE": "1"})
    assert trained.returncode == 0, trained.stderr
    assert trained.stdout.splitlines()[0].startswith(f"Using experiment '{experiment}' from experiments.toml: dip")
    run = tmp_path / "results" / experiment
    specs = json.loads((run / "specs.json").read_text())
    assert specs["loss"] == "dip" and specs["dataset"] == "shapes3d" and specs["dip_lambda_d"] == lambda_d
    _header, *rows = (run / "train_losses.log").read_text().splitlines()
    terms = {row.split(",")[1]: float(row.split(",")[2]) for row in rows}
    assert {"dip_od_loss", "dip_d_loss"} <= terms.keys() and all(np.isfinite(v) for v in terms.values())


@pytest.mark.slow
def test_cars3d_at_128_pixels_trains_the_128_model(tmp_path):
    """cars3d-128 keeps the renderings' 128x128 (no resize) and trains the 128x128 model."""
    import json

    write_cars(tmp_path / "data")
    data = load_dataset("cars3d-128", tmp_path / "data")
    assert data.img_size == (3, 128, 128) and len(data) == 192
    index = int(np.ravel_multi_index((2, 5, 1), (4, 24, 2)))
    assert ((data.batch(torch.tensor([index]))[0, 1] * 255).round() == 150).all()
    trained = run_dvae("train", "big", "-d", "cars3d-128", "-e", "1", "-b", "16", "-z", "3", "--no-test",
                       "--device", "cpu", "--results-dir", str(tmp_path / "results"), "--data-dir",
                       str(tmp_path / "data"), env={"DVAE_OFFLINE": "1"})
    assert trained.returncode == 0, trained.stderr
    specs = json.loads((tmp_path / "results" / "big" / "specs.json").read_text())
    assert specs["img_size"] == [3, 128, 128] and specs["dataset"] == "cars3d-128"
    plotted = run_dvae("plot", "big", "reconstruct", "--results-dir", str(tmp_path / "results"), "--data-dir",
                       str(tmp_path / "data"))
    assert plotted.returncode == 0, plotted.stderr
