"""The Python API (`load_run` -> `Run`) on a tiny dvae run and disentangling-vae's runs, and the README's
"As a library" examples, run as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from dvae_cli.data.loading import load_dataset
from dvae_cli.errors import CorruptFileError, DvaeError, InputError, RunNotFoundError, UnknownNameError
from dvae_cli.runs.folder import RunFolder

from conftest import FIXTURES, REFERENCE_RUNS, ROOT


@pytest.fixture(scope="module")
def results(tiny_run) -> Path:
    """The results dir of the session's tiny run (read only; tests that write copy it)."""
    return tiny_run.parent


@pytest.fixture(scope="module")
def run(results):
    from dvae import load_run

    return load_run("tiny", results_dir=results)


@pytest.fixture(scope="module")
def images(sprites_data_dir) -> torch.Tensor:
    return load_dataset("sprites", sprites_data_dir).images(0, 5)


def test_import_dvae_gives_the_api_of_dvae_cli():
    import dvae
    import dvae_cli
    from dvae_cli.run_handle import Run, load_run

    assert dvae.load_run is load_run and dvae.Run is Run and dvae.__version__ == dvae_cli.__version__
    from dvae_cli.metrics.arrays import score

    assert dvae.score is dvae_cli.score is score and "score" in dvae.__all__
    with pytest.raises(AttributeError):
        dvae.no_such_thing  # noqa: B018


def test_encode_decode_and_reconstruct_agree_with_the_models_forward(run, images):
    mean, logvar = run.encode(images)
    out = run.model(images)
    assert mean.shape == logvar.shape == (5, 3)
    torch.testing.assert_close(mean, out.mean, rtol=0, atol=0)
    torch.testing.assert_close(logvar, out.logvar, rtol=0, atol=0)
    recon = run.decode(mean)
    assert recon.shape == (5, 1, 64, 64) and 0 <= recon.min() and recon.max() <= 1
    torch.testing.assert_close(recon, out.reconstruction, rtol=0, atol=1e-6)
    torch.testing.assert_close(run.reconstruct(images), out.reconstruction, rtol=0, atol=1e-6)


def test_uint8_and_numpy_images_mean_the_same_pixels(run, images):
    as_uint8 = (images * 255).round().to(torch.uint8)
    expected, _ = run.encode(as_uint8.float() / 255)
    torch.testing.assert_close(run.encode(as_uint8)[0], expected, rtol=0, atol=0)
    torch.testing.assert_close(run.encode(as_uint8.numpy())[0], expected, rtol=0, atol=0)
    torch.testing.assert_close(run.encode(images.double().numpy())[0], run.encode(images)[0], rtol=0, atol=1e-6)


def test_large_inputs_are_processed_in_chunks_with_the_same_result(run, images, monkeypatch):
    whole = run.encode(images.repeat(3, 1, 1, 1))[0]
    monkeypatch.setattr("dvae_cli.run_handle.CHUNK", 2)
    torch.testing.assert_close(run.encode(images.repeat(3, 1, 1, 1))[0], whole, rtol=0, atol=1e-6)
    assert run.decode(whole).shape == (15, 1, 64, 64)


