"""``dvae study``: study files, the local and Slurm (submitit) executors, stop and continue, status and report."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_dvae

from dvae_cli.errors import ConfigError, UnknownNameError
from dvae_cli.study.plan import load_study, parse_study
from dvae_cli.study.state import cell_status

TINY_STUDY = """
[study]
name = "{name}"
seeds = {seeds}
metrics = ["mig"]
max_images = 2000
plots = ["reconstruct"]
[study.params]
subsample = 256
epochs = 2
batch_size = 32
latent_dim = 3
checkpoint_every = 1
device = "cpu"
[study.grid]
loss = ["betaH", "btcvae"]
[study.grid.betaH]
betaH_B = [1, 4]
[study.grid.btcvae]
btcvae_B = [1, 4]
"""


def write_study(folder: Path, name: str = "tiny", seeds: int = 2, extra: str = "") -> Path:
    path = folder / f"{name}.toml"
    path.write_text(TINY_STUDY.format(name=name, seeds=seeds) + extra)
    return path


def test_the_grid_crosses_losses_their_own_values_and_seeds(tmp_path):
    plan = load_study(write_study(tmp_path))
    assert [c.name for c in plan.cells] == ["betaH-B1-s1", "betaH-B1-s2", "betaH-B4-s1", "betaH-B4-s2",
                                            "btcvae-B1-s1", "btcvae-B1-s2", "btcvae-B4-s1", "btcvae-B4-s2"]
    cell = plan.cell("btcvae-B4-s2")
    assert cell.axes == {"loss": "btcvae", "btcvae_B": 4} and cell.seed == 2 and cell.setting == "btcvae-B4"
    assert plan.flags(cell) == {**plan.params, "loss": "btcvae", "btcvae_B": 4, "seed": 2}
    listed = parse_study({"seeds": [7, 3], "grid": {"dataset": ["sprites", "sprites-color"], "latent_dim": [5],
                                                    "lr": [1e-3, 5e-4]}}, "s", tmp_path)
    assert [c.name for c in listed.cells][:3] == ["sprites-base-lr0.001-s7", "sprites-base-lr0.001-s3",
                                                 "sprites-base-lr0.0005-s7"]   # latent_dim: one value, not named
    assert len(listed.cells) == 8


@pytest.mark.parametrize("table, message", [
    ({"sedes": 3}, "unknown key 'sedes'; valid keys: name, description"),
    ({"seeds": [1, 1]}, "repeat a seed"),
    ({"seeds": 0}, "positive number of seeds"),
    ({"grid": {"loss": "betaH"}}, "grid.loss must be a non-empty list"),
    ({"grid": {"loss": ["betaH"], "btcvae": {"btcvae_B": [1]}}}, r"\[grid.btcvae\] names a loss that no cell"),
    ({"grid": {"lr": [0.001, 1e-3]}}, "two cells are named"),
    ({"slurm": {"timeout": 5}}, "unknown key 'timeout'"),
    ({"name": "a/b"}, "letters, digits"),
    ({"grid": {"loss": ["betaH"], "betaH": {"btcvae_B": [1, 4]}}}, "btcvae_B is a parameter of btcvae, not of betaH"),
    ({"params": {"loss": "VAE"}, "grid": {"loss": ["betaH"]}}, "'loss' is both in"),
    ({"slurm": {"timeout_min": "60"}}, "slurm.timeout_min must be an integer, got '60'"),
])
def test_a_bad_study_is_refused_naming_the_problem(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        parse_study(table, "s", tmp_path)


def test_shipped_studies_resolve_every_cell():
    from dvae_cli.cli.study import check_cells

    mini = load_study("sprites-mini")
    assert len(mini.cells) == 12 and mini.settings() == ["VAE", "betaH", "factor", "btcvae"]
    specs = check_cells(mini)
    assert specs["btcvae-s3"]["study"]["setting"] == "btcvae" and specs["btcvae-s3"]["seed"] == 3
    study = load_study("unsupervised_study_v1")
    assert len(study.cells) == 36 * 50 and len(study.settings()) == 36
    betab = check_cells(study)["betaB-finC25-s1"]
    assert (betab["betaB_G"], betab["reg_anneal"], betab["lr"], betab["latent_dim"]) == (1000, 100000, 1e-4, 10)
    assert check_cells(study)["btcvae-B6-s1"]["reg_anneal"] == 0
    with pytest.raises(UnknownNameError, match="sprites-mini"):
        load_study("no-such-study")


def test_bad_input_is_one_line_before_any_work(tmp_path):
    study = write_study(tmp_path, extra='[study.grid.betaH]\n')   # a TOML error: the table twice
    ok = write_study(tmp_path, name="ok", seeds=1)
    bad_value = tmp_path / "bad.toml"
    bad_value.write_text(TINY_STUDY.format(name="bad", seeds=1).replace("latent_dim = 3", "latent_dim = -3"))
    dirs = ["--results-dir", str(tmp_path / "results")]
    for args, message in ((["run", str(study)], "is not valid TOML"),
                          (["run", str(bad_value)], "cell betaH-B1-s1: --latent-dim must be a positive integer"),
                          (["run", str(bad_value).replace("bad", "none")], "no study file"),
                          (["run", "nope"], "unknown study (a file, or a study of studies.toml) 'nope'"),
                          (["run", str(ok), "--results-dir", str(bad_value)], "cannot write to study folder"),
                          (["run", "sprites-mini", "--executor", "slurm"], "--executor slurm: Could not detect"),
                          (["report", "sprites-mini", "-o", str(tmp_path / "no" / "x.csv")], "does not exist"),
                          (["run", "sprites-mini", "--executor", "pbs"], "unknown executor 'pbs'"),
                          (["run", "sprites-mini", "--jobs", "0"], "--jobs must be a positive integer"),
                          (["report", "sprites-mini"], "has no folder")):
        result = run_dvae("study", *args, *([] if "--results-dir" in args else dirs))
        assert result.returncode == 2 and result.stderr.count("\n") == 1, (args, result.stderr)
        assert result.stderr.startswith("error: ") and message in result.stderr, result.stderr
    assert not (tmp_path / "results").exists()


def _states(plan, results: Path) -> dict[str, str]:
    return {cell.name: cell_status(plan, cell, results).state for cell in plan.cells}


def _wait_for(condition, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the study did not get there in time"
        try:
            process.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            pass


@pytest.mark.slow
def test_stopped_with_sigterm_and_rerun_every_cell_finishes_once(tmp_path):
    study = write_study(tmp_path)
    plan = load_study(study)
    results = tmp_path / "results"
    command = [sys.executable, "-m", "dvae_cli", "study", "run", str(study), "--executor", "local", "--jobs", "2",
               "--results-dir", str(results), "--data-dir", str(tmp_path / "data")]
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "COLUMNS": "200"})
    _wait_for(lambda: "done" in _states(plan, results).values()
              and any((results / "tiny" / c.name / "specs.json").is_file() and _states(plan, results)[c.name] != "done"
                      for c in plan.cells), parent)
    parent.send_signal(signal.SIGTERM)
    out, err = parent.communicate(timeout=300)
    assert parent.returncode == 143, (out, err)
    stopped = _states(plan, results)
    assert "done" in stopped.values() and set(stopped.values()) - {"done", "interrupted", "trained", "left"} == set()
    assert "left" in stopped.values() or "interrupted" in stopped.values() or "trained" in stopped.values()

    again = run_dvae("study", "run", str(study), "--jobs", "2", "--results-dir", str(results),
                     "--data-dir", str(tmp_path / "data"))
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(_states(plan, results).values()) == {"done"}
    folders = sorted(p.name for p in (results / "tiny").iterdir() if not p.name.startswith("."))
    assert folders == sorted([c.name for c in plan.cells] + ["report", "study.json"][1:])
    assert not (results / "tiny" / ".study" / "failed").exists()
    for cell in plan.cells:
        log = (results / "tiny" / ".study" / "logs" / f"{cell.name}.log").read_text()
        assert log.count("Trained in") == 1, (cell.name, log)           # trained to its end exactly once
        rows = list(csv.reader((results / "tiny" / cell.name / "train_losses.log").open()))[1:]
        assert len({(r[0], r[1]) for r in rows}) == len(rows) and {r[0] for r in rows} == {"0", "1"}
        specs = json.loads((results / "tiny" / cell.name / "specs.json").read_text())
        assert specs["study"]["cell"] == cell.name and specs["seed"] == cell.seed
    finished = run_dvae("study", "run", str(study), "--results-dir", str(results))
    assert finished.returncode == 0 and "nothing to run" in finished.stdout

    reported = run_dvae("study", "report", str(study), "-F", "csv", "--results-dir", str(results))
    assert reported.returncode == 0, reported.stderr
    summary = list(csv.DictReader(reported.stdout.splitlines()))
    for setting in plan.settings():
        scores = [json.loads((results / "tiny" / c.name / "metrics.log").read_text())["MIG"]
                  for c in plan.cells if c.setting == setting]
        row = next(r for r in summary if r["setting"] == setting and r["score"] == "MIG")
        assert int(row["n"]) == len(scores) == 2
        assert math.isclose(float(row["mean"]), sum(scores) / 2, rel_tol=1e-12)
        assert math.isclose(float(row["std"]), abs(scores[0] - scores[1]) / math.sqrt(2), rel_tol=1e-9)
        udr = next(r for r in summary if r["setting"] == setting and r["score"] == "UDR")
        assert 0 <= float(udr["mean"]) <= 1
    report = results / "tiny" / "report"
    assert {"report.md", "summary.csv", "cells.csv", "box_MIG.png", "rank_correlation.png",
            "tradeoff_MIG.png"} <= {p.name for p in report.iterdir()}
    latex = run_dvae("study", "report", str(study), "-F", "latex", "--no-figures", "--results-dir", str(results))
    assert latex.returncode == 0 and r"\begin{tabular}" in latex.stdout
    status = run_dvae("study", "status", str(study), "--results-dir", str(results))
    assert status.returncode == 0 and "8 done" in status.stdout


@pytest.mark.slow
def test_a_failing_cell_is_retried_once_then_reported_and_a_changed_file_adds_or_extends_cells(tmp_path):
    study = write_study(tmp_path, name="mix", seeds=1)
    study.write_text(study.read_text().replace('loss = ["betaH", "btcvae"]', 'loss = ["betaH"]')
                     .replace("[study.grid.btcvae]\nbtcvae_B = [1, 4]\n", "")
                     .replace("betaH_B = [1, 4]", "betaH_B = [1]\nlr = [1e-3, 1e9]"))   # 1e9: it diverges
    dirs = ["--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    first = run_dvae("study", "run", str(study), *dirs)
    assert first.returncode == 1, first.stdout + first.stderr
    assert "failed betaH-lr1e+09-s1" in first.stdout and "retrying once" in first.stdout
    record = json.loads((tmp_path / "results" / "mix" / "study.json").read_text())
    assert record["cells"]["betaH-lr1e+09-s1"]["attempts"] == 2
    assert "non-finite" in record["cells"]["betaH-lr1e+09-s1"]["error"]
    assert len(list((tmp_path / "results" / "mix" / ".study" / "failed").iterdir())) == 1   # the first attempt, kept
    status = run_dvae("study", "status", str(study), *dirs[:2])
    assert "1 done, 1 failed" in status.stdout and "diverged" in status.stdout
    again = run_dvae("study", "run", str(study), "--dry-run", *dirs)
    assert "failed betaH-lr1e+09-s1" in again.stdout and "betaH-lr1e+09-s1: failed" in again.stdout
    retried = run_dvae("study", "run", str(study), "--dry-run", "--retry-failed", *dirs)
    assert "betaH-lr1e+09-s1: retry -> run" in retried.stdout
    done = tmp_path / "results" / "mix" / "betaH-lr0.001-s1"
    stamp = (done / "model.pt").stat().st_mtime_ns

    study.write_text(study.read_text().replace("seeds = 1", "seeds = 2").replace("latent_dim = 3", "latent_dim = 4"))
    changed = run_dvae("study", "run", str(study), "--dry-run", *dirs)
    assert "conflict betaH-lr0.001-s1: latent_dim is 3 in the run, 4 in the study" in changed.stdout
    assert "betaH-lr0.001-s2: left -> run" in changed.stdout
    study.write_text(study.read_text().replace("latent_dim = 4", "latent_dim = 3").replace("lr = [1e-3, 1e9]",
                                                                                           "lr = [1e-3]"))
    grown = run_dvae("study", "run", str(study), *dirs)
    assert "done betaH-s2" in grown.stdout and (done / "model.pt").stat().st_mtime_ns == stamp   # not retrained
    assert "run folders are no cell of this file" in grown.stdout and "betaH-lr0.001-s1" in grown.stdout

    study.write_text(study.read_text().replace("epochs = 2", "epochs = 3"))
    extend = run_dvae("study", "run", str(study), "--dry-run", *dirs)
    assert "betaH-s1: extend -> run" in extend.stdout, extend.stdout
    extended = run_dvae("study", "run", str(study), *dirs)
    assert extended.returncode == 0, extended.stdout + extended.stderr
    cell = tmp_path / "results" / "mix" / "betaH-s1"
    rows = list(csv.reader((cell / "train_losses.log").open()))[1:]
    assert sorted({r[0] for r in rows}) == ["0", "1", "2"] and len({(r[0], r[1]) for r in rows}) == len(rows)
    assert (cell / "metrics.log").stat().st_mtime_ns >= (cell / "model.pt").stat().st_mtime_ns   # scored again
    assert (cell / "metrics.log.bak").is_file()


def test_a_dataset_that_cannot_be_had_is_one_line_before_any_cell(tmp_path):
    study = write_study(tmp_path, name="nodata", seeds=1, extra="")
    study.write_text(study.read_text().replace("[study.params]\n", '[study.params]\ndataset = "mnist"\n')
                     .replace('metrics = ["mig"]', "metrics = []"))
    result = run_dvae("study", "run", str(study), "--results-dir", str(tmp_path / "results"), "--data-dir",
                      str(tmp_path / "data"), env={"DVAE_OFFLINE": "1"})
    assert result.returncode == 2 and result.stderr.startswith("error: study nodata: dataset 'mnist'"), result.stderr
    assert result.stderr.count("\n") == 1 and not (tmp_path / "results" / "nodata").exists()


def test_the_report_on_stdout_is_the_table_alone(tmp_path):
    """Piped: the machine-readable table on stdout, the notes and the files written on stderr."""
    study = write_study(tmp_path)
    study.write_text(study.read_text().replace('metrics = ["mig"]', 'metrics = ["mig"]\nudr = false'))
    plan = load_study(study)
    results = tmp_path / "results"
    for k, cell in enumerate(plan.cells):   # finished cells, as a run folder records them
        folder = results / "tiny" / cell.name
        folder.mkdir(parents=True)
        (folder / "specs.json").write_text(json.dumps({"dataset": "sprites", "study": plan.record(cell)}))
        (folder / "model.pt").write_bytes(b"")
        (folder / "outcome.json").write_text(json.dumps({"state": "finished", "step": 16, "epoch": 2}))
        (folder / "metrics.log").write_text(json.dumps({"MIG": 0.01 * k, "dataset": "sprites"}))
    for fmt, parse in (("json", json.loads), ("csv", lambda text: list(csv.DictReader(text.splitlines())))):
        result = run_dvae("study", "report", str(tmp_path / "tiny.toml"), "-F", fmt, "--no-figures",
                          "--results-dir", str(results))
        assert result.returncode == 0, result.stderr
        rows = parse(result.stdout)
        assert len(rows) == 4 and {float(r["mean"]) for r in rows} == {0.005, 0.025, 0.045, 0.065}
        assert "wrote" in result.stderr


@pytest.mark.slow
def test_slurm_executor_submits_through_submitit(tmp_path):
    pytest.importorskip("submitit")
    study = write_study(tmp_path, name="array", seeds=1)
    study.write_text(study.read_text().replace('loss = ["betaH", "btcvae"]', 'loss = ["betaH"]')
                     .replace("[study.grid.btcvae]\nbtcvae_B = [1, 4]\n", "")
                     + "[study.slurm]\ntimeout_min = 30\nmem_gb = 4\npartition = \"gpu\"\n")
    dirs = ["--results-dir", str(tmp_path / "results"), "--data-dir", str(tmp_path / "data")]
    result = run_dvae("study", "run", str(study), "--executor", "slurm", "--wait", *dirs,
                      env={"DVAE_SUBMITIT_CLUSTER": "local"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "submitted 2 cells of study array" in result.stdout and "(local)" in result.stdout
    plan = load_study(study)
    assert set(_states(plan, tmp_path / "results").values()) == {"done"}
    record = json.loads((tmp_path / "results" / "array" / "study.json").read_text())
    for cell in plan.cells:
        job = Path(record["cells"][cell.name]["job_folder"])
        assert job.is_dir() and any(job.glob("*_result.pkl")), list(job.iterdir())


def test_the_slurm_requests_come_from_the_study(tmp_path):
    pytest.importorskip("submitit")
    study = write_study(tmp_path, name="req", seeds=1)
    study.write_text(study.read_text() + "[study.slurm]\ntimeout_min = 30\nmem_gb = 4\ngpus_per_node = 1\n"
                     "partition = \"gpu\"\n")
    shown = run_dvae("study", "run", str(study), "--executor", "slurm", "--jobs", "3", "--dry-run",
                     "--results-dir", str(tmp_path / "results"))
    assert shown.returncode == 0, shown.stderr
    for line in ("#SBATCH --partition=gpu", "#SBATCH --time=30", "#SBATCH --mem=4GB", "#SBATCH --gpus-per-node=1",
                 "#SBATCH --job-name=dvae-req", "#SBATCH --cpus-per-task=8"):
        assert line in shown.stdout, shown.stdout
    assert not (tmp_path / "results").exists()
