"""The study folder as a contract: one state of each cell for ``dvae study status`` and ``dvae browse``,
the evaluation plan ``study.json`` records, and the report's files as the writer writes and the reader reads them.

The cells here are run folders as a finished training leaves them (``specs.json``,
``model.pt``, ``outcome.json``), with or without their scores, no model trained.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dvae_cli.cli.app import app
from dvae_cli.runs.summary import summarize_run
from dvae_cli.study.plan import Cell, StudyPlan, load_study
from dvae_cli.study.state import StudyRecord, cell_status, study_dir
from dvae_cli.tui.data.studies import load_study as browse_study
from dvae_cli.tui.data.studies import read_study_info

STUDY = """
[study]
name = "folder"
seeds = 2
metrics = ["mig"]
udr = {udr}
[study.params]
epochs = 2
[study.grid]
loss = ["betaH"]
"""


def write_plan(tmp_path: Path, udr: bool = False) -> StudyPlan:
    path = tmp_path / "folder.toml"
    path.write_text(STUDY.format(udr=str(udr).lower()))
    return load_study(path)


def trained_cell(plan: StudyPlan, results: Path, name: str, scored: bool = False) -> Path:
    """A cell whose training finished, as its run folder records it (scored: with its MIG)."""
    folder = study_dir(plan, results) / name
    folder.mkdir(parents=True)
    (folder / "specs.json").write_text(json.dumps({"dataset": "sprites", "study": plan.record(plan.cell(name))}))
    (folder / "model.pt").write_bytes(b"")
    (folder / "outcome.json").write_text(json.dumps({"state": "finished", "step": 16, "epoch": 2}))
    if scored:
        (folder / "metrics.log").write_text(json.dumps({"MIG": 0.1}))
    return folder


def browse_states(plan: StudyPlan, results: Path) -> dict[str, int]:
    """The study view's count of the cells by state, as `dvae browse` reads the results dir."""
    where = study_dir(plan, results)
    info = read_study_info(where, key=f"{plan.name}/", prefix=f"{plan.name}/")
    cells = []
    for folder in sorted(p for p in where.iterdir() if (p / "specs.json").is_file()):
        summary = summarize_run(folder)
        summary.name = f"{plan.name}/{folder.name}"   # the run list's key of a cell
        cells.append(summary)
    return browse_study(info, cells).states


def status_states(plan: StudyPlan, results: Path) -> dict[str, str]:
    record = StudyRecord(study_dir(plan, results))
    return {cell.name: cell_status(plan, cell, results, record).state for cell in plan.cells}