def test_sample_is_seeded_and_decodes_prior_codes(run):
    first, again, other = run.sample(4, seed=7), run.sample(4, seed=7), run.sample(4, seed=8)
    assert first.shape == (4, 1, 64, 64)
    assert torch.equal(first, again) and not torch.equal(first, other)
    codes = torch.randn(4, 3, generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(first, run.model.decode(codes).detach(), rtol=0, atol=1e-6)


def test_traverse_sweeps_each_latent_over_the_prior(run):
    sweeps = run.traverse(latents=[2, 0], steps=5, max_traversal=1.5)
    assert sweeps.shape == (2, 5, 1, 64, 64)
    codes = torch.zeros(5, 3)
    codes[:, 2] = torch.linspace(-1.5, 1.5, 5)
    torch.testing.assert_close(sweeps[0], run.model.decode(codes).detach(), rtol=0, atol=1e-6)
    assert run.traverse().shape == (3, 7, 1, 64, 64)  # every latent by default
    assert torch.equal(run.traverse(latents=np.array([2, 0]), steps=np.int64(5), max_traversal=1.5), sweeps)


def test_traverse_around_an_image_is_centred_on_its_posterior(run, images):
    around = run.traverse(latents=[1], steps=3, max_traversal=0.6, image=images[0], seed=3)
    assert around.shape == (1, 3, 1, 64, 64)
    assert torch.equal(around, run.traverse(latents=[1], steps=3, max_traversal=0.6, image=images[:1], seed=3))
    mean, logvar = run.encode(images[:1])
    std = torch.exp(0.5 * logvar[0])
    middle = (mean[0] + std * torch.randn(3, generator=torch.Generator().manual_seed(3)))
    middle[1] = mean[0, 1]       # the middle step of the sweep is the posterior mean
    torch.testing.assert_close(around[0, 1], run.model.decode(middle[None]).detach()[0], rtol=0, atol=1e-6)


def test_losses_count_epochs_from_1_and_logs_are_read_as_written(run, results):
    raw = RunFolder(results / "tiny").train_losses()
    assert [epoch for epoch, _ in raw["loss"]] == [0]
    assert run.losses["loss"] == [(1, raw["loss"][0][1])]
    assert set(run.losses) == set(raw)
    assert run.test_losses is None and run.metrics is None   # no_test, no dvae eval --metrics


@pytest.mark.parametrize("name", REFERENCE_RUNS)
def test_disentangling_vae_runs_load_by_path(name):
    from dvae import load_run

    run = load_run(FIXTURES / name)
    channels, height, width = run.spec.img_size
    assert run.img_size == (channels, height, width) and run.latent_dim == run.spec.latent_dim == 10
    images = torch.rand(4, channels, height, width, generator=torch.Generator().manual_seed(0))
    mean, logvar = run.encode(images)
    out = run.model(images)
    torch.testing.assert_close((mean, logvar), (out.mean, out.logvar), rtol=0, atol=0)
    assert run.sample(2, seed=0).shape == (2, channels, height, width)
    folder = RunFolder(FIXTURES / name)
    assert run.losses["loss"][0] == (folder.train_losses()["loss"][0][0] + 1, folder.train_losses()["loss"][0][1])
    assert run.test_losses == folder.test_losses() and run.metrics is None


BAD_IMAGES = [
    (lambda x: x[0], r"must have shape \(N, 1, 64, 64\) .* got \(1, 64, 64\); add a batch dimension"),
    (lambda x: x.permute(0, 2, 3, 1), r"got \(5, 64, 64, 1\); channels last\? use images.permute\(0, 3, 1, 2\)"),
    (lambda x: x[:, :, :32, :32], r"must have shape \(N, 1, 64, 64\) for run 'tiny', got \(5, 1, 32, 32\)$"),
    (lambda x: x[:0], r"at least one image"),
    (lambda x: x * 255, r"must be in \[0, 1\], got values in \[0, 255\]; divide 0..255 pixels by 255"),
    (lambda x: x - 0.5, r"must be in \[0, 1\], got values in \[-0.5, 0.5\]$"),
    (lambda x: x.long(), r"must be uint8 \(0..255\) or floating point \(0..1\), got torch.int64"),
    (lambda x: torch.full_like(x, float("nan")), r"NaN or infinite"),
    (lambda x: x.tolist(), r"must be a torch tensor or a NumPy array, got list"),
]


@pytest.mark.parametrize("make, message", BAD_IMAGES)
def test_wrong_images_are_one_line_errors_naming_what_is_expected(run, images, make, message):
    with pytest.raises(InputError, match=message) as caught:
        run.encode(make(images))
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, DvaeError)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("call, message", [
    (lambda run: run.decode(torch.zeros(3)), r"z must have shape \(N, 3\) .* got \(3,\); add a batch dimension"),
    (lambda run: run.decode(torch.zeros(2, 4)), r"z must have shape \(N, 3\) for run 'tiny', got \(2, 4\)"),
    (lambda run: run.decode(torch.tensor([[0.0, float("inf"), 0.0]])), r"NaN or infinite"),
    (lambda run: run.sample(0), r"n must be a positive integer, got 0"),
    (lambda run: run.traverse(latents=[3]), r"latent 3 is out of range: run 'tiny' has latents 0..2"),
    (lambda run: run.traverse(latents=[]), r"at least one latent"),
    (lambda run: run.traverse(steps=0), r"steps must be a positive integer"),
    (lambda run: run.traverse(max_traversal=0), r"max_traversal must be a positive number"),
    (lambda run: run.traverse(image=torch.rand(2, 1, 64, 64)), r"image must be one image .* got 2 images"),
    (lambda run: run.sample(2, seed="x"), r"seed must be an integer, got 'x'"),
    (lambda run: run.sample(2.0), r"n must be an integer, got 2.0"),
    (lambda run: run.traverse(latents=[0.5]), r"latents must be integers, got 0.5"),
    (lambda run: run.traverse(latents=2), r"latents must be a sequence of latent indices, e.g. \[0, 2\], got 2"),
])
def test_wrong_arguments_are_input_errors(run, call, message):
    with pytest.raises(InputError, match=message):
        call(run)


