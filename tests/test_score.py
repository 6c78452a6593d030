"""``dvae score`` and `dvae.score`: any encoder scored as ``dvae eval`` scores a run.

A tiny run exported by ``dvae export`` (ONNX, TorchScript), wrapped in a ``module:callable``
or encoded into an ``.npz`` gives the run's own ``dvae eval`` scores (same metrics, seed and
images); codes of known maps of known factors give the known answers; bad input is one
``error:`` line before the dataset is encoded. The CLI runs in this process
(`dvae_cli.cli.app.main`, what ``dvae`` runs).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.metrics.arrays import choose_metrics, score, select_images
from dvae_cli.runs.folder import RunFolder

# the user's own torch.jit.load of the exported files: PyTorch deprecates TorchScript but ships it
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")

#: Quick metrics of every kind: posterior samples (mig), histograms, votes, classifiers.
METRICS = "mig,mig_discrete,factorvae,sap,modularity"
PROTOCOL = ["--fast", "--max-images", "300", "--seed", "0"]


@dataclass
class Outcome:
    code: int
    out: str
    err: str


def dvae(args: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """``dvae ARGS`` as the ``dvae`` script runs it, in this process."""
    from dvae_cli.cli.app import main

    capsys.readouterr()
    try:
        main([str(arg) for arg in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


@pytest.fixture(scope="module")
def evaluated(tiny_run: Path, sprites_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny run, scored by ``dvae eval`` (`METRICS`, `PROTOCOL`) and exported in both formats."""
    from dvae_cli.engine.export import export_run
    from dvae_cli.workflows.evaluate import EvaluateRequest, evaluate

    run = tmp_path_factory.mktemp("scored") / "tiny"
    shutil.copytree(tiny_run, run)
    evaluate(EvaluateRequest(run, metrics=METRICS, test=False, fast=True, max_images=300, seed=0, device="cpu",
                             trackers="none", data_dir=sprites_data_dir))
    export_run(RunFolder(run), "torchscript")
    try:
        export_run(RunFolder(run), "onnx")
    except Exception:  # noqa: BLE001 - without the onnx extra its rows skip
        pass
    return run


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def _callable_module(folder: Path, name: str, run: Path, body: str = "return RUN.encode(images)") -> str:
    """A module `name` in `folder` whose ``encode`` maps numpy images through `body`; returns ``name:encode``."""
    (folder / f"{name}.py").write_text(textwrap.dedent(f"""
        import dvae
        RUN = dvae.load_run({str(run)!r})
        CALLS = []

        def encode(images):
            CALLS.append(images.shape)
            {body}
    """))
    return f"{name}:encode"


