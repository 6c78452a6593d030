"""`dvae browse` over study folders (`dvae study`): the cells listed under their study and opened
as runs, the study view (cells by state, the report's summary table and figures), a study
folder browsed itself, a missing report or a broken study.json, and live updates.

A study here is made of copies of the session's tiny run (conftest's ``tiny_run``), with the
``study`` key `dvae study` writes in their specs.json, a ``study.json`` and a report as
``dvae study report`` writes it (summary.csv, cells.csv, report.md and a PNG figure).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static, TabbedContent
from typer.testing import CliRunner

from dvae_cli.cli.app import app as cli_app
from dvae_cli.runs.folder import TRAIN_LOG
from dvae_cli.runs.layout import TRAINING_LOCK as LOCK_FILE
from dvae_cli.runs.watch import RunWatcher
from dvae_cli.study.plan import StudyPlan, load_study
from dvae_cli.study.state import StudyRecord, study_dir
from dvae_cli.tui.data.results_watcher import ResultsWatcher
from dvae_cli.tui.screens.browse import BrowseScreen
from dvae_cli.tui.screens.compare import CompareScreen
from dvae_cli.tui.screens.help import HelpScreen
from dvae_cli.tui.screens.path import PathScreen
from dvae_cli.tui.widgets.figure_viewer import FigureViewer
from dvae_cli.tui.widgets.loss_plot import LossPlot
from dvae_cli.tui.widgets.run_table import RunTable
from dvae_cli.tui.widgets.study_view import StudyView

from browse_helpers import (BROKEN, IGNORE_PILLOW_WARNING, LIVE, REFERENCE_RUNS, browse, epoch_rows, live_run,
                            make_results, overview_status, overview_text, select, settle, status_text, table_rows,
                            text_of, until)

pytestmark = IGNORE_PILLOW_WARNING

STUDY = "mystudy"
STUDY_FILE = "/studies/mystudy.toml"
#: Trained cells (copies of the tiny run), and one still training.
DONE_CELLS = ("betaH-s1", "betaH-s2")
LIVE_CELL = "btcvae-s1"
SUMMARY_CSV = ("setting,loss,score,mean,median,std,n\n"
               "betaH,betaH,MIG,0.25,0.25,0.07071067811865475,2\n"
               "betaH,betaH,test.recon_loss,812.5,812.5,3.5355339059327378,2\n"
               "btcvae,btcvae,MIG,,,,0\n")


def add_study_key(cell: Path, study: str = STUDY) -> None:
    """Record in the cell's specs.json that it is a cell of `study`, as `dvae study` does."""
    specs = cell / "specs.json"
    spec = json.loads(specs.read_text())
    setting, _, seed = cell.name.rpartition("-s")
    spec["study"] = {"name": study, "file": STUDY_FILE, "cell": cell.name, "setting": setting,
                     "axes": {"loss": setting}, "seed": int(seed)}
    specs.write_text(json.dumps(spec, indent=4))


def write_png(path: Path) -> None:
    pixels = np.zeros((24, 40, 3), np.uint8)
    pixels[4:20, 8:32] = (40, 120, 220)
    PILImage.fromarray(pixels).save(path)


def write_report(folder: Path) -> None:
    """The files `dvae study report` writes into ``<study>/report/``."""
    report = folder / "report"
    report.mkdir(exist_ok=True)
    write_png(report / "box_MIG.png")
    (report / "cells.csv").write_text("cell,setting,loss,seed,MIG\nbetaH-s1,betaH,betaH,1,0.2\n")
    (report / "report.md").write_text("# Study mystudy\n")
    (report / "summary.csv").write_text(SUMMARY_CSV)   # last: the browser's cue that the report is there


def make_study(folder: Path, tiny: Path, report: bool = True) -> Path:
    """A study of 4 planned cells: two trained, one training, one failed twice before its run began."""
    folder.mkdir(parents=True)
    for cell in DONE_CELLS:
        shutil.copytree(tiny, folder / cell)
        add_study_key(folder / cell)
    live_run(folder / LIVE_CELL, epochs=2)
    add_study_key(folder / LIVE_CELL)
    record = {"study": STUDY, "file": STUDY_FILE, "cells_planned": 4,
              "cells": {"betaH-s1": {"attempts": 1, "error": ""},
                        "btcvae-s2": {"attempts": 2, "error": "Traceback (most recent call last):\n"
                                                              "RuntimeError: the loss diverged"}}}
    (folder / "study.json").write_text(json.dumps(record))
    (folder / ".study" / "logs").mkdir(parents=True)
    (folder / ".study" / "logs" / "betaH-s1.log").write_text("training...\n")
    if report:
        write_report(folder)
    return folder


