"""Bad input through the real CLI (issue #8): exit 2, one ``error:`` line, no traceback, nothing written.

One table: every row runs the CLI on its own copy of a results dir that holds one tiny
trained run (``tiny``), after an optional setup that breaks something (a file of the
run, the experiments file, a folder of images). The results dir (or the folder a row
names instead) must be byte-identical afterwards, hidden files and modes included.

Most rows call ``dvae_cli.cli.app.main`` in this process (what ``dvae`` runs, with the
row's environment and working directory); the rows of `SUBPROCESS_ROWS` and those that
need a read-only mount run ``python -m dvae_cli`` as a real process, so the whole path
(entry point, interpreter start, exit status) stays covered for each command family.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dvae_cli.data.catalog import dataset_info

from conftest import run_dvae
from tiny_runs import tiny_flags

TINY_TRAIN = tuple(tiny_flags(subsample=128))
FACTOR_DATASETS = "sprites, sprites-color, sprites-noisy, dsprites"


@dataclass
class Case:
    """Where one row runs: its own copy of the results dir, the data dir, a scratch folder."""

    tmp: Path
    results: Path
    data: Path
    #: The folder that must be byte-identical after the command (default: `results`).
    watched: Path
    env: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    id: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    setup: Callable[[Case], None] | None = None
    #: Append ``--results-dir`` and ``--data-dir`` (train, eval, plot).
    dirs: bool = True
    marks: tuple[Any, ...] = ()
    #: Run with the results dir mounted read-only (`conftest.run_dvae`).
    read_only: bool = False


# --------------------------------------------------------------------------- setups


def _edit_spec(**changes: Any) -> Callable[[Case], None]:
    def setup(case: Case) -> None:
        path = case.results / "tiny" / "specs.json"
        spec = json.loads(path.read_text())
        spec.update(changes)
        path.write_text(json.dumps(spec, indent=4))
    return setup


def _write(relative: str, content: bytes | str) -> Callable[[Case], None]:
    def setup(case: Case) -> None:
        path = case.results / relative
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return setup


def _truncate_model(case: Case) -> None:
    path = case.results / "tiny" / "model.pt"
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def _catalogue(text: str | None) -> Callable[[Case], None]:
    def setup(case: Case) -> None:
        path = case.tmp / "broken-experiments.toml"
        if text is not None:
            path.write_text(text)
        case.env["DVAE_EXPERIMENTS"] = str(path)
    return setup


def _no_data_dir(case: Case) -> None:
    case.data = case.tmp / "no-data"   # asserted never to be created (no download, no cache)


def _chairs_without_factors(case: Case) -> None:
    _edit_spec(dataset="chairs")(case)   # same 1x64x64 images as sprites, no ground-truth factors
    _no_data_dir(case)


def _mnist_without_factors(case: Case) -> None:
    _edit_spec(dataset="mnist", img_size=[1, 32, 32])(case)
    _no_data_dir(case)


def _small_celeba_images(case: Case) -> None:
    """Three 48x48 PNGs where CelebA's aligned faces go (the official layout)."""
    from PIL import Image

    folder = case.tmp / "faces" / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")
    case.data = case.tmp / "faces"


def _results_under_a_file(case: Case) -> None:
    (case.tmp / "a-file").write_text("not a folder\n")
    case.results, case.watched = case.tmp / "a-file" / "results", case.tmp


def _results_in_proc(case: Case) -> None:
    case.results, case.watched = Path("/proc/dvae-test-results"), case.tmp


# --------------------------------------------------------------------------- the table