@pytest.mark.parametrize("fmt", ["onnx", "torchscript", "callable"])
def test_an_exported_run_scores_as_dvae_eval_scored_it(fmt, evaluated, sprites_data_dir, tmp_path, monkeypatch,
                                                       capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime", reason='ONNX scoring needs pip install "dvae[onnx]"')
        encoder = str(evaluated / "onnx")               # the folder dvae export wrote
    elif fmt == "torchscript":
        encoder = str(evaluated / "torchscript" / "encoder.pt")
    else:
        monkeypatch.chdir(tmp_path)                     # module:callable imports from the current folder
        monkeypatch.delitem(sys.modules, "tiny_encoder", raising=False)
        encoder = _callable_module(tmp_path, "tiny_encoder", evaluated)
    out = tmp_path / "out"
    result = dvae(["score", encoder, "-d", "sprites", "--metric", METRICS, *PROTOCOL, "--out", out,
                   "--data-dir", sprites_data_dir, "--device", "cpu"], capsys)
    assert result.code == 0, result.err
    assert f"scoring {fmt} encoder" in result.out and "encoding 300 images of sprites" in result.out

    expected, got = _read(evaluated / "metrics.log"), _read(out / "metrics.log")
    scores = ["MIG", "MIG_discrete", "FactorVAE", "SAP", "modularity"]
    assert sorted(k for k in got if k not in ("protocols", "dataset")) == sorted(scores)
    for key in scores:
        assert got[key] == pytest.approx(expected[key], abs=1e-5), key
    assert got["protocols"] == expected["protocols"] and got["dataset"] == "sprites"
    detail, eval_detail = _read(out / "metrics_detail.json"), _read(evaluated / "metrics_detail.json")
    assert set(detail) - {"seconds"} == set(eval_detail) - {"seconds"}
    np.testing.assert_allclose(detail["mig"]["mutual_information"], eval_detail["mig"]["mutual_information"],
                               atol=1e-5)

    about = _read(out / "scored.json")
    assert {key: about[key] for key in ("format", "dataset", "latent_dim", "images", "log_variances")} == {
        "format": fmt, "dataset": "sprites", "latent_dim": 3, "images": 300, "log_variances": True}
    assert about["encoder"] == ("tiny_encoder:encode" if fmt == "callable" else
                                str((evaluated / fmt / ("encoder.onnx" if fmt == "onnx" else "encoder.pt")).resolve()))
    assert about["dvae_version"] == "0.1.0" and datetime.fromisoformat(about["created"]).tzinfo is not None
    assert about["exported_from"] == (None if fmt == "callable" else "tiny")
    assert about["image_selection"] == "300 of 737,280 images, factor values balanced (seed 0)"


def test_codes_in_an_npz_score_as_their_encoder_and_scores_are_never_replaced_silently(
        evaluated, sprites_data_dir, tmp_path, capsys):
    from dvae import load_dataset, load_run

    data = load_dataset("sprites", sprites_data_dir)
    rows, _ = select_images(data.factors.classes, len(data), 300, 0)   # the images dvae eval scored
    mean, logvar = load_run(evaluated).encode(data.subset(rows).images())
    npz = tmp_path / "codes.npz"
    np.savez(npz, mean=mean.numpy(), logvar=logvar.numpy(), indices=rows)
    args = ["score", npz, "-d", "sprites", "--metric", "mig,mig_discrete", *PROTOCOL, "--data-dir", sprites_data_dir,
            "--results-dir", tmp_path / "results"]
    result = dvae(args, capsys)
    assert result.code == 0, result.err
    out = tmp_path / "results" / "codes-scored"   # the default folder: <results dir>/<file stem>-scored
    expected, got = _read(evaluated / "metrics.log"), _read(out / "metrics.log")
    assert got["MIG"] == pytest.approx(expected["MIG"], abs=1e-5)
    assert got["MIG_discrete"] == pytest.approx(expected["MIG_discrete"], abs=1e-5)
    assert _read(out / "scored.json")["format"] == "npz" and "encoding" not in result.out

    before = (out / "metrics.log").read_bytes()
    again = dvae(args, capsys)
    assert again.code == 2 and again.err == (f"error: {out} already holds the scores of {npz.resolve()} on sprites; "
                                             "use --overwrite to replace them, or choose another folder with --out\n")
    assert (out / "metrics.log").read_bytes() == before
    np.savez(npz, codes=mean.numpy(), indices=rows)       # the same file, now without log-variances
    replaced = dvae([*args, "--metric", "mig_discrete", "--overwrite"], capsys)
    assert replaced.code == 0, replaced.err
    assert f"note: --overwrite: the scores in {out} are replaced (the first metrics.log replaced is kept as " \
           "metrics.log.bak)" in " ".join(replaced.out.split())
    assert set(_read(out / "metrics.log")) == {"MIG_discrete", "protocols", "dataset"}   # no MIG of the old codes
    assert (out / "metrics.log.bak").read_bytes() == before
    assert _read(out / "scored.json")["log_variances"] is False


# --------------------------------------------------------------------------- the array API on known maps

SIZES = (3, 6, 10)
GRID = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), -1).reshape(-1, 3)
FACTORS = np.repeat(GRID, 2, axis=0)                      # 360 images, every combination twice
NAMES = ["a", "b", "c"]
SETTINGS = {"num_train": 240, "num_eval": 120, "seed": 0}
KNOWN = ["mig_discrete", "dci", "factorvae", "modularity", "explicitness"]


def _rotated() -> np.ndarray:
    """Factors a and b mixed by a 45-degree rotation; c kept on its own latent."""
    scaled = FACTORS / (np.array(SIZES) - 1.0)
    turn = np.sqrt(0.5)
    return np.stack([turn * (scaled[:, 0] - scaled[:, 1]), turn * (scaled[:, 0] + scaled[:, 1]), scaled[:, 2]], 1)