@pytest.fixture
def results(tmp_path: Path, tiny_run: Path) -> Path:
    """A plain run beside the study ``mystudy``."""
    root = tmp_path / "results"
    root.mkdir()
    shutil.copytree(tiny_run, root / "plain")
    make_study(root / STUDY, tiny_run)
    return root


def cell_key(cell: str) -> str:
    return f"{STUDY}/{cell}"


def study_view(screen: BrowseScreen) -> StudyView:
    assert screen.study_view is not None
    return screen.study_view


def study_text(screen: BrowseScreen) -> str:
    view = study_view(screen)
    return text_of(view.query_one("#study-status", Static)) + text_of(view.query_one("#study-body", Static))


def counts(screen: BrowseScreen) -> str:
    """The study view's line of cells counted by state."""
    return next((line.strip() for line in study_text(screen).splitlines() if line.startswith("cells: ")), "")


def summary_rows(screen: BrowseScreen) -> list[list[str]]:
    table = study_view(screen).query_one("#study-summary", DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def spec_of(folder: Path) -> dict[str, object]:
    return json.loads((folder / "specs.json").read_text())


# --------------------------------------------------------------------------- the run list


def test_cells_are_listed_under_their_study_and_open_as_runs(results):
    spec = spec_of(results / "plain")

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        # The study's cells by state, as `dvae study status` counts them (counted after the scan, in a worker)
        await until(pilot, lambda: table_rows(screen)[f"{STUDY}/"][2] == "2 done, 1 running, 1 failed")
        rows = table_rows(screen)
        assert list(rows) == [f"{STUDY}/", *[cell_key(c) for c in (*DONE_CELLS, LIVE_CELL)], "plain"]   # by name
        assert rows[f"{STUDY}/"][1] == f"{STUDY}/"
        assert rows[cell_key("betaH-s1")][1:] == ["├ betaH-s1", "finished", "1/1", spec["dataset"], spec["loss"]]
        assert rows[cell_key("betaH-s2")][1:3] == ["├ betaH-s2", "finished"]
        assert rows[cell_key(LIVE_CELL)][1:4] == [f"└ {LIVE_CELL}", "training", "2/50"]
        assert "4 runs (1 study)" in status_text(screen) and "1 training" in status_text(screen)

        await select(pilot, screen, cell_key("betaH-s1"))          # a cell is a run like any other
        assert screen.query_one(TabbedContent).display and not study_view_shown(screen)
        assert f"{cell_key('betaH-s1')}  finished" in overview_status(screen)
        assert "model.pt" in overview_text(screen) and "study" in overview_text(screen)
        await pilot.press("2")
        assert screen.query_one("#loss-plot", LossPlot).series
        await pilot.press("3")
        assert f"dvae eval {cell_key('betaH-s1')} --metrics" in text_of(screen.query_one("#metrics-title", Static))

        table = screen.query_one(RunTable)
        await pilot.press("slash", *"s2", "enter")                 # the filter keeps a match's study
        assert table.shown == [f"{STUDY}/", cell_key("betaH-s2")]
        await pilot.press("slash", "backspace", "backspace", *STUDY, "enter")   # and a study's name its cells
        assert table.shown == [f"{STUDY}/", *[cell_key(c) for c in (*DONE_CELLS, LIVE_CELL)]]
        await pilot.press("slash", "escape")
        await pilot.press("s", "s", "s", "s")                      # by status: runs, then studies, their cells sorted
        assert table.sort_key == "status"
        assert table.shown == ["plain", f"{STUDY}/", cell_key(LIVE_CELL), *[cell_key(c) for c in DONE_CELLS]]
        assert table_rows(screen)[cell_key(LIVE_CELL)][1] == f"├ {LIVE_CELL}"
        assert table_rows(screen)[cell_key("betaH-s2")][1] == "└ betaH-s2"

    browse(results, scenario)


def study_view_shown(screen: BrowseScreen) -> bool:
    return screen.study_view is not None and screen.study_view.display


#: A study of two cells, each scored by MIG once trained (``dvae study``'s evaluation plan).
SCORED_STUDY = """
[study]
name = "scored"
seeds = 2
metrics = ["mig"]
udr = false
[study.params]
epochs = 2
[study.grid]
loss = ["betaH"]
"""


def finished_cell(plan: StudyPlan, results: Path, name: str) -> Path:
    """A cell whose training finished, as its run folder records it (no model trained), not scored yet."""
    folder = study_dir(plan, results) / name
    folder.mkdir(parents=True)
    (folder / "specs.json").write_text(json.dumps({"dataset": "sprites", "loss": "betaH", "epochs": 2,
                                                   "study": plan.record(plan.cell(name))}))
    (folder / "model.pt").write_bytes(b"")
    (folder / "outcome.json").write_text(json.dumps({"state": "finished", "step": 16, "epoch": 2}))
    return folder


def test_the_study_row_counts_the_cells_by_the_states_of_study_status(tmp_path):
    """A trained cell without its scores is ``trained`` in the run list's row, as in ``dvae study status``
    and the study view, not ``done``."""
    file = tmp_path / "scored.toml"
    file.write_text(SCORED_STUDY)
    plan = load_study(file)
    results = tmp_path / "results"
    scored, _unscored = (finished_cell(plan, results, cell.name) for cell in plan.cells)
    (scored / "metrics.log").write_text(json.dumps({"MIG": 0.1}))
    StudyRecord(study_dir(plan, results)).save(plan)   # as `dvae study run` does: the evaluation plan recorded
    status = CliRunner().invoke(cli_app, ["study", "status", str(file), "--results-dir", str(results)],
                                env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output
    said = re.search(r"study scored: (.+)", status.output)
    assert said is not None and said.group(1).strip() == "1 done, 1 trained", status.output

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        row = lambda: table_rows(screen)["scored/"][2]   # noqa: E731
        await until(pilot, lambda: row() == said.group(1).strip())
        assert [table_rows(screen)[f"scored/{cell.name}"][2] for cell in plan.cells] == ["finished", "finished"]
        await select(pilot, screen, "scored/")
        assert counts(screen) == "cells: 1 done · 1 trained"
        assert row() == "1 done, 1 trained"

    browse(results, scenario)


# --------------------------------------------------------------------------- the study view


def test_the_study_view_shows_the_cells_by_state_the_summary_table_and_the_figures(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        assert screen.loaded == f"{STUDY}/"                         # the first row: selected at start
        await select(pilot, screen, f"{STUDY}/")
        assert study_view_shown(screen) and not screen.query_one(TabbedContent).display
        text = study_text(screen)
        assert f"{STUDY}/  study ({STUDY_FILE})  3 cells of 4 planned" in text
        assert counts(screen) == "cells: 2 done · 1 running · 1 failed"
        assert "btcvae-s2: RuntimeError: the loss diverged" in text     # the last line of the error
        assert "report/: cells.csv, report.md, summary.csv, 1 figure" in text
        table = study_view(screen).query_one("#study-summary", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["setting", "loss", "score", "mean", "median",
                                                                  "std", "n"]
        assert summary_rows(screen) == [["betaH", "betaH", "MIG", "0.25", "0.25", "0.07071", "2"],
                                        ["betaH", "betaH", "test.recon_loss", "812.5", "812.5", "3.536", "2"],
                                        ["btcvae", "btcvae", "MIG", "-", "-", "-", "0"]]
        viewer = study_view(screen).query_one(FigureViewer)
        assert [e.file for e in viewer.entries] == ["box_MIG.png"]   # only the report's figures
        await until(pilot, lambda: viewer.figure is not None)
        assert viewer.figure is not None and viewer.figure.path == results / STUDY / "report" / "box_MIG.png"
        assert viewer.figure.size == (40, 24)

        tab = screen.query_one(TabbedContent).active
        await pilot.press("4", "g")                               # the run tabs' keys do nothing here
        assert screen.query_one(TabbedContent).active == tab and not screen.query_one(TabbedContent).display
        await pilot.press("tab")                                   # into the summary table, then back
        assert screen.focused is table
        await pilot.press("escape")
        assert screen.focused is screen.query_one(RunTable)
        await pilot.press("o")
        assert isinstance(pilot.app.screen, PathScreen)
        assert pilot.app.screen.query_one(Input).value == str((results / STUDY).resolve())
        await pilot.press("escape", "question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        assert "studies (dvae study)" in text_of(pilot.app.screen.query(Static)[1])
        await pilot.press("escape")

        await pilot.press("down")                                  # back to a run: the tabs again
        await until(pilot, lambda: screen.loaded == cell_key("betaH-s1"))
        await settle(pilot)
        assert screen.query_one(TabbedContent).display and not study_view_shown(screen)
        assert "betaH-s1" in overview_status(screen)

    browse(results, scenario)


def test_marking_a_study_marks_its_cells_for_compare_mode(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        table = screen.query_one(RunTable)
        await select(pilot, screen, f"{STUDY}/")
        await pilot.press("m")
        cells = [cell_key(c) for c in (*DONE_CELLS, LIVE_CELL)]
        assert table.marked == set(cells) and table_rows(screen)[f"{STUDY}/"][0] == "●"
        assert "3 marked" in status_text(screen)
        await pilot.press("c")
        compare = pilot.app.screen
        assert isinstance(compare, CompareScreen)
        await until(pilot, lambda: len(compare.details) == 3)
        assert [str(c.label) for c in compare.query_one(DataTable).columns.values()] == ["", *cells]
        await pilot.press("escape")
        await pilot.press("m")                                     # all marked: m unmarks them all
        assert not table.marked and table_rows(screen)[f"{STUDY}/"][0] == " "

    browse(results, scenario)


def test_browsing_the_study_folder_itself(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        rows = table_rows(screen)
        assert list(rows) == [f"{STUDY}/", *DONE_CELLS, LIVE_CELL]   # report/ and .study/ are no runs
        assert rows["betaH-s1"][1:3] == ["├ betaH-s1", "finished"]
        assert screen.loaded == f"{STUDY}/"                         # the first row: the study
        assert counts(screen) == "cells: 2 done · 1 running · 1 failed"
        assert len(summary_rows(screen)) == 3
        await select(pilot, screen, "betaH-s2")
        assert "betaH-s2  finished" in overview_status(screen)

    browse(results / STUDY, scenario)


def test_a_missing_report_or_a_broken_study_json_never_stops_the_app(tmp_path, tiny_run):
    root = tmp_path / "results"
    make_study(root / "noreport", tiny_run, report=False)
    broken = make_study(root / "broken", tiny_run, report=False)
    (broken / "study.json").write_text('{"study": "broken", "cells": ')
    (broken / "report").mkdir()
    (broken / "report" / "summary.csv").write_bytes(b"\xff\xfe\x00garbage")
    (broken / "report" / "box_MIG.png").write_bytes(b"not a png")
    shipped = make_study(root / "shipped", tiny_run, report=False)
    (shipped / "study.json").write_text(json.dumps({"study": "sprites-mini", "file": "/repo/studies.toml",
                                                    "cells_planned": "three", "cells": ["not", "a", "dict"]}))

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        rows = table_rows(screen)
        assert [key for key in rows if key.endswith("/")] == ["broken/", "noreport/", "shipped/"]
        await until(pilot, lambda: table_rows(screen)["broken/"][2] == "2 done, 1 running")   # the cells found
        assert table_rows(screen)["shipped/"][2] == "2 done, 1 running"   # cells_planned not a count: the same
        await select(pilot, screen, "noreport/")
        assert f"No report yet: dvae study report {STUDY_FILE} makes it." in study_text(screen)
        assert not study_view(screen).query_one("#study-summary").display
        assert not study_view(screen).query_one(FigureViewer).display
        await select(pilot, screen, "shipped/")                    # a study of studies.toml: named, not its file
        assert "No report yet: dvae study report sprites-mini makes it." in study_text(screen)
        assert "3 cells of ? planned" in study_text(screen)
        await select(pilot, screen, "broken/")
        text = study_text(screen)
        assert "study.json: " in text and "is not valid JSON" in text
        assert "report/summary.csv: " in text and "cannot read" in text
        assert "broken/" in status_text(screen) and "is not valid JSON" in status_text(screen)
        viewer = study_view(screen).query_one(FigureViewer)
        await until(pilot, lambda: "cannot read" in text_of(viewer.query_one("#figure-missing", Static)))
        await select(pilot, screen, "broken/betaH-s1")              # its cells open as usual
        assert "broken/betaH-s1  finished" in overview_status(screen)

    browse(root, scenario)


# --------------------------------------------------------------------------- live


def test_live_updates_of_a_study_and_its_cells(tmp_path, tiny_run):
    root = tmp_path / "results"
    study = make_study(root / STUDY, tiny_run, report=False)

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await select(pilot, screen, f"{STUDY}/")
        with (study / LIVE_CELL / TRAIN_LOG).open("a") as log:     # the training cell logs an epoch
            log.write(epoch_rows(2))
        await until(pilot, lambda: table_rows(screen)[cell_key(LIVE_CELL)][3] == "3/50", timeout=30)
        shutil.copytree(tiny_run, study / "btcvae-s2")             # the last cell appears
        await until(pilot, lambda: cell_key("btcvae-s2") in table_rows(screen), timeout=30)
        assert table_rows(screen)[cell_key("btcvae-s2")][1] == "└ btcvae-s2"
        assert table_rows(screen)[cell_key(LIVE_CELL)][1] == f"├ {LIVE_CELL}"
        await until(pilot, lambda: table_rows(screen)[f"{STUDY}/"][2] == "3 done, 1 running", timeout=30)
        await until(pilot, lambda: counts(screen) == "cells: 3 done · 1 running", timeout=30)
        (study / LIVE_CELL / LOCK_FILE).unlink()                   # the training process is gone
        await until(pilot, lambda: counts(screen) == "cells: 3 done · 1 interrupted", timeout=30)
        await until(pilot, lambda: table_rows(screen)[f"{STUDY}/"][2] == "3 done, 1 interrupted", timeout=30)
        assert "No report yet" in study_text(screen)
        write_report(study)                                        # dvae study report ran
        await until(pilot, lambda: len(summary_rows(screen)) == 3, timeout=30)
        assert "report/: cells.csv, report.md, summary.csv, 1 figure" in study_text(screen)
        viewer = study_view(screen).query_one(FigureViewer)
        await until(pilot, lambda: viewer.figure is not None, timeout=30)
        shutil.rmtree(study)                                       # the study is deleted
        await until(pilot, lambda: not table_rows(screen), timeout=30)
        assert screen.loaded is None and not study_view_shown(screen)

    browse(root, scenario, poll_interval=0.25)


# --------------------------------------------------------------------------- plain results dirs, the watcher


def test_a_plain_results_dir_is_browsed_as_before(tmp_path):
    results = make_results(tmp_path / "results")

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        assert list(table_rows(screen)) == sorted([*REFERENCE_RUNS, LIVE, BROKEN])
        assert "6 runs · sorted by name" in status_text(screen) and "stud" not in status_text(screen)
        await pilot.press("question_mark")
        assert "studies" not in text_of(pilot.app.screen.query(Static)[1])
        await pilot.press("escape")
        assert screen.study_view is None

    browse(results, scenario)
    plain, watched = RunWatcher(results).poll_all(), ResultsWatcher(results).poll_all()
    assert [s.name for s in watched.changed] == [s.name for s in plain.changed]
    assert not watched.studies and not watched.study_of


def test_the_watcher_names_cells_by_their_study_and_sees_studies_come_and_go(results, tiny_run):
    watcher = ResultsWatcher(results)
    first = watcher.poll_all()
    cells = [cell_key(c) for c in (*DONE_CELLS, LIVE_CELL)]
    assert sorted(s.name for s in first.changed) == sorted(["plain", *cells])
    assert {s.name: s.path for s in first.changed}[cell_key("betaH-s1")] == results / STUDY / "betaH-s1"
    assert first.study_of == {cell: f"{STUDY}/" for cell in cells}
    [info] = first.studies
    assert (info.key, info.prefix, info.study, info.cells_planned, info.report) == (f"{STUDY}/", f"{STUDY}/",
                                                                                   STUDY, 4, True)
    assert info.errors == {"btcvae-s2": "Traceback (most recent call last):\nRuntimeError: the loss diverged"}
    assert info.attempts == {"betaH-s1": 1, "btcvae-s2": 2}
    again = watcher.poll_all()
    assert not again.found() or [s.name for s in again.changed] == [cell_key(LIVE_CELL)]   # training: re-read
    make_study(results / "second", tiny_run, report=False)
    shutil.rmtree(results / STUDY)
    later = watcher.poll_all()
    assert later.studies_removed == [f"{STUDY}/"] and sorted(later.removed) == sorted(cells)
    assert [i.key for i in later.studies] == ["second/"] and not later.studies[0].report
    assert sorted(later.study_of) == [f"second/{c}" for c in (*DONE_CELLS, LIVE_CELL)]