def test_a_trained_cell_without_its_scores_is_trained_in_study_status_and_in_browse(tmp_path):
    plan = write_plan(tmp_path)
    results = tmp_path / "results"
    first, second = (cell.name for cell in plan.cells)
    trained_cell(plan, results, first, scored=True)
    trained_cell(plan, results, second)
    StudyRecord(study_dir(plan, results)).save(plan)   # as `dvae study run` does when it starts

    assert status_states(plan, results) == {first: "done", second: "trained"}
    assert browse_states(plan, results) == {"done": 1, "trained": 1}
    shown = CliRunner().invoke(app, ["study", "status", str(tmp_path / "folder.toml"), "--results-dir",
                                     str(results)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "1 done, 1 trained" in shown.output and "missing mig" in shown.output

    (study_dir(plan, results) / second / "metrics.log").write_text(json.dumps({"MIG": 0.2}))   # scored since
    assert set(status_states(plan, results).values()) == {"done"}
    assert browse_states(plan, results) == {"done": 2}


def test_study_json_records_the_evaluation_plan_and_browse_reads_it(tmp_path):
    plan = write_plan(tmp_path, udr=True)
    results = tmp_path / "results"
    for cell in plan.cells:
        trained_cell(plan, results, cell.name, scored=True)
    StudyRecord(study_dir(plan, results)).save(plan)
    record = json.loads((study_dir(plan, results) / "study.json").read_text())
    assert record["evaluation"] == {"metrics": ["mig"], "fast_metrics": True, "max_images": None, "plots": [],
                                    "udr": True}
    assert StudyRecord(study_dir(plan, results)).evaluation() is not None
    info = read_study_info(study_dir(plan, results), key="folder/", prefix="folder/")
    assert info.evaluation is not None and info.evaluation.udr and info.evaluation.metrics == ("mig",)
    assert browse_states(plan, results) == {"trained": 2}       # scored, but no UDR codes yet
    assert set(status_states(plan, results).values()) == {"trained"}
    for cell in plan.cells:
        (study_dir(plan, results) / cell.name / "udr_codes.npz").write_bytes(b"codes")
    assert browse_states(plan, results) == {"done": 2}
    assert set(status_states(plan, results).values()) == {"done"}


def test_a_study_json_without_an_evaluation_plan_counts_trained_cells_done_as_before(tmp_path):
    """A study folder of an older dvae: its plan unknown, browse says what it always said."""
    plan = write_plan(tmp_path)
    results = tmp_path / "results"
    for cell in plan.cells:
        trained_cell(plan, results, cell.name)
    (study_dir(plan, results) / "study.json").write_text(json.dumps({"study": plan.name, "cells_planned": 2,
                                                                     "cells": {}}))
    assert browse_states(plan, results) == {"done": 2}
    for broken in ('{"metrics": "mig", "udr": true}', '{"metrics": [], "udr": "yes"}', '[]',
                   '{"metrics": [], "udr": true, "max_images": 0}'):
        (study_dir(plan, results) / "study.json").write_text(f'{{"cells": {{}}, "evaluation": {broken}}}')
        assert read_study_info(study_dir(plan, results), "folder/", "folder/").evaluation is None, broken


def test_browse_counts_cells_in_the_states_of_study_status(tmp_path):
    """Failed before its folder was made (once: retry; twice: failed), running, diverged, not started."""
    plan = write_plan(tmp_path)
    plan.cells += [Cell(f"betaH-x{k}-s1", f"betaH-x{k}", {}, 1) for k in range(4)]
    results = tmp_path / "results"
    names = [cell.name for cell in plan.cells]
    trained_cell(plan, results, names[0], scored=True)
    diverged = trained_cell(plan, results, names[1])
    (diverged / "outcome.json").write_text(json.dumps({"state": "diverged", "step": 3, "epoch": 1,
                                                       "detail": "recon_loss"}))
    live = trained_cell(plan, results, names[2])
    (live / "outcome.json").unlink()
    (live / ".dvae-training.json").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                          "time": time.time()}))
    record = StudyRecord(study_dir(plan, results))
    record.cell(names[3]).update(attempts=1, error="dataset missing")
    record.cell(names[4]).update(attempts=2, error="dataset missing")
    record.save(plan)   # names[5]: planned, never started

    assert browse_states(plan, results) == {"done": 1, "running": 1, "retry": 2, "left": 1, "failed": 1}
    assert sorted(status_states(plan, results).values()) == sorted(
        ["done", "running", "retry", "retry", "left", "failed"])