def test_a_perfect_map_scores_one():
    report = score(FACTORS.astype(np.float32), FACTORS, factor_names=NAMES, metrics=KNOWN, settings=SETTINGS)
    s = report.scores
    assert s["DCI_disentanglement"] > 0.99 and s["DCI_completeness"] > 0.99 and s["DCI_informativeness"] > 0.99
    assert s["MIG_discrete"] > 0.95 and s["FactorVAE"] == 1.0 and s["modularity"] > 0.99 and s["explicitness"] > 0.95
    assert report.protocols["DCI_disentanglement"]["factors"] == NAMES
    json.dumps({"scores": s, "protocols": report.protocols, "details": report.details}, allow_nan=False)


def test_a_rotated_map_is_informative_but_entangled():
    report = score(_rotated(), FACTORS, factor_names=NAMES, metrics=KNOWN, settings=SETTINGS)
    s, per_factor = report.scores, report.details["mig_discrete"]["mig_per_factor"]
    assert s["DCI_informativeness"] > 0.99 and s["explicitness"] > 0.95     # nothing is lost by a rotation
    assert per_factor["a"] < 0.3 and per_factor["b"] < 0.3 and per_factor["c"] > 0.9
    assert s["DCI_disentanglement"] < 0.75 and s["FactorVAE"] < 0.8


def test_a_constant_map_scores_chance_and_factorvae_is_undefined():
    report = score(np.zeros((len(FACTORS), 3)), FACTORS, factor_names=NAMES, metrics=KNOWN, settings=SETTINGS)
    s = report.scores
    assert s["FactorVAE"] is None and "no active latent" in report.protocols["FactorVAE"]["not_computed"]
    chance = float(np.mean([1 / size for size in SIZES]))
    assert abs(s["DCI_informativeness"] - chance) < 0.06
    assert s["explicitness"] == pytest.approx(0.5) and s["MIG_discrete"] == 0.0
    assert s["DCI_disentanglement"] == pytest.approx(0.0, abs=1e-9)


def test_the_defaults_leave_out_what_the_inputs_cannot_feed():
    from dvae_cli.catalogue.metrics import default_metrics, factor_free_metrics

    assert choose_metrics(None) == (default_metrics(), [])
    chosen, notes = choose_metrics(None, has_posterior=False)
    assert "mig" in default_metrics() and "mig" not in chosen and "aam" not in chosen
    assert notes == ["no log-variances: mig, aam (which sample the posterior) left out"]
    assert choose_metrics(None, has_factors=False)[0] == factor_free_metrics()
    lines: list[str] = []
    report = score(np.random.default_rng(0).normal(size=(50, 2)), None, log=lines.append)
    assert set(report.scores) == {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                                  "gaussian_wasserstein_correlation_norm", "mutual_info_score"}
    assert any(line.startswith("note: no ground-truth factors") for line in lines)


def test_settings_max_images_selects_as_dvae_eval_does():
    codes = FACTORS.astype(float)
    report = score(codes, FACTORS, factor_names=NAMES, metrics=["mig_discrete"], settings={"max_images": 90})
    rows, selection = select_images(FACTORS, len(FACTORS), 90, 0)
    assert rows is not None and len(rows) == 90 and report.details["n_images"] == 90
    assert report.protocols["MIG_discrete"]["image_selection"] == selection == \
        "90 of 360 images, factor values balanced (seed 0)"
    assert select_images(FACTORS, 360, None, 0) == (None, "all 360 images")


_CODES = np.zeros((40, 2))
_CLASSES = np.repeat(np.arange(4), 10)[:, None]


