"""Faults users reported against comparable tools, each example as a test (issue 15).

The examples whose right answer is a refusal (exit 2, one line, nothing touched) are
rows of `tests/test_bad_input.py`; here are the ones with a value to check: scores
that are defined where they used to be NaN, strict JSON, scores written as they
complete, one way of counting epochs, and output that survives pipes and encodings.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
from pathlib import Path

import pytest

from dvae_cli.config import resolve_run
from dvae_cli.engine.disentanglement import evaluate_metrics
from dvae_cli.engine.run import train_run
from dvae_cli.engine.trainer import Callback, TrainState
from dvae_cli.errors import TrainingInterrupted
from dvae_cli.metrics.suite import MetricSettings
from dvae_cli.runs.folder import RunFolder

from conftest import run_dvae

TINY = {"subsample": 256, "epochs": 2, "batch_size": 32, "checkpoint_every": 1, "eval_batchsize": 50,
        "reg_anneal": 10, "device": "cpu"}
FAST = ("--fast", "--max-images", "4000")


def strict_json(path: Path) -> object:
    """Parse `path` as a strict JSON parser would (NaN, Infinity and -Infinity are errors)."""
    def refuse(constant: str) -> None:
        raise ValueError(f"{path.name} holds {constant}, which is not JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sprites_data_dir) -> Path:
    """A results dir with ``one-latent`` (-z 1) and ``tiny`` (-z 4), trained once."""
    results = tmp_path_factory.mktemp("user-reports")
    train_run(resolve_run("one-latent", None, {**TINY, "latent_dim": 1}).spec, results, sprites_data_dir)
    train_run(resolve_run("tiny", None, {**TINY, "latent_dim": 4}).spec, results, sprites_data_dir)
    return results


@pytest.fixture()
def results(runs, tmp_path) -> Path:
    copy = tmp_path / "results"
    shutil.copytree(runs, copy)
    return copy


def dvae(results: Path, data: Path, *args: str, **kwargs) -> object:
    out = run_dvae(*args, "--results-dir", str(results), "--data-dir", str(data), **kwargs)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return out


# ---------------------------------------------------------------- 2. no NaN in a results file


@pytest.mark.slow
def test_dci_of_a_one_latent_run_is_defined(results, sprites_data_dir):
    dvae(results, sprites_data_dir, "eval", "one-latent", "--metric", "dci", "--no-test", *FAST)
    scores = strict_json(results / "one-latent" / "metrics.log")
    assert scores["DCI_completeness"] == 1.0   # one latent carries all of every factor it carries
    assert 0.0 <= scores["DCI_disentanglement"] <= 1.0 and 0.0 <= scores["DCI_informativeness"] <= 1.0
    strict_json(results / "one-latent" / "metrics_detail.json")


@pytest.mark.slow
def test_dci_and_modularity_of_a_single_factor_are_defined(results, sprites_data_dir):
    dvae(results, sprites_data_dir, "eval", "tiny", "--metric", "dci,modularity", "--factors", "scale",
         "--no-test", *FAST)
    scores = strict_json(results / "tiny" / "metrics.log")
    assert scores["DCI_disentanglement"] == 1.0   # with one factor, a latent relates to no other
    assert all(math.isfinite(scores[key]) for key in ("DCI_completeness", "modularity"))
    assert 0.0 <= scores["modularity"] <= 1.0
    strict_json(results / "tiny" / "metrics_detail.json")


@pytest.mark.slow
def test_every_json_file_of_a_run_is_strict(results, sprites_data_dir):
    dvae(results, sprites_data_dir, "eval", "tiny", "--metric", "all", "--factors", "shape,scale,posX",
         *FAST)
    dvae(results, sprites_data_dir, "plot", "tiny", "losses", "kl-per-dim")
    files = [p for p in (results / "tiny").iterdir() if p.suffix in (".json", ".log") and p.name != "train_losses.log"]
    assert {p.name for p in files} >= {"specs.json", "test_losses.log", "metrics.log", "metrics_detail.json"}
    for path in files:
        strict_json(path)
    compare = dvae(results, sprites_data_dir, "compare", "--format", "json")
    json.loads(compare.stdout, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


@pytest.mark.slow
def test_each_score_is_on_disk_before_the_next_metric_starts(results, sprites_data_dir):
    folder = RunFolder(results / "tiny")
    seen: dict[str, list[str]] = {}

    def log(message: str) -> None:   # called as each metric starts: what does metrics.log hold then?
        path = folder.path / "metrics.log"
        seen[message.split(" ")[0]] = sorted(json.loads(path.read_text())) if path.is_file() else []

    evaluate_metrics(folder, sprites_data_dir, metrics=("mig_discrete", "factorvae", "dci"),
                     settings=MetricSettings.fast(), max_images=4000, device="cpu", log=log)
    assert "MIG_discrete" in seen["FactorVAE"]
    assert {"MIG_discrete", "FactorVAE"} <= set(seen["DCI"])


@pytest.mark.slow
def test_a_later_evaluation_keeps_the_other_scores_and_says_what_it_replaced(results, sprites_data_dir):
    for name in ("metrics.log", "metrics.log.bak", "metrics_detail.json"):   # no scores before this test
        (results / "tiny" / name).unlink(missing_ok=True)
    dvae(results, sprites_data_dir, "eval", "tiny", "--metric", "mig_discrete,sap", "--no-test", *FAST)
    first = strict_json(results / "tiny" / "metrics.log")
    # an evaluation writes each score as it completes; its own first write is not a "previous" file
    assert not (results / "tiny" / "metrics.log.bak").exists()
    out = dvae(results, sprites_data_dir, "eval", "tiny", "--metric", "sap", "--no-test", "--fast",
               "--max-images", "3000")
    second = strict_json(results / "tiny" / "metrics.log")
    assert second["MIG_discrete"] == first["MIG_discrete"]
    assert second["protocols"]["SAP"]["images"] == 3000 and second["protocols"]["MIG_discrete"]["images"] == 4000
    assert "replaced the earlier SAP" in out.stdout
    assert strict_json(results / "tiny" / "metrics.log.bak") == first   # the file this evaluation replaced


# ---------------------------------------------------------------- 4. one way of counting epochs


class InterruptAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, state: TrainState) -> None:
        if state.step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def test_every_message_counts_epochs_from_one(tmp_path, sprites_data_dir):
    spec = resolve_run("count", None, {**TINY, "latent_dim": 3, "no_test": True}).spec   # 8 steps per epoch
    with pytest.raises(TrainingInterrupted) as info:
        train_run(spec, tmp_path, sprites_data_dir, callbacks=[InterruptAt(3)])
    assert "SIGINT in epoch 1 after step 3" in str(info.value)
    lines: list[str] = []
    result = train_run(spec, tmp_path, sprites_data_dir, resume=True, log=lines.append)
    assert any("in epoch 1 of 2, after step 3 of its 8" in line for line in lines), lines
    assert sorted({epoch for rows in result.history.values() for epoch, _ in rows}) == [0, 1]   # the log's column

    from dvae_cli.viz.charts import draw_losses

    figure = draw_losses(result.history, "t")
    assert list(figure.axes[0].lines[0].get_xdata()) == [1, 2]


def test_resume_on_a_finished_run_says_so_and_does_nothing(results, sprites_data_dir):
    before = {p.name: p.read_bytes() for p in (results / "tiny").iterdir()}
    out = run_dvae("train", "tiny", "--resume", "--results-dir", str(results), "--data-dir", str(sprites_data_dir))
    assert out.returncode == 0, out.stderr
    assert "is finished (all 2 epochs trained): nothing to do" in out.stdout
    assert "--resume --epochs N" in out.stdout and "computing test losses" not in out.stdout
    assert {p.name: p.read_bytes() for p in (results / "tiny").iterdir()} == before


# ---------------------------------------------------------------- 5. pipes and encodings


def test_tables_in_a_pipe_cut_nothing(results, sprites_data_dir):
    listed = run_dvae("experiments", "list", env={"COLUMNS": ""})   # stdout is a pipe
    assert listed.returncode == 0
    assert any(line.split("│")[1].strip() == "best_celeba" for line in listed.stdout.splitlines() if "│" in line)
    long_name = "a-run-with-a-name-much-longer-than-a-terminal-column-" + "x" * 60
    shutil.copytree(results / "tiny", results / long_name)
    for args in (("experiments", "list"), ("data", "list"), ("compare", "--results-dir", str(results))):
        out = run_dvae(*args, env={"COLUMNS": ""})
        assert out.returncode == 0, out.stderr
        assert "…" not in out.stdout and "..." not in out.stdout, args
    assert long_name in run_dvae("compare", "--results-dir", str(results), env={"COLUMNS": ""}).stdout


@pytest.mark.parametrize("command", [("experiments", "list"), ("data", "list")])
def test_list_commands_give_json_and_csv(command):
    as_json = run_dvae(*command, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert rows and all("name" in row for row in rows)
    as_csv = run_dvae(*command, "--format", "csv")
    header, *lines = as_csv.stdout.splitlines()
    assert header.startswith("name,") and len(lines) == len(rows)
    wrong = run_dvae(*command, "--format", "yaml")
    assert wrong.returncode == 2 and "choose from: table, json, csv" in wrong.stderr


@pytest.mark.slow
def test_any_output_encoding_never_crashes(runs, tmp_path, sprites_data_dir):
    accented = tmp_path / "résultats"
    shutil.copytree(runs, accented)
    env = {"PYTHONIOENCODING": "ascii"}
    for args in (("eval", "tiny", "--results-dir", str(accented), "--data-dir", str(sprites_data_dir)),
                 ("compare", "--results-dir", str(accented)),
                 ("train", "nouveau", "--subsample", "64", "-e", "1", "-b", "32", "--no-test", "--device", "cpu",
                  "--results-dir", str(accented), "--data-dir", str(sprites_data_dir))):
        out = run_dvae(*args, env=env)
        assert out.returncode == 0, (args, out.stderr)
        assert "Traceback" not in out.stderr and "r?sultats" in out.stdout
    assert (accented / "nouveau" / "model.pt").is_file()


# ---------------------------------------------------------------- 1. the last short batch


def test_the_last_evaluation_batch_is_never_smaller_than_the_loss_needs(sprites_data_dir):
    import numpy as np

    from dvae_cli.data.loading import load_dataset
    from dvae_cli.engine.evaluate import evaluate_losses
    from dvae_cli.engine.models import build_model
    from dvae_cli.losses import get_loss

    data = load_dataset("sprites", sprites_data_dir).subset(np.arange(0, 737_280, 245_760))   # 3 images
    model = build_model((1, 64, 64), 3)
    loss = get_loss("btcvae", n_data=100)
    in_twos = evaluate_losses(model, loss, data, batch_size=2)     # 2 + 1 would leave a batch of one
    at_once = evaluate_losses(model, loss, data, batch_size=3)
    assert in_twos == at_once