def test_the_report_writes_the_files_the_contract_names_and_browse_reads_them(tmp_path):
    from dvae_cli.runs import study_layout as layout
    from dvae_cli.study.report import build_report, write_report_folder

    plan = write_plan(tmp_path)
    results = tmp_path / "results"
    for k, cell in enumerate(plan.cells):
        folder = trained_cell(plan, results, cell.name, scored=True)
        (folder / "metrics.log").write_text(json.dumps({"MIG": 0.1 * (k + 1), "a score/with:odd chars": k + 0.5}))
        (folder / "test_losses.log").write_text(json.dumps({"recon_loss": 80.0 + k, "loss": 90.0 + k}))
    StudyRecord(study_dir(plan, results)).save(plan)
    report = build_report(plan, results, StudyRecord(study_dir(plan, results)))
    out = layout.report_dir(study_dir(plan, results))
    write_report_folder(report, out)
    odd = layout.score_file_part("a score/with:odd chars")
    assert odd == "a_score_with_odd_chars"
    assert {p.name for p in out.iterdir()} == {
        layout.REPORT_MD, layout.SUMMARY_CSV, layout.CELLS_CSV, layout.box_plot_name("MIG"),
        layout.box_plot_name("test.recon_loss"), layout.box_plot_name("a score/with:odd chars"),
        layout.RANK_CORRELATION_PNG, layout.tradeoff_plot_name("MIG"),
        layout.tradeoff_plot_name("a score/with:odd chars")}
    assert {layout.box_plot_name("MIG"), layout.tradeoff_plot_name("MIG")} == {"box_MIG.png", "tradeoff_MIG.png"}

    info = read_study_info(study_dir(plan, results), key="folder/", prefix="folder/")
    assert info.report and info.report_dir == out
    details = browse_study(info, [])
    assert details.summary is not None and details.summary.header[:2] == ["setting", "loss"]
    assert details.report_files == sorted([layout.CELLS_CSV, layout.REPORT_MD, layout.SUMMARY_CSV])
    assert len(details.figures) == 6


def test_the_study_folder_names_its_work_files_in_one_place(tmp_path):
    from dvae_cli.runs import study_layout as layout
    from dvae_cli.study.local import log_path

    plan = write_plan(tmp_path)
    where = study_dir(plan, tmp_path)
    cell = plan.cells[0]
    assert log_path(plan, tmp_path, cell) == where / ".study" / "logs" / f"{cell.name}.log"
    assert layout.cell_log_path(where, cell.name) == log_path(plan, tmp_path, cell)
    assert layout.failed_dir(where) == where / ".study" / "failed"
    assert layout.submitit_dir(where) == where / ".study" / "submitit"
    assert layout.study_record_path(where) == where / "study.json" == StudyRecord(where).path
    assert (layout.STUDY_RECORD, layout.UDR_CODES, layout.WORK_DIR) == ("study.json", "udr_codes.npz", ".study")


@pytest.mark.parametrize("name, index", [("kl_loss_0", 0), ("kl_loss_12", 12), ("kl_loss", None), ("kl_loss_", None),
                                         ("kl_loss_x", None), ("kl_loss_1a", None), ("dw_kl_loss_1", None),
                                         ("kl_loss_²", None), ("recon_loss", None), ("kl_loss_-1", None)])
def test_the_per_latent_kl_key_grammar(name, index):
    from dvae_cli.compare.table import is_term_kl_per_latent
    from dvae_cli.runs.logs import is_kl_key, kl_key, parse_kl_key

    assert parse_kl_key(name) == index
    assert is_kl_key(name) is (index is not None) is is_term_kl_per_latent(name)
    if index is not None:
        assert kl_key(index) == name


def test_the_readers_of_per_latent_kl_agree():
    from dvae_cli.runs.logs import kl_keys, kl_per_latent
    from dvae_cli.viz.charts import term_families

    history = {term: [(0, float(k))] for k, term in enumerate(
        ["loss", "kl_loss", "kl_loss_10", "kl_loss_2", "kl_loss_x", "dw_kl_loss", "kl_loss_0"])}
    assert kl_keys(history) == ["kl_loss_0", "kl_loss_2", "kl_loss_10"]
    assert kl_per_latent({term: points[0][1] for term, points in history.items()}) == [6.0, 3.0, 2.0]
    families = term_families(history)
    assert families["KL per latent"] == ["kl_loss_0", "kl_loss_2", "kl_loss_10"]
    assert families["KL to the prior"] == ["kl_loss"]
    assert families["loss-specific terms"] == ["dw_kl_loss", "kl_loss_x"]
