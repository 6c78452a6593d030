"""``dvae export``: the exported encoder and decoder give the run's outputs, through the engine, the
Python API and the real CLI; the refusals come before any work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from dvae_cli.engine.checkpoint import load_model
from dvae_cli.engine.export import ExportResult, _check, _graph_bytes, export_run
from dvae_cli.errors import ExportError
from dvae_cli.runs.folder import RunFolder

from conftest import FIXTURES, run_dvae

# the user's own torch.jit.load of the exported files: PyTorch deprecates TorchScript but ships it
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")



def _needs(fmt: str) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnx", reason='ONNX export needs pip install "dvae[onnx]"')
        pytest.importorskip("onnxruntime", reason='ONNX export needs pip install "dvae[onnx]"')


@pytest.fixture(scope="module")
def results(tiny_run) -> Path:
    """The results dir of the session's tiny run (read only; tests that write copy it)."""
    return tiny_run.parent


def _run_exported(result: ExportResult, images: torch.Tensor, codes: torch.Tensor) -> tuple[np.ndarray, ...]:
    """The exported graphs run as a user would run them: onnxruntime, or torch.jit.load."""
    if result.format == "onnx":
        import onnxruntime

        encoder = onnxruntime.InferenceSession(str(result.encoder), providers=["CPUExecutionProvider"])
        decoder = onnxruntime.InferenceSession(str(result.decoder), providers=["CPUExecutionProvider"])
        mean, logvar = encoder.run(None, {"images": images.numpy()})
        (pixels,) = decoder.run(None, {"z": codes.numpy()})
        return mean, logvar, pixels
    encoder, decoder = torch.jit.load(str(result.encoder)), torch.jit.load(str(result.decoder))
    with torch.no_grad():
        mean, logvar = encoder(images)
        return mean.numpy(), logvar.numpy(), decoder(codes).numpy()


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
@pytest.mark.parametrize("source", ["tiny", "btcvae_dsprites", "VAE_mnist"])
def test_exported_graphs_give_the_models_outputs(fmt, source, results, tmp_path):
    _needs(fmt)
    folder = RunFolder(results / source) if source == "tiny" else RunFolder(FIXTURES / source)
    result = export_run(folder, fmt, tmp_path / "out")
    assert [path.name for path in result.files] == [f"encoder{'.onnx' if fmt == 'onnx' else '.pt'}",
                                                    f"decoder{'.onnx' if fmt == 'onnx' else '.pt'}", "export.json"]
    model = load_model(folder.model_path, folder.read_spec())
    generator = torch.Generator().manual_seed(1)
    for batch in (1, 5):   # the batch dimension is dynamic
        images = torch.rand(batch, *model.img_size, generator=generator)
        codes = torch.randn(batch, model.latent_dim, generator=generator) * 2
        with torch.no_grad():
            expected = (*model.encoder(images), model.decode(codes))
        for got, want in zip(_run_exported(result, images, codes), expected):
            assert got.shape == tuple(want.shape)
            np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-5)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_cli_writes_into_the_run_folder_and_refuses_to_overwrite(fmt, results, tmp_path):
    _needs(fmt)
    shutil.copytree(results / "tiny", tmp_path / "tiny")
    suffix = ".onnx" if fmt == "onnx" else ".pt"
    result = run_dvae("export", "tiny", "--format", fmt, "--results-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "tiny" / fmt
    assert sorted(p.name for p in out.iterdir()) == sorted([f"encoder{suffix}", f"decoder{suffix}", "export.json"])
    assert f"wrote {out / f'encoder{suffix}'}" in result.stdout and "checked against the model" in result.stdout
    about = json.loads((out / "export.json").read_text())
    assert about["format"] == fmt and about["run"] == "tiny" and about["latent_dim"] == 3
    assert about["img_size"] == [1, 64, 64] and about["dvae_version"] == "0.1.0"
    assert about["encoder"]["inputs"][0] == {"name": "images", "shape": ["batch", 1, 64, 64], "dtype": "float32",
                                             "description": "pixels in [0, 1] (divide uint8 images by 255)"}
    assert [o["name"] for o in about["encoder"]["outputs"]] == ["mean", "logvar"]
    assert about["decoder"]["outputs"][0]["shape"] == ["batch", 1, 64, 64]
    assert "[0, 1]" in about["decoder"]["outputs"][0]["description"]
    assert about["check"]["max_abs_difference"] <= about["check"]["tolerance"]

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = run_dvae("export", "tiny", "--format", fmt, "--results-dir", str(tmp_path))
    assert again.returncode == 2
    assert again.stderr == (f"error: {out} already holds encoder{suffix}, decoder{suffix}, export.json; use "
                            "--overwrite (overwrite=True) to replace them or choose another output folder\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    forced = run_dvae("export", str(tmp_path / "tiny"), "-f", fmt, "--overwrite")   # a run path works too
    assert forced.returncode == 0, forced.stderr
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_python_export_matches_the_cli_layout(results, tmp_path):
    from dvae import load_run

    shutil.copytree(results / "tiny", tmp_path / "tiny")
    run = load_run(tmp_path / "tiny")
    result = run.export("torchscript")
    assert result.encoder == tmp_path / "tiny" / "torchscript" / "encoder.pt"
    z = torch.randn(2, 3)
    torch.testing.assert_close(torch.jit.load(str(result.decoder))(z), run.decode(z), rtol=0, atol=1e-5)
    with pytest.raises(ExportError, match="already holds"):
        run.export("torchscript")


def test_a_graph_that_differs_from_the_model_is_not_accepted(results):
    """The check before writing can fail: graphs of one model against another model's weights."""
    folder = RunFolder(results / "tiny")
    model = load_model(folder.model_path, folder.read_spec())
    other = load_model(folder.model_path, folder.read_spec())
    with torch.no_grad():
        for parameter in other.decoder.parameters():
            parameter.add_(0.01)
    encoder, decoder = _graph_bytes(other, "torchscript")
    with pytest.raises(ExportError, match="graph's images differs from the model's by .*; nothing was written"):
        _check(model, "torchscript", encoder, decoder)
    _check(other, "torchscript", encoder, decoder)


@pytest.mark.parametrize("args, message", [
    (["--format", "tflite"], "error: unknown export format 'tflite'; choose from: onnx, torchscript\n"),
    (["--format", "onnx", "--results-dir", "/nonexistent/results"],
     "error: no run 'VAE_mnist': /nonexistent/results holds no runs\n"),
])
def test_bad_options_fail_in_one_line_without_importing_torch(args, message):
    name = "VAE_mnist" if "--results-dir" in args else str(FIXTURES / "VAE_mnist")
    code = textwrap.dedent(f"""
        import sys
        from dvae_cli.cli.app import main
        try:
            main(["export", {name!r}, *{args!r}])
        except SystemExit as exc:
            print("EXIT", exc.code)
        print("TORCH", "torch" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stderr == message
    assert result.stdout.split() == ["EXIT", "2", "TORCH", "False"]


def test_missing_onnx_extra_names_it_and_writes_nothing(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["onnxruntime"] = None        # as if it were not installed
        from dvae_cli.cli.app import main
        main(["export", {str(FIXTURES / "VAE_mnist")!r}, "--format", "onnx", "-o", {str(tmp_path / "out")!r}])
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ONNX export needs ")
    assert result.stderr.endswith('which is not installed: pip install "dvae[onnx]"\n') or \
        result.stderr.endswith('which are not installed: pip install "dvae[onnx]"\n')
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()


def test_unwritable_output_and_missing_weights_are_refused_before_the_work(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    result = run_dvae("export", str(FIXTURES / "VAE_mnist"), "-f", "torchscript", "-o", str(locked / "out"),
                      read_only=locked)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot write to export folder {locked / 'out'}: ")
    assert not (locked / "out").exists()

    training = tmp_path / "training"
    shutil.copytree(FIXTURES / "VAE_mnist", training)
    (training / "model.pt").unlink()
    result = run_dvae("export", str(training), "-f", "torchscript")
    assert result.returncode == 2
    assert result.stderr == f"error: {training / 'model.pt'} is missing (is the run still training?)\n"
    assert not (training / "torchscript").exists()