@pytest.mark.parametrize("kwargs, message", [
    ({"codes": np.zeros(40)}, r"codes must have shape \(N, D\), got \(40,\); add a latent dimension"),
    ({"codes": np.zeros((40, 2, 1))}, r"codes must have shape \(N, D\), got \(40, 2, 1\)$"),
    ({"codes": np.zeros((1, 2)), "factors": _CLASSES[:1]}, r"at least 2 images and 1 latent, got shape \(1, 2\)"),
    ({"codes": np.full((40, 2), "x")}, r"codes must be real numbers, got dtype <U1"),
    ({"codes": np.where(np.eye(40, 2) > 0, np.nan, 0.0)}, r"codes hold NaN or infinite values \(first at row 0, "
                                                          r"latent 0\)"),
    ({"logvar": np.zeros((40, 3))}, r"logvar must have the shape of codes \(40, 2\), got \(40, 3\)"),
    ({"logvar": np.full((40, 2), np.inf)}, r"logvar hold NaN or infinite"),
    ({"factors": _CLASSES[:, 0]}, r"factors must have shape \(N, K\), got \(40,\); for one factor use factors"),
    ({"factors": _CLASSES[:30]}, r"one row per code: 40 codes, 30 rows of factors"),
    ({"factors": _CLASSES * 0.5}, r"factors must be integer classes .* got dtype float64"),
    ({"factors": _CLASSES - 1}, r"factors must be classes >= 0; factor 0 has -1"),
    ({"factor_names": ["x", "y"]}, r"factor_names must be 1 distinct non-empty strings, got \['x', 'y'\]"),
    ({"factor_sizes": [3]}, r"factor 'factor_0' has class 3, but factor_sizes gives it 3 values \(classes 0..2\)"),
    ({"settings": {"num_trian": 5}}, r"unknown metric setting 'num_trian' \(did you mean 'num_train'\?\)"),
    ({"settings": {"num_train": 0}}, r"setting num_train must be a positive integer, got 0"),
    ({"metrics": ["mgi"]}, r"unknown metric 'mgi' \(did you mean 'mig'\?\)"),
    ({"metrics": ["mig"]}, r"--metric mig samples the posterior and need log-variances; these codes have none"),
    ({"metrics": ["dci"], "factors": None}, r"--metric dci needs ground-truth factors, and none were given"),
])
def test_bad_arrays_are_one_line_errors(kwargs, message):
    arguments = {"codes": _CODES, "factors": _CLASSES, "metrics": ["mig_discrete"], **kwargs}
    with pytest.raises(ConfigError, match=message) as caught:
        score(arguments.pop("codes"), arguments.pop("factors"), **arguments)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, UnknownNameError) == str(caught.value).startswith("unknown")


# --------------------------------------------------------------------------- bad input through the CLI

def _bad_npz(tmp: Path, run: Path) -> str:
    np.savez(tmp / "short.npz", codes=np.zeros((500, 3), dtype=np.float32))
    return str(tmp / "short.npz")


def _no_codes_npz(tmp: Path, run: Path) -> str:
    np.savez(tmp / "wrong.npz", z=np.zeros((500, 3)))
    return str(tmp / "wrong.npz")


def _text_file(tmp: Path, run: Path) -> str:
    (tmp / "encoder.txt").write_text("not an encoder")
    return str(tmp / "encoder.txt")


CLI_ROWS = [
    ("missing-file", lambda tmp, run: str(tmp / "nothing.onnx"), [],
     "error: encoder '{tmp}/nothing.onnx': no such file (give an .onnx"),
    ("unknown-format", _text_file, [], "error: encoder '{tmp}/encoder.txt': unknown format '.txt'"),
    ("weights-not-torchscript", lambda tmp, run: str(run / "model.pt"), [],
     "is not a TorchScript file"),
    ("npz-rows", _bad_npz, [], "error: {tmp}/short.npz holds 500 rows of codes, but dataset 'sprites' has 737,280 "
                               "images and 300 are scored (--max-images): give one row per image, or an 'indices'"),
    ("npz-keys", _no_codes_npz, [], "must hold 'codes' or 'mean' (N, D), optionally 'logvar' (N, D) and 'indices' "
                                    "(N,); it holds: z"),
    ("no-factors", lambda tmp, run: str(run / "torchscript"), ["-d", "mnist", "--metric", "dci"],
     "error: dataset 'mnist' has no ground-truth factors, so no disentanglement metrics"),
    ("image-size", lambda tmp, run: str(run / "torchscript"), ["-d", "sprites-color"],
     "error: dataset 'sprites-color' has [3, 64, 64] images but encoder"),
    ("unknown-metric", lambda tmp, run: str(run / "torchscript"), ["--metric", "dcj"],
     "error: unknown metric 'dcj' (did you mean 'dci'?)"),
    ("mig-without-logvar", lambda tmp, run: _callable_module(tmp, "codes_only", run, "return RUN.encode(images)[0]"),
     ["--metric", "mig"], "error: --metric mig samples the posterior and need log-variances"),
    ("wrong-output-shape", lambda tmp, run: _callable_module(tmp, "flat", run, "return RUN.encode(images)[0][:, :, None]"),
     [], "error: encoder 'flat:encode' returned codes of shape (2, 3, 1) for 2 images; expected (2, D)"),
    ("failing-callable", lambda tmp, run: _callable_module(tmp, "failing", run, "raise RuntimeError('no GPU here')"),
     [], "error: encoder 'failing:encode' failed on images of shape (2, 1, 64, 64) (float32 in [0, 1]): "
         "RuntimeError: no GPU here"),
    ("missing-module", lambda tmp, run: "no_such_module:encode", [], "error: cannot load 'no_such_module:encode'"),
    ("out-is-a-run", lambda tmp, run: str(run / "torchscript"), ["--out", "{run}"],
     "error: {run} is the folder of a trained run; score it with dvae eval"),
]