def test_load_run_errors(results, tmp_path):
    from dvae import load_run

    with pytest.raises(RunNotFoundError, match="did you mean 'tiny'"):
        load_run("tinny", results_dir=results)
    with pytest.raises(UnknownNameError, match="unknown device 'gpu7'; choose from: cpu, cuda, auto"):
        load_run("tiny", results_dir=results, device="gpu7")
    training = tmp_path / "training"
    shutil.copytree(FIXTURES / "VAE_mnist", training)
    (training / "model.pt").unlink()
    run = load_run(training)          # the logs of a run without model.pt yet are readable
    assert run.losses["loss"] and run.spec.loss == "VAE"
    with pytest.raises(CorruptFileError, match=r"model.pt is missing \(is the run still training\?\)"):
        run.encode(torch.rand(1, 1, 32, 32))


def test_reading_a_run_imports_no_torch_until_the_model_is_used():
    code = textwrap.dedent(f"""
        import sys
        import dvae
        from dvae import load_run
        run = load_run({str(FIXTURES / "btcvae_dsprites")!r})
        run.spec, run.losses, run.test_losses, run.metrics
        print("before:", "torch" in sys.modules)
        run.sample(1)
        print("after:", "torch" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd="/")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["before:", "False", "after:", "True"]


def _library_section() -> list[str]:
    """The Python code blocks of the README's "## As a library" section, in order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## As a library\n", 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_library_examples_run_as_written(tmp_path, sprites_data_dir, monkeypatch):
    blocks = _library_section()
    assert len(blocks) >= 2 and any("load_run" in block for block in blocks)
    assert any("dvae.train(" in block and "dvae.evaluate(" in block for block in blocks)
    for block in blocks:   # the public API alone: no internal module is needed for what a command does
        assert "dvae_cli" not in block, block
    (tmp_path / "data").symlink_to(sprites_data_dir, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for number, block in enumerate(blocks):
        if "onnxruntime" in block:
            pytest.importorskip("onnxruntime", reason='the ONNX example needs pip install "dvae[onnx]"')
        exec(compile(block, f"README.md (python block {number + 1})", "exec"), namespace)
    run, images = namespace["run"], namespace["images"]
    result, again = namespace["result"], namespace["again"]
    assert set(result.scores) >= {"MIG", "DCI_disentanglement"} and result.test_losses is not None
    assert run.metrics is not None and run.metrics["MIG"] == again.scores["MIG"] == result.scores["MIG"]
    assert run.test_losses == pytest.approx(result.test_losses)
    assert run.folder.path.resolve() == (tmp_path / "results" / "small").resolve()
    assert namespace["mean"].shape == (8, 10) and namespace["recon"].shape == (8, 1, 64, 64)
    assert namespace["sweeps"].shape == (2, 7, 1, 64, 64) and namespace["around"].shape == (10, 7, 1, 64, 64)
    assert namespace["epoch"] == 1
    if "pixels" in namespace:   # the ONNX block: the exported decoder draws what the run draws
        np.testing.assert_allclose(namespace["pixels"], run.decode(run.encode(images)[0]).numpy(), atol=1e-5)
