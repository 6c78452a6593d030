"""`dvae browse` on a tiny dvae run trained and evaluated for real (MIG, AAM) by the CLI, and
a figure made from it by the real `dvae plot` through the Images tab's `g`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from dvae_cli.tui.screens.browse import BrowseScreen
from dvae_cli.tui.widgets.figure_viewer import FigureViewer
from dvae_cli.tui.widgets.loss_plot import LossPlot
from dvae_cli.tui.widgets.mutual_info_grid import MutualInfoGrid

from browse_helpers import (IGNORE_PILLOW_WARNING, TinyRun, browse, make_results, overview_text, select, table_rows,
                            text_of, tiny_run_once, until)

pytestmark = IGNORE_PILLOW_WARNING


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return make_results(tmp_path / "results")


@pytest.fixture
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    return tiny_run_once(tmp_path_factory)


def test_a_real_tiny_run_with_real_metrics(results, tiny_run):
    shutil.copytree(tiny_run.folder(), results / "tiny")

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        assert table_rows(screen)["tiny"][1:] == ["tiny", "finished", "2/2", "sprites", "betaB"]
        await select(pilot, screen, "tiny")
        assert "dvae run, 2/2 epochs" in overview_text(screen) and "model.pt" in overview_text(screen)
        await pilot.press("2")
        plot = screen.query_one("#loss-plot", LossPlot)
        assert [len(s.points) for s in plot.series] == [2, 2, 2]
        await pilot.press("3")
        table = screen.query_one("#metrics-table", DataTable)
        assert {str(k.value) for k in table.rows} == {"MIG", "AAM"}
        assert "images" in str(table.get_row("MIG")[2])
        grid = screen.query_one(MutualInfoGrid)
        assert grid.matrix is not None
        assert grid.matrix.factors == ["scale", "orientation", "posX", "posY"]
        assert grid.matrix.latents == [f"z{j}" for j in range(10)] and len(grid.matrix.values[0]) == 10
        assert all(g is not None for g in grid.matrix.gap)

    browse(results, scenario)


@pytest.mark.slow
def test_g_makes_the_posterior_traversals_the_images_tab_offers(results, tiny_run):
    shutil.copytree(tiny_run.folder(), results / "tiny")

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await select(pilot, screen, "tiny")
        await pilot.press("4")
        viewer = screen.query_one(FigureViewer)
        viewer.query_one("#figure-list").focus()
        files = [e.file for e in viewer.entries]
        assert viewer.current is not None
        steps = files.index("posterior_traversals.png") - files.index(viewer.current.file)   # from training.gif
        await pilot.press(*["down" if steps > 0 else "up"] * abs(steps))
        assert viewer.current.file == "posterior_traversals.png" and not viewer.current.present
        assert "dvae plot tiny traversals --posterior" in text_of(viewer.query_one("#figure-missing", Static))
        await pilot.press("g")
        assert viewer.generating == "posterior_traversals.png"
        await until(pilot, lambda: viewer.generating is None, timeout=120)
        log = "\n".join(viewer.query_one("#figure-log").lines)   # type: ignore[attr-defined]
        assert (results / "tiny" / "posterior_traversals.png").is_file(), log
        await until(pilot, lambda: viewer.figure is not None and viewer.figure.path.name == "posterior_traversals.png")
        assert viewer.current is not None and viewer.current.present

    browse(results, scenario, data_dir=tiny_run.data)