@pytest.mark.parametrize("make, extra, expected", [pytest.param(*row[1:], id=row[0]) for row in CLI_ROWS])
def test_bad_input_is_one_error_line_before_the_dataset_is_encoded(make, extra, expected, evaluated, sprites_data_dir,
                                                                   tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for module in ("codes_only", "flat", "failing"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    encoder = make(tmp_path, evaluated)
    before = sorted(p.name for p in evaluated.iterdir())
    extra = [arg.replace("{run}", str(evaluated)) for arg in extra]
    dataset = [] if "-d" in extra else ["-d", "sprites"]
    out = [] if "--out" in extra else ["--out", tmp_path / "out"]
    result = dvae(["score", encoder, *dataset, *extra, *PROTOCOL, *out, "--data-dir", sprites_data_dir], capsys)
    assert result.code == 2, (result.out, result.err)
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert expected.replace("{tmp}", str(tmp_path)).replace("{run}", str(evaluated)) in lines[0]
    assert "encoding" not in result.out and not (tmp_path / "out").exists()
    assert sorted(p.name for p in evaluated.iterdir()) == before
    module = sys.modules.get(encoder.partition(":")[0]) if ":" in encoder else None
    if module is not None:
        assert len(module.CALLS) <= 1      # the probe of two images at most: the dataset was not encoded


def test_score_is_listed_and_its_help_names_the_metrics(capsys):
    result = dvae(["score", "--help"], capsys)
    assert result.code == 0 and "module:callable" in result.out and "dci_es" in result.out
    assert "score" in dvae(["--help"], capsys).out


def test_help_imports_nothing_heavy_and_a_missing_encoder_no_torch(tmp_path):
    from conftest import imported_after

    assert imported_after(["score", "--help"])[0] == []
    assert "torch" not in imported_after(["score", str(tmp_path / "nothing.onnx"), "-d", "sprites"])[0]


def test_the_array_api_needs_no_torch():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        import dvae
        factors = np.repeat(np.arange(4), 20)[:, None].repeat(2, axis=1)
        factors[:, 1] = np.tile(np.arange(4), 20)
        codes = factors + np.random.default_rng(0).normal(scale=0.1, size=factors.shape)
        report = dvae.score(codes, factors, factor_names=["x", "y"], metrics=[
                                "dci", "sap", "factorvae", "mig_discrete", "modularity", "irs", "explicitness"],
                            settings={"num_train": 40, "num_eval": 20})
        print(sorted(report.scores), "torch" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("] ")[1].strip() == "False", result.stdout
    assert "DCI_disentanglement" in result.stdout and "FactorVAE" in result.stdout


def test_the_readmes_array_example_runs_as_written_and_scores_its_informative_code(capsys):
    """The `dvae.score` block of the README's metrics section, executed as written."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = readme.index("```python", readme.index("The same scoring, on arrays and without torch"))
    block = readme[start + len("```python"):readme.index("```", start + 3)]
    assert "dvae_cli" not in block
    exec(compile(block, "README.md (dvae.score block)", "exec"), {})
    informativeness, split = capsys.readouterr().out.split(maxsplit=1)
    assert float(informativeness) > 0.95 and split.strip() == "disjoint train/test images"
