"""UDR in ``dvae study report``: the protocol named, how many models each UDR rests on, no figure decided by ties.

The cells are run folders as a finished, scored study leaves them (``specs.json``,
``model.pt``, ``outcome.json``, ``metrics.log``, ``test_losses.log``, ``udr_codes.npz``),
with codes built so that the models of a setting agree more or less; no model is trained.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from dvae_cli.errors import ConfigError
from dvae_cli.metrics.udr import Representation, udr_scores
from dvae_cli.runs import study_layout as layout
from dvae_cli.study.plan import StudyPlan, load_study, parse_study
from dvae_cli.study.report import UDR, build_report, report_notes, udr_selection, write_report_folder
from dvae_cli.study.state import StudyRecord, study_dir

STUDY = """
[study]
name = "udr"
seeds = {seeds}
metrics = ["mig"]
udr = true
{extra}
[study.params]
epochs = 2
[study.grid]
loss = ["betaH"]
[study.grid.betaH]
betaH_B = [1, 2, 4, 8]
"""


def write_plan(tmp_path: Path, seeds: int, extra: str = "") -> StudyPlan:
    path = tmp_path / "udr.toml"
    path.write_text(STUDY.format(seeds=seeds, extra=extra))
    return load_study(path)


def codes_of(setting: int, seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Means of 4 latents on the shared sample: 3 factors each model of a setting mixes by a rotation
    that grows with the setting's index (so the settings' UDRs differ), plus noise of its seed."""
    factors = np.random.default_rng(100).normal(size=(n, 3))
    rng = np.random.default_rng(10 * setting + seed)
    angle = 0.25 * setting * (1 + 0.2 * rng.normal())
    rotation = np.array([[math.cos(angle), -math.sin(angle), 0.0], [math.sin(angle), math.cos(angle), 0.0],
                         [0.0, 0.0, 1.0]])
    means = np.column_stack([factors @ rotation + 0.1 * rng.normal(size=(n, 3)), 0.01 * rng.normal(size=n)])
    return means[:, rng.permutation(4)], np.array([1.0, 1.0, 1.0, 1.0])


def write_cells(plan: StudyPlan, results: Path, mig: dict[str, float] | None = None) -> None:
    """Every cell finished and scored: MIG (given, or growing with the setting) and its UDR codes."""
    settings = plan.settings()
    for cell in plan.cells:
        folder = study_dir(plan, results) / cell.name
        folder.mkdir(parents=True)
        (folder / "specs.json").write_text(json.dumps({"dataset": "sprites", "study": plan.record(cell)}))
        (folder / "model.pt").write_bytes(b"")
        (folder / "outcome.json").write_text(json.dumps({"state": "finished", "step": 16, "epoch": 2}))
        index = settings.index(cell.setting)
        score = (mig or {}).get(cell.name, 0.1 * index + 0.01 * cell.seed)
        (folder / "metrics.log").write_text(json.dumps({"MIG": score, "protocols": {"MIG": {"images": 100}}}))
        (folder / "test_losses.log").write_text(json.dumps({"recon_loss": 80.0 + index, "loss": 90.0}))
        means, kl = codes_of(index, cell.seed)
        np.savez(folder / layout.UDR_CODES, means=means, kl=kl)
    StudyRecord(study_dir(plan, results)).save(plan)


def report_of(plan: StudyPlan, results: Path):
    return build_report(plan, results, StudyRecord(study_dir(plan, results)))


def test_the_default_is_disentanglement_libs_lasso_and_its_protocol_is_in_every_output(tmp_path):
    plan = write_plan(tmp_path, seeds=3)
    assert (plan.udr_correlation, plan.udr_weighting) == ("lasso", "dlib")
    results = tmp_path / "results"
    write_cells(plan, results)
    report = report_of(plan, results)
    for setting in plan.settings():
        members = [c for c in report.cells if c.cell.setting == setting]
        reps = [Representation(*codes_of(plan.settings().index(setting), c.cell.seed)) for c in members]
        want = udr_scores([reps])[0]                                   # lasso, dlib: disentanglement_lib's
        assert [c.scores[UDR] for c in members] == pytest.approx(want, abs=1e-12)
        assert {c.udr_models for c in members} == {3}
    notes = report_notes(report)
    assert any("correlation lasso" in note and "weighting dlib" in note for note in notes), notes
    assert json.loads(report.cells[0].protocols[UDR])["correlation"] == "lasso"
    out = layout.report_dir(study_dir(plan, results))
    write_report_folder(report, out, figures=False)
    text = (out / layout.REPORT_MD).read_text()
    assert "correlation lasso" in text and "weighting dlib" in text
    cells = list(csv.DictReader((out / layout.CELLS_CSV).open()))
    assert {row["UDR_models"] for row in cells} == {"3"}
    selection = list(csv.DictReader((out / layout.UDR_SELECTION_CSV).open()))
    assert selection[0]["top_k_agreement"] not in ("", None)                 # no ties: a number