ROWS = [
    # 1. unknown names: the valid choices, and the closest one when there is one
    Row("unknown-experiment", ("train", "r", "-x", "nosuch"), ("unknown experiment 'nosuch'", "choose from: ",
                                                               "quickstart")),
    Row("misspelt-experiment", ("train", "r", "-x", "quickstrat"), ("did you mean 'quickstart'?",)),
    Row("unknown-dataset", ("train", "r", "-d", "sprits"), ("unknown dataset 'sprits'", "did you mean 'sprites'?",
                                                            "choose from: sprites, sprites-color")),
    Row("unknown-loss", ("train", "r", "-l", "betaX"), ("unknown loss 'betaX'",
                                                        "choose from: VAE, betaH, betaB, factor, btcvae")),
    Row("unknown-rec-dist", ("train", "r", "-r", "gausian"), ("unknown rec-dist 'gausian'",
                                                              "did you mean 'gaussian'?", "bernoulli")),
    Row("unknown-model-type", ("train", "r", "-m", "Burges"), ("unknown model type 'Burges'",
                                                               "did you mean 'Burgess'?")),
    Row("unknown-plot", ("plot", "tiny", "nosuch"), ("unknown plot 'nosuch'", "choose from: generate-samples")),
    Row("misspelt-plot", ("plot", "tiny", "reconstrct"), ("did you mean 'reconstruct'?",)),
    Row("unknown-metric", ("eval", "tiny", "--metric", "mgi"), ("unknown metric 'mgi'", "did you mean 'mig'?",
                                                                "choose from: mig, aam")),
    Row("unknown-eval-dataset", ("eval", "tiny", "-d", "nosuch"), ("unknown dataset 'nosuch'", "choose from:")),
    Row("unknown-run-eval", ("eval", "tinny"), ("'tinny'", "did you mean 'tiny'?")),
    Row("unknown-run-plot", ("plot", "tinny", "losses"), ("'tinny'", "did you mean 'tiny'?")),
    Row("unknown-experiment-show", ("experiments", "show", "quickstrat"), ("did you mean 'quickstart'?",),
        dirs=False),
    # 2. zero and negative sizes and rates
    Row("zero-epochs", ("train", "r", "-e", "0"), ("--epochs must be a positive integer, got 0",)),
    Row("negative-epochs", ("train", "r", "-e", "-1"), ("--epochs must be a positive integer, got -1",)),
    Row("zero-batch-size", ("train", "r", "-b", "0"), ("--batch-size must be a positive integer, got 0",)),
    Row("negative-batch-size", ("train", "r", "-b", "-5"), ("--batch-size must be a positive integer, got -5",)),
    Row("zero-lr", ("train", "r", "--lr", "0"), ("--lr must be a positive number, got 0",)),
    Row("negative-lr", ("train", "r", "--lr", "-0.001"), ("--lr must be a positive number, got -0.001",)),
    Row("zero-latent-dim", ("train", "r", "-z", "0"), ("--latent-dim must be a positive integer, got 0",)),
    Row("negative-latent-dim", ("train", "r", "-z", "-3"), ("--latent-dim must be a positive integer, got -3",)),
    Row("zero-eval-batchsize", ("eval", "tiny", "--eval-batchsize", "0"), ("--eval-batchsize must be a positive",)),
    # 3. a batch too small for the loss
    Row("btcvae-batch-of-one", ("train", "r", "-b", "1", "-l", "btcvae"),
        ("--batch-size must be >= 2 with the btcvae loss", "got 1")),
    # 4. the user's own images, at a size the model cannot take
    Row("images-48x48", ("train", "faces", "-d", "celeba", "--subsample", "2", "-e", "1", "-b", "1", "--no-test",
                         "--device", "cpu"), ("000000.png is 48x48", "64x64"), setup=_small_celeba_images),
    # 5. metrics that need factors on a dataset without them: refused before any data is looked for
    #    (plain --metrics there computes the metrics that need none: tests/test_metrics_more.py)
    Row("metrics-without-factors", ("eval", "tiny", "--metric", "dci"),
        ("dataset 'chairs' has no ground-truth factors", FACTOR_DATASETS, "--metric unsupervised"),
        setup=_chairs_without_factors),
    Row("metric-without-factors-no-test", ("eval", "tiny", "--metric", "mig", "--no-test"),
        ("dataset 'mnist' has no ground-truth factors", FACTOR_DATASETS), setup=_mnist_without_factors),
    Row("metrics-on-celeba", ("eval", "tiny", "--metric", "factorvae,unsupervised", "-d", "celeba"),
        ("dataset 'celeba' has no ground-truth factors", FACTOR_DATASETS), setup=_no_data_dir),
    # 6. a run that exists
    Row("existing-run", ("train", "tiny", *TINY_TRAIN), ("run 'tiny' already exists", "--overwrite")),
    # 7. a results dir that cannot be written
    Row("results-under-a-file", ("train", "r", *TINY_TRAIN),
        ("cannot write to results dir", "a-file/results", "a-file is not a directory"), setup=_results_under_a_file),
    Row("results-in-proc", ("train", "r", *TINY_TRAIN), ("cannot write to results dir /proc/dvae-test-results",),
        setup=_results_in_proc, marks=(pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc"),)),
    Row("results-read-only", ("train", "r", *TINY_TRAIN), ("cannot write to results dir",), read_only=True),
    # 7b. a run folder that cannot be written: refused before the test losses, the metrics or the figures
    Row("eval-read-only", ("eval", "tiny"), ("cannot write to run folder", "tiny"), read_only=True),
    Row("metrics-read-only", ("eval", "tiny", "--metrics", "--no-test"), ("cannot write to run folder",),
        read_only=True),
    Row("plot-read-only", ("plot", "tiny", "losses"), ("cannot write to run folder",), read_only=True),
    Row("compare-plot-read-only", ("compare", "--plot", "{results}/figures"),
        ("cannot write to figures folder",), read_only=True),
    # 7c. preconditions of the last passes, checked before the first step (issue 15)
    Row("btcvae-eval-batch-of-one", ("train", "t", "-l", "btcvae", "-b", "2", "--subsample", "64", "-e", "1",
                                     "--eval-batchsize", "1", "--device", "cpu"),
        ("--eval-batchsize must be >= 2 with the btcvae loss", "got 1", "--no-test")),
    Row("btcvae-test-set-of-one", ("train", "t", "-l", "btcvae", "-b", "2", "--subsample", "8", "-e", "1",
                                   "--device", "cpu"),
        ("the test set has 1 image", "--subsample 8", "btcvae loss needs at least 2", "--no-test")),
    Row("factor-batch-of-one", ("train", "t", "-l", "factor", "-b", "1"),
        ("--batch-size must be >= 2 with the factor loss", "got 1")),
    Row("betavae-one-factor", ("eval", "tiny", "--metric", "betavae", "--factors", "scale", "--no-test"),
        ("--metric betavae tells factors apart and needs at least 2", "scale")),
    Row("all-metrics-one-factor", ("eval", "tiny", "--metric", "all", "--factors", "scale", "--no-test"),
        ("--metric factorvae tells factors apart", "scale")),
    Row("metrics-factor-constant-in-two-images", ("eval", "tiny", "--metric", "mig", "--no-test",
                                                  "--max-images", "2"),
        ("has values that only one of the 2 images scored takes", "--max-images", "--factors")),
    # 8. broken files: each message names the file and what is wrong with it
    Row("truncated-model-eval", ("eval", "tiny"), ("cannot load", "tiny/model.pt"), setup=_truncate_model),
    Row("truncated-model-plot", ("plot", "tiny", "data-samples", "reconstruct"), ("cannot load", "tiny/model.pt"),
        setup=_truncate_model),
    Row("specs-not-json-eval", ("eval", "tiny"), ("tiny/specs.json", "JSON", "line 2 column 1"),
        setup=_write("tiny/specs.json", "{\"epochs\": 1,\n")),
    Row("specs-not-json-plot", ("plot", "tiny", "losses"), ("tiny/specs.json", "JSON"),
        setup=_write("tiny/specs.json", "{\"epochs\": 1,\n")),
    Row("specs-a-list", ("eval", "tiny"), ("tiny/specs.json: expected a JSON object",),
        setup=_write("tiny/specs.json", "[1, 2]\n")),
    Row("specs-wrong-type", ("plot", "tiny", "losses"), ("tiny/specs.json: 'latent_dim' must be int, got 'x'",),
        setup=_edit_spec(latent_dim="x")),
    Row("specs-zero-eval-batchsize", ("eval", "tiny"),
        ("tiny/specs.json: --eval-batchsize must be a positive integer, got 0",), setup=_edit_spec(eval_batchsize=0)),
    Row("specs-unknown-loss", ("eval", "tiny"), ("tiny/specs.json: unknown loss 'betaX'",),
        setup=_edit_spec(loss="betaX")),
    Row("train-log-bad-row", ("plot", "tiny", "losses"), ("tiny/train_losses.log: line 2 is not 'epoch,term,value'",),
        setup=_write("tiny/train_losses.log", "Epoch,Loss,Value\n0,loss,abc\n0,kl_loss,1.0\n")),
    Row("train-log-bad-header-all-plots", ("plot", "tiny", "all"),
        ("tiny/train_losses.log: expected the header 'Epoch,Loss,Value'",),
        setup=_write("tiny/train_losses.log", "epoch;loss;value\n0;loss;1\n")),
    Row("catalogue-not-toml", ("train", "r"), ("cannot read experiments file", "broken-experiments.toml"),
        setup=_catalogue("[defaults\nepochs = 3\n")),
    Row("catalogue-not-toml-list", ("experiments", "list"), ("cannot read experiments file",
                                                             "broken-experiments.toml"),
        setup=_catalogue("[defaults\nepochs = 3\n"), dirs=False),
    Row("catalogue-unknown-key", ("train", "r"), ("broken-experiments.toml: [defaults] unknown parameter 'epoch'",),
        setup=_catalogue("[defaults]\nepoch = 3\n")),
    Row("catalogue-wrong-type", ("train", "r"), ("broken-experiments.toml: [experiments.a] 'lr' must be float",),
        setup=_catalogue("[experiments.a]\nlr = \"fast\"\n")),
    Row("catalogue-zero-epochs", ("experiments", "list"),
        ("broken-experiments.toml: [defaults] --epochs must be a positive integer, got 0",),
        setup=_catalogue("[defaults]\nepochs = 0\n"), dirs=False),
    Row("catalogue-unknown-loss", ("train", "r", "-x", "a"),
        ("broken-experiments.toml: [experiments.a] unknown loss 'btcave'", "did you mean 'btcvae'?"),
        setup=_catalogue("[experiments.a]\nloss = \"btcave\"\n")),
    Row("catalogue-missing", ("experiments", "list"), ("experiments file not found", "broken-experiments.toml"),
        setup=_catalogue(None), dirs=False),
    # 9. weights that do not fit the architecture specs.json describes
    Row("latent-dim-mismatch-eval", ("eval", "tiny"), ("tiny/model.pt does not match its specs.json",
                                                       "latent_dim 5"), setup=_edit_spec(latent_dim=5)),
    Row("img-size-mismatch-plot", ("plot", "tiny", "generate-samples"),
        ("tiny/model.pt does not match its specs.json", "img_size [1, 32, 32]"),
        setup=_edit_spec(img_size=[1, 32, 32])),
]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def blank_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir whose sprites cache is blank (sparse): the right shape, no 25 s of rendering."""
    data_dir = tmp_path_factory.mktemp("blank-data")
    info = dataset_info("sprites")
    path = data_dir / info.prepared
    path.parent.mkdir(parents=True)
    channels, height, width = info.img_size
    packed = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8,
                                       shape=(info.n_images, channels * height * width // 8))
    del packed
    return data_dir


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory: pytest.TempPathFactory, blank_data: Path) -> Path:
    """A results dir holding one run, ``tiny``, trained once through the CLI."""
    results = tmp_path_factory.mktemp("tiny-results")
    trained = run_dvae("train", "tiny", *TINY_TRAIN, "--data-dir", str(blank_data), "--results-dir", str(results),
                       env={"DVAE_OFFLINE": "1"})
    assert trained.returncode == 0, trained.stderr
    assert {"specs.json", "model.pt", "train_losses.log"} <= {p.name for p in (results / "tiny").iterdir()}
    return results


def snapshot(root: Path) -> dict[str, tuple[int, bytes | str | None]]:
    """Every path under `root` (hidden ones too): its mode and its bytes (link target; None for folders)."""
    found: dict[str, tuple[int, bytes | str | None]] = {}
    if not root.exists():
        return found
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                content: bytes | str | None = os.readlink(path)
            elif stat.S_ISREG(mode):
                content = path.read_bytes()
            else:
                content = None
            found[str(path.relative_to(root))] = (mode, content)
    return found


# --------------------------------------------------------------------------- the test

#: Rows that also run as a real process: one per command family, beside the read-only ones.
SUBPROCESS_ROWS = ("zero-latent-dim", "btcvae-test-set-of-one", "specs-wrong-type", "unknown-experiment",
                   "unknown-metric", "catalogue-not-toml")


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def run_in_process(args: list[str], cwd: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> Outcome:
    """``dvae ARGS`` as `dvae_cli.cli.app.main` runs it, in this process: its exit status and output."""
    from dvae_cli.cli.app import main

    monkeypatch.chdir(cwd)
    for key, value in {"COLUMNS": "200", **env}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("DVAE_DEBUG", raising=False)
    capsys.readouterr()
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return Outcome(code, out.out, out.err)


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id, marks=row.marks) for row in ROWS])
def test_bad_input_is_one_error_line_and_touches_nothing(row: Row, tiny_results: Path, blank_data: Path,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "results"
    shutil.copytree(tiny_results, results, symlinks=True)
    case = Case(tmp=tmp_path, results=results, data=blank_data, watched=results)
    if row.setup is not None:
        row.setup(case)
    args = [arg.replace("{results}", str(case.results)) for arg in row.args]
    args += ["--results-dir", str(case.results), "--data-dir", str(case.data)] if row.dirs else []
    before = snapshot(case.watched)
    env = {"DVAE_OFFLINE": "1", **case.env}
    if row.read_only or row.id in SUBPROCESS_ROWS:
        result = run_dvae(*args, cwd=tmp_path, timeout=300, env=env, read_only=case.results if row.read_only else None)
    else:
        result = run_in_process(args, tmp_path, env, monkeypatch, capsys)
    after = snapshot(case.watched)

    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and lines[0][len("error: "):].strip(), result.stderr
    for expected in row.expect:
        assert expected in lines[0], (expected, lines[0])
    assert "Traceback" not in result.stdout + result.stderr
    assert "downloading" not in result.stdout
    assert after == before, sorted(p for p in {*after, *before} if after.get(p) != before.get(p))
    if case.data.name == "no-data":
        assert not case.data.exists()   # nothing was looked for, downloaded or cached
