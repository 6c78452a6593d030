"""Every dataset loaded from small files written in its official format, downloads, offline."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import struct
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from dvae_cli.data import sprites
from dvae_cli.data.catalog import dataset_info
from dvae_cli.data.download import DownloadError, download
from dvae_cli.data.loading import load_dataset
from dvae_cli.data.streaming import StreamedImages
from dvae_cli.errors import DatasetUnavailableError
from dvae_cli.viz.labels import title_height

from conftest import run_dvae


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may reach the network: a missing file must fail at once."""
    monkeypatch.setenv("DVAE_OFFLINE", "1")


# ------------------------------------------------------------------ official formats


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray, compress: bool) -> None:
    """MNIST's idx-ubyte format: magic 2051/2049, big-endian sizes, raw bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    image_bytes = struct.pack(">IIII", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes()
    label_bytes = struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes()
    for name, payload in ((f"{prefix}-images-idx3-ubyte", image_bytes), (f"{prefix}-labels-idx1-ubyte", label_bytes)):
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (folder / name).write_bytes(payload)


@pytest.mark.parametrize("name,folder,compress", [("mnist", "MNIST", True), ("fashion", "FashionMNIST", False)])
def test_mnist_and_fashion_from_idx_files(tmp_path, name, folder, compress):
    train = np.stack([np.full((28, 28), 10 * k) for k in range(6)])
    train[0, :, :14] = 255                       # left half white
    test = np.stack([np.full((28, 28), 200 + k) for k in range(3)])
    write_idx(tmp_path / folder / "raw", "train", train, np.arange(6), compress)
    write_idx(tmp_path / folder / "raw", "t10k", test, np.arange(3), compress)
    data = load_dataset(name, tmp_path)
    assert len(data) == 9 and data.img_size == (1, 32, 32)
    images = data.images().numpy()[:, 0] * 255
    assert np.allclose(images[1:6], np.arange(10, 60, 10)[:, None, None], atol=0.5)   # constants stay constant
    assert np.allclose(images[6:], np.arange(200, 203)[:, None, None], atol=0.5)      # test files after train
    assert images[0, :, :15].min() > 254 and images[0, :, 17:].max() < 1              # resized, not shifted
    assert (tmp_path / dataset_info(name).prepared).is_file()
    assert dataset_info(name).status(tmp_path)[0] == "prepared"
    for file in (tmp_path / folder / "raw").iterdir():   # the cache is used from now on
        file.unlink()
    assert torch.equal(load_dataset(name, tmp_path).images(), data.images())


def test_dsprites_from_the_official_npz(tmp_path):
    rng = np.random.default_rng(0)
    index = np.sort(rng.choice(sprites.N_IMAGES, 40, replace=False))
    classes = sprites.index_to_classes(index).astype(np.int64)
    values = np.stack([sprites.factor_values()[k][classes[:, k]] for k in range(6)], axis=1)
    imgs = sprites.render(classes)[:, 0].astype(np.uint8)
    folder = tmp_path / "dsprites"
    folder.mkdir()
    metadata = np.array([{"this": "is pickled and must never be loaded"}], dtype=object)
    np.savez_compressed(folder / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", imgs=imgs,
                        latents_values=values, latents_classes=classes, metadata=metadata)
    data = load_dataset("dsprites", tmp_path)
    assert len(data) == 40 and data.img_size == (1, 64, 64)
    assert np.array_equal(data.images().numpy()[:, 0].astype(np.uint8), imgs)
    assert data.factors.names == sprites.FACTOR_NAMES
    assert np.array_equal(data.factors.classes, classes)
    assert np.allclose(data.factors.factor_values(), values)


def test_dsprites_rejects_a_file_that_is_not_dsprites(tmp_path):
    folder = tmp_path / "dsprites"
    folder.mkdir()
    np.savez(folder / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", imgs=np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(DatasetUnavailableError, match="lacks the arrays"):
        load_dataset("dsprites", tmp_path)


def _celeba_jpegs(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    for k in range(n):
        image = np.full((218, 178, 3), (40 * k, 100, 200 - 30 * k), dtype=np.uint8)
        image[:8] = (255, 0, 0)           # outside the centre 178x178 crop (rows 20..197)
        image[-8:] = (255, 0, 0)
        Image.fromarray(image).save(folder / f"{k + 1:06d}.jpg", quality=95)


@pytest.mark.parametrize("packaging", ["folder", "zip"])
def test_celeba_from_aligned_jpegs(tmp_path, packaging):
    source = tmp_path / "src" / "img_align_celeba"
    _celeba_jpegs(source, 5)
    target = tmp_path / "data" / "celeba"
    target.mkdir(parents=True)
    if packaging == "zip":
        with zipfile.ZipFile(target / "img_align_celeba.zip", "w") as zipped:
            for file in sorted(source.iterdir()):
                zipped.write(file, f"img_align_celeba/{file.name}")
    else:
        source.rename(target / "img_align_celeba")
    data = load_dataset("celeba", tmp_path / "data")
    assert len(data) == 5 and data.img_size == (3, 64, 64)
    images = data.images().numpy() * 255
    for k in range(5):
        expected = np.array([40 * k, 100, 200 - 30 * k])
        assert np.abs(images[k].reshape(3, -1).mean(axis=1) - expected).max() < 4   # the red bands were cropped
        assert images[k, 0].max() < 40 * k + 20


@pytest.mark.parametrize("packaging", ["folder", "tar"])
def test_chairs_from_rendered_pngs(tmp_path, packaging):
    source = tmp_path / "src" / "rendered_chairs"
    for chair in ("1a6f615e8b1b5ae4dbbc9440457e303e", "1a74a83fa6d24b3cacd67ce2c72c02e"):
        renders = source / chair / "renders"
        renders.mkdir(parents=True)
        for view in range(3):
            image = np.full((600, 600, 3), 255, dtype=np.uint8)      # white background
            image[:100] = 0                                          # a black border the 400x400 crop removes
            image[250:350, 250:350] = 60 * view                      # the "chair"
            Image.fromarray(image).save(renders / f"image_{view:03d}_p020_t000_r096.png")
    target = tmp_path / "data" / "chairs"
    target.mkdir(parents=True)
    if packaging == "tar":
        with tarfile.open(target / "rendered_chairs.tar", "w") as tarred:
            tarred.add(source, arcname="rendered_chairs")
    else:
        source.rename(target / "rendered_chairs")
    data = load_dataset("chairs", tmp_path / "data")
    assert len(data) == 6 and data.img_size == (1, 64, 64)
    images = data.images().numpy()[:, 0] * 255
    assert images[:, :4].min() > 250          # the border was cropped away: the top rows are white
    assert images[2, 28:36, 28:36].max() < 130 and images[0, 28:36, 28:36].max() < 5   # centre kept, gray levels
    assert (tmp_path / "data" / dataset_info("chairs").prepared).is_file()


# ------------------------------------------------------------------ generated variants


def test_sprites_variants_expose_the_same_factors(sprites_data_dir):
    base = load_dataset("sprites", sprites_data_dir)
    color = load_dataset("sprites-color", sprites_data_dir)
    noisy = load_dataset("sprites-noisy", sprites_data_dir)
    index = torch.tensor([3, 1000, 500_000])
    binary = base.batch(index)
    colored = color.batch(index)
    assert colored.shape == (3, 3, 64, 64) and torch.equal(colored, color.batch(index))   # fixed colour per image
    for k in range(3):
        rgb = colored[k][:, binary[k, 0] > 0]
        assert rgb.min() >= 0.5 and torch.allclose(rgb, rgb[:, :1].expand_as(rgb))      # one colour per image
        assert colored[k][:, binary[k, 0] == 0].max() == 0
    first, second = noisy.batch(index), noisy.batch(index)
    assert first.shape == (3, 3, 64, 64) and not torch.equal(first, second)             # fresh noise
    for k in range(3):
        assert (first[k][:, binary[k, 0] > 0] == 1).all()
        background = first[k][:, binary[k, 0] == 0]
        assert 0.45 < background.mean() < 0.55 and background.std() > 0.25
    for data in (color, noisy):
        assert data.factors.names == base.factors.names
        assert np.array_equal(data.factors.classes[:10], base.factors.classes[:10])


def test_a_dataset_larger_than_the_memory_budget_is_streamed(tmp_path, monkeypatch, sprites_data_dir):
    write_idx(tmp_path / "MNIST" / "raw", "train", np.arange(40 * 784).reshape(40, 28, 28) % 256, np.zeros(40),
              True)
    write_idx(tmp_path / "MNIST" / "raw", "t10k", np.zeros((8, 28, 28)), np.zeros(8), True)
    in_memory = load_dataset("mnist", tmp_path)
    monkeypatch.setenv("DVAE_MAX_MEMORY", "10K")
    streamed = load_dataset("mnist", tmp_path)
    assert isinstance(streamed, StreamedImages) and not isinstance(in_memory, StreamedImages)
    index = torch.tensor([7, 3, 44, 0])
    assert torch.equal(streamed.batch(index), in_memory.batch(index))
    assert torch.equal(streamed.subset(np.array([5, 7])).images(), in_memory.subset(np.array([5, 7])).images())

    from dvae_cli.data.streaming import stream_batches

    batches = [torch.tensor([1, 2]), torch.tensor([40, 0])]
    read = list(stream_batches(streamed, batches, workers=2))
    assert all(torch.equal(a, in_memory.batch(b)) for a, b in zip(read, batches, strict=True))


# ------------------------------------------------------------------ downloads and offline


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    cut_after: int | None = None      # close the connection after this many bytes (once)
    honour_range = True

    def do_GET(self):  # noqa: N802 - http.server's naming
        start = 0
        header = self.headers.get("Range")
        if header and self.honour_range:
            start = int(header.split("=")[1].split("-")[0])
            self.send_response(206)
        else:
            self.send_response(200)
        body = self.payload[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut_after is not None:
            self.wfile.write(body[:type(self).cut_after])
            type(self).cut_after = None
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    handler = type("Handler", (_RangeHandler,), {"payload": np.random.default_rng(1).bytes(300_000)})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{httpd.server_port}/file.bin"
    httpd.shutdown()


def test_download_checks_md5_and_never_leaves_a_half_file(tmp_path, server, monkeypatch):
    monkeypatch.delenv("DVAE_OFFLINE")
    handler, url = server
    md5 = hashlib.md5(handler.payload).hexdigest()
    dest = tmp_path / "file.bin"
    handler.cut_after = 100_000
    with pytest.raises(DownloadError):
        download(url, dest, md5=md5)
    assert not dest.exists()                                   # the interrupted download is not used
    part = tmp_path / "file.bin.part"
    assert 0 < part.stat().st_size < len(handler.payload)
    download(url, dest, md5=md5)                               # resumed with a Range request
    assert dest.read_bytes() == handler.payload and not part.exists()
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(url, tmp_path / "other.bin", md5="0" * 32)
    assert not (tmp_path / "other.bin").exists() and not (tmp_path / "other.bin.part").exists()


def test_download_restarts_when_the_server_ignores_ranges(tmp_path, server, monkeypatch):
    monkeypatch.delenv("DVAE_OFFLINE")
    handler, url = server
    handler.honour_range = False
    (tmp_path / "file.bin.part").write_bytes(b"garbage from an older attempt")
    download(url, tmp_path / "file.bin", md5=hashlib.md5(handler.payload).hexdigest())
    assert (tmp_path / "file.bin").read_bytes() == handler.payload


@pytest.mark.parametrize("name,expected", [
    ("mnist", ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "MNIST/raw/"]),
    ("fashion", ["train-images-idx3-ubyte.gz", "FashionMNIST/raw/"]),
    ("dsprites", ["dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz", "dsprites/"]),
    ("celeba", ["img_align_celeba.zip", "img_align_celeba/", "celeba/"]),
    ("chairs", ["rendered_chairs.tar", "rendered_chairs/", "chairs/"]),
])
def test_offline_message_names_the_files_and_where(tmp_path, name, expected):
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset(name, tmp_path)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path) in message
    for part in expected:
        assert part in message, part
    assert not any(p.suffix == ".npy" for p in tmp_path.rglob("*"))


def test_offline_cli_exit_2_one_line_no_traceback(tmp_path):
    result = run_dvae("train", "x", "-d", "mnist", "--data-dir", str(tmp_path / "data"), "--results-dir",
                      str(tmp_path / "results"), env={"DVAE_OFFLINE": "1"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: dataset 'mnist' is not in") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and not (tmp_path / "results").exists()
    listed = run_dvae("data", "list", "--data-dir", str(tmp_path / "data"), env={"COLUMNS": "250"})
    assert listed.returncode == 0 and "missing" in listed.stdout and "generated on first use" in listed.stdout


def test_training_on_a_streamed_dataset(tmp_path, monkeypatch):
    """The trainer's streaming path (DataLoader workers over the memory-mapped cache)."""
    from dvae_cli.config import resolve_run
    from dvae_cli.engine.run import train_run

    rng = np.random.default_rng(0)
    write_idx(tmp_path / "MNIST" / "raw", "train", rng.integers(0, 256, (60, 28, 28)), np.zeros(60), True)
    write_idx(tmp_path / "MNIST" / "raw", "t10k", rng.integers(0, 256, (10, 28, 28)), np.zeros(10), True)
    monkeypatch.setenv("DVAE_MAX_MEMORY", "1K")
    spec = resolve_run("streamed", None, {"dataset": "mnist", "epochs": 2, "batch_size": 8, "latent_dim": 3,
                                         "device": "cpu", "eval_batchsize": 16}).spec
    result = train_run(spec, tmp_path / "results", tmp_path)
    assert result.spec.n_train == 63 and result.spec.n_test == 7
    assert all(len(points) == 2 for points in result.history.values())
    assert result.test_losses is not None and np.isfinite(result.test_losses["loss"])