def test_the_papers_variant_is_an_option_and_names_are_checked_before_anything_runs(tmp_path):
    spearman = write_plan(tmp_path, seeds=3, extra='udr_correlation = "spearman"')
    assert (spearman.udr_correlation, spearman.udr_weighting) == ("spearman", "paper")
    mixed = parse_study({"udr_correlation": "spearman", "udr_weighting": "dlib"}, "s", tmp_path)
    assert (mixed.udr_correlation, mixed.udr_weighting) == ("spearman", "dlib")
    results = tmp_path / "results"
    write_cells(spearman, results)
    report = report_of(spearman, results)
    members = [c for c in report.cells if c.cell.setting == spearman.settings()[1]]
    reps = [Representation(*codes_of(1, c.cell.seed)) for c in members]
    assert [c.scores[UDR] for c in members] == pytest.approx(
        udr_scores([reps], correlation="spearman", weighting="paper")[0], abs=1e-12)
    assert any("correlation spearman" in note and "weighting paper" in note for note in report_notes(report))
    for table, message in (({"udr_correlation": "kendall"}, "lasso, spearman, pearson"),
                           ({"udr_weighting": "mean"}, "dlib, paper"),
                           ({"udr_correlation": 3}, "udr_correlation")):
        with pytest.raises(ConfigError, match=message):
            parse_study(table, "s", tmp_path)


def test_two_seeds_say_each_udr_rests_on_two_models_and_ties_decide_no_agreement(tmp_path):
    plan = write_plan(tmp_path, seeds=2, extra='udr_correlation = "spearman"')
    results = tmp_path / "results"
    write_cells(plan, results)
    report = report_of(plan, results)
    for setting in plan.settings():
        a, b = (c for c in report.cells if c.cell.setting == setting)
        assert a.scores[UDR] == b.scores[UDR] and a.udr_models == b.udr_models == 2
    rows = [r for r in report.summary_table().rows if r.values["score"] == UDR]
    assert rows and all(r.values["udr_models"] == 2 and r.values["std"] is None for r in rows)
    assert all("one pair" in r.not_computed["std"] for r in rows)
    assert all(r.values["udr_models"] is None for r in report.summary_table().rows if r.values["score"] != UDR)
    notes = report_notes(report)
    assert any("2 models" in note and "one pair" in note for note in notes), notes
    # 8 models, top 1: the two seeds of the best setting share its UDR, so the tie-break picks the top model
    (entry,) = report.selection
    assert entry["top_k"] == 1 and entry["top_k_agreement"] is None
    assert "tie" in entry["note"] and "UDR" in entry["note"]
    assert any("top_k_agreement" in note and "tie" in note for note in notes), notes
    out = layout.report_dir(study_dir(plan, results))
    write_report_folder(report, out, figures=False)
    selection = list(csv.DictReader((out / layout.UDR_SELECTION_CSV).open()))
    assert selection[0]["top_k_agreement"] == "" and "tie" in selection[0]["top_k_agreement.not_computed"]
    summary = list(csv.DictReader((out / layout.SUMMARY_CSV).open()))
    assert {row["udr_models"] for row in summary if row["score"] == UDR} == {"2"}
    assert all("one pair" in row["std.not_computed"] for row in summary if row["score"] == UDR)
    assert "2 models" in (out / layout.REPORT_MD).read_text()


def test_ties_in_the_supervised_score_decide_no_agreement_either(tmp_path):
    plan = write_plan(tmp_path, seeds=3)
    results = tmp_path / "results"
    write_cells(plan, results)
    cells = report_of(plan, results).cells
    best = max(cells, key=lambda c: c.scores[UDR])
    untied = udr_selection(cells, ["MIG"])[0]
    assert untied["top_k_agreement"] is not None and untied["note"] in ("", None)
    k = untied["top_k"]
    ranked = sorted(cells, key=lambda c: -c.scores["MIG"])
    ranked[k].scores["MIG"] = ranked[k - 1].scores["MIG"]          # a tie at the top-k boundary of MIG
    tied = udr_selection(cells, ["MIG"])[0]
    assert tied["top_k_agreement"] is None and "MIG" in tied["note"] and "tie" in tied["note"]
    assert tied["spearman_rho"] is not None and best.scores[UDR] is not None