@pytest.mark.slow
def test_data_commands(tmp_path, sprites_data_dir):
    import imageio.v3 as iio

    out = tmp_path / "samples.png"
    info = run_dvae("data", "info", "sprites", "-n", "9", "-o", str(out), "--data-dir", str(sprites_data_dir))
    assert info.returncode == 0, info.stderr
    assert "posX" in info.stdout and "32 values" in info.stdout and "in memory" in info.stdout
    image = iio.imread(out)
    title = f"sprites: 9 random images of {dataset_info('sprites').n_images:,} (seed 0)"
    band = title_height(title, 3 * 66 + 2)
    assert image.shape[:2] == (band + 3 * 66 + 2, 3 * 66 + 2)   # a title band naming the dataset and the count
    assert (image[:band] < 128).any() and (image[:band] > 128).any()
    here = tmp_path / "here"
    here.mkdir()
    before = sorted(p.name for p in sprites_data_dir.iterdir())
    default = run_dvae("data", "info", "sprites", "-n", "4", "--data-dir", str(sprites_data_dir), cwd=here)
    assert default.returncode == 0, default.stderr
    assert (here / "sprites-samples.png").is_file()              # the current directory, not the data dir
    assert sorted(p.name for p in sprites_data_dir.iterdir()) == before
    assert str(here / "sprites-samples.png") in default.stdout.replace("\n", "")
    write_idx(tmp_path / "data" / "MNIST" / "raw", "train", np.zeros((5, 28, 28)), np.zeros(5), True)
    write_idx(tmp_path / "data" / "MNIST" / "raw", "t10k", np.zeros((2, 28, 28)), np.zeros(2), True)
    prepared = run_dvae("data", "prepare", "mnist", "--data-dir", str(tmp_path / "data"))
    assert prepared.returncode == 0, prepared.stderr
    assert "mnist: 7 images of 1x32x32, prepared" in prepared.stdout
    unknown = run_dvae("data", "info", "cifar")
    assert unknown.returncode == 2 and "unknown dataset 'cifar'" in unknown.stderr
