"""`dvae browse` driven by a Pilot: the list, filter and sort, every tab, compare mode,
live updates, dialogs and the generate-a-figure worker (the real `dvae plot`).

The results dirs are those of `browse_helpers.make_results`. This module also starts the
tiny dvae run of test_browse_tiny.py in the background, so that it trains meanwhile.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.css.query import NoMatches
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, OptionList, SelectionList, Static, TabbedContent

from dvae_cli.runs.folder import TRAIN_LOG
from dvae_cli.runs.layout import TRAINING_LOCK as LOCK_FILE
from dvae_cli.tui.app import BrowseApp
from dvae_cli.tui.screens.browse import BrowseScreen
from dvae_cli.tui.screens.compare import CompareScreen
from dvae_cli.tui.screens.help import HelpScreen
from dvae_cli.tui.screens.path import PathScreen
from dvae_cli.tui.widgets.figure_viewer import FigureViewer
from dvae_cli.tui.widgets.loss_curves import LossCurves
from dvae_cli.tui.widgets.loss_plot import COLOURS, LossPlot
from dvae_cli.tui.widgets.metrics_view import MetricsView
from dvae_cli.tui.widgets.mutual_info_grid import MutualInfoGrid
from dvae_cli.tui.widgets.plot_legend import SWATCH
from dvae_cli.tui.widgets.run_table import RunTable

from browse_helpers import (BROKEN, IGNORE_PILLOW_WARNING, LIVE, REFERENCE_RUNS, TinyRun, browse, epoch_rows,
                            live_run, make_results, overview_status, overview_text, select, settle, status_text,
                            table_rows, text_of, tiny_run_once, until)

pytestmark = IGNORE_PILLOW_WARNING


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return make_results(tmp_path / "results")


@pytest.fixture(scope="module", autouse=True)
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """Start the tiny run now: it trains while these tests run."""
    return tiny_run_once(tmp_path_factory)


def test_lists_every_run_with_its_status_and_broken_ones_with_the_reason(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        rows = table_rows(screen)
        assert list(rows) == sorted([*REFERENCE_RUNS, LIVE, BROKEN])
        assert rows["VAE_mnist"][1:] == ["VAE_mnist", "finished", "400/400", "mnist", "VAE"]
        assert rows[LIVE][1:] == [LIVE, "training", "3/50", "sprites", "btcvae"]
        assert rows[BROKEN][1:] == [BROKEN, "broken", "-", "-", "-"]
        await select(pilot, screen, BROKEN)
        status = status_text(screen)
        assert "broken_run" in status and "specs.json" in status
        assert "broken" in overview_text(screen) and "specs.json" in overview_text(screen)
        for tab in ("2", "3", "4", "1"):   # every tab of a broken run
            await pilot.press(tab)
            await settle(pilot)
        assert "1 training" in status_text(screen)

    browse(results, scenario)


def test_navigation_filter_and_sort(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        table = screen.query_one(RunTable)
        assert screen.loaded == "VAE_mnist"
        await pilot.press("down", "down")
        await until(pilot, lambda: screen.loaded == BROKEN)
        await pilot.press("slash")
        assert isinstance(screen.focused, Input)
        await pilot.press(*"sprites")
        assert table.shown == ["btcvae_dsprites", LIVE]        # dsprites, sprites: dataset matches
        await pilot.press("enter")
        assert screen.focused is table
        await until(pilot, lambda: screen.loaded == "btcvae_dsprites")
        await pilot.press("slash", *["backspace"] * 7, *"FACTOR")
        assert table.shown == ["factor_chairs"]                 # loss matches, case-insensitively
        await pilot.press("escape")                             # clears the filter
        assert len(table.shown) == 6 and screen.focused is table
        await pilot.press("s")                                  # sort by dataset
        assert table.sort_key == "dataset"
        assert table.shown[:2] == ["betaB_celeba", "factor_chairs"] and table.shown[-1] == BROKEN
        await pilot.press("s", "s", "s")                        # ... loss, epochs, status
        assert table.sort_key == "status" and table.shown[0] == LIVE
        columns = list(table.columns.values())
        header_x = sum(c.get_render_width(table) for c in columns[:3]) + 2
        await pilot.click("#runs", offset=(header_x, 0))        # the "epochs" header
        assert table.sort_key == "epochs"

    browse(results, scenario)


def test_every_tab_of_a_run(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await select(pilot, screen, "btcvae_dsprites")
        text = overview_text(screen)
        for expected in ("data", "model", "loss", "training", "dsprites", "btcvae_B", "train_losses.log",
                         "15.2 KB", "disentangling-vae run, 30/30 epochs"):
            assert expected in text

        await pilot.press("2")
        plot = screen.query_one("#loss-plot", LossPlot)
        assert [s.label for s in plot.series] == ["loss", "recon_loss", "kl_loss"]
        assert len(plot.series[0].points) == 30 and not plot.log_scale
        values = screen.query_one("#loss-values", DataTable)
        test = json.loads((results / "btcvae_dsprites" / "test_losses.log").read_text())
        assert str(values.get_row("recon_loss")[2]) == f"{test['recon_loss']:.4g}"
        await pilot.press("l")
        assert plot.log_scale and plot.hidden > 0               # this loss goes negative: those points are left out
        terms = screen.query_one("#loss-terms", SelectionList)
        terms.focus()
        await pilot.press("down", "down", "down", "down", "space")   # the 5th term: tc_loss or a kl_loss_j
        assert len(plot.series) == 4
        await pilot.press("l")
        assert not plot.log_scale

        await pilot.press("3")
        metrics = screen.query_one(MetricsView)
        assert "No metrics.log" in text_of(metrics.query_one("#metrics-title", Static))
        assert screen.query_one(MutualInfoGrid).matrix is None
        assert "KL per latent" in text_of(metrics.query_one("#kl-title", Static))

        await pilot.press("4")
        viewer = screen.query_one(FigureViewer)
        await until(pilot, lambda: viewer.figure is not None)
        assert viewer.figure is not None and viewer.figure.path.name == "data_samples.png"
        assert viewer.query_one("#figure-image").image is viewer.figure.frames[0]  # type: ignore[attr-defined]
        viewer.query_one("#figure-list").focus()
        files = [e.file for e in viewer.entries]
        await pilot.press(*["down"] * (files.index("posterior_traversals.gif") - files.index("data_samples.png")))
        await until(pilot, lambda: viewer.figure is not None and len(viewer.figure.frames) == 3)
        assert viewer.playing
        await until(pilot, lambda: viewer.frame > 0)            # it plays
        await pilot.press("space")
        assert not viewer.playing
        frame = viewer.frame
        await pilot.press("full_stop")
        assert viewer.frame == (frame + 1) % 3
        await pilot.press("comma", "comma")
        assert viewer.frame == (frame + 2) % 3
        await pilot.pause(0.3)
        assert viewer.frame == (frame + 2) % 3                  # paused
        await pilot.press(*["up"] * files.index("posterior_traversals.gif"))   # a missing figure: how to make it
        assert viewer.current is not None and viewer.current.file == "samples.png"
        assert "dvae plot btcvae_dsprites generate-samples" in text_of(viewer.query_one("#figure-missing", Static))
        assert str(viewer.query_one("#figure-list", OptionList).get_option_at_index(0).prompt).startswith("✗ ")
        await pilot.press(*["down"] * files.index("training.gif"))   # missing, and not dvae plot's to make
        assert viewer.current is not None and viewer.current.file == "training.gif"
        prompt = viewer.query_one("#figure-list", OptionList).get_option_at_index(files.index("training.gif")).prompt
        assert str(prompt).startswith("- ")
        missing = text_of(viewer.query_one("#figure-missing", Static))
        assert "dvae train" in missing and "Press g" not in missing
        await pilot.press("g")
        assert viewer.generating is None

    browse(results, scenario)


def boxes(terms: SelectionList) -> dict[str, str]:
    """The checkbox of each term on screen, as the characters drawn (colours left out)."""
    shown = range(terms.scroll_offset.y, min(terms.option_count, terms.scroll_offset.y + terms.size.height))
    return {str(terms.get_option_at_index(i).value): terms.render_line(i - terms.scroll_offset.y).text[:3]
            for i in shown}


def test_term_boxes_show_their_state_by_a_glyph(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await select(pilot, screen, "btcvae_dsprites")
        await pilot.press("2")
        terms = screen.query_one("#loss-terms", SelectionList)
        drawn = boxes(terms)
        assert list(drawn)[:4] == ["loss", "recon_loss", "kl_loss", "dw_kl_loss"]
        assert drawn["loss"] == "▐X▌" and drawn["dw_kl_loss"] == "▐ ▌"   # shown, hidden: not only a colour
        terms.focus()
        await pilot.press("space", "down", "down", "down", "space")   # hide loss, show dw_kl_loss
        drawn = boxes(terms)
        assert (drawn["loss"], drawn["recon_loss"], drawn["dw_kl_loss"]) == ("▐ ▌", "▐X▌", "▐X▌")
        assert [s.label for s in screen.query_one("#loss-plot", LossPlot).series] == ["recon_loss", "kl_loss",
                                                                                     "~dw_kl_loss"]   # an estimate

    browse(results, scenario)


def test_the_legend_names_every_curve_in_its_colour(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await select(pilot, screen, "btcvae_dsprites")
        await pilot.press("2")
        screen.query_one("#loss-terms").focus()
        await pilot.press("down", "down", *["down", "space"] * 7)     # 7 more terms: 10 curves
        plot, legend = screen.query_one("#loss-plot", LossPlot), screen.query_one("#loss-chart PlotLegend")
        labels = [s.label for s in plot.series]
        assert len(labels) == 10 and [label for label, _ in plot.drawn] == labels

        def entries() -> list[tuple[str, tuple[int, int, int] | None]]:
            """(name, colour of its swatch) of each legend entry as drawn on screen."""
            found = []
            for y in range(legend.size.height):
                segments = list(legend.render_line(y))
                for i, segment in enumerate(segments):
                    if segment.text.strip() == SWATCH:
                        colour = segment.style.color if segment.style else None
                        name = "".join(s.text for s in segments[i + 1:]).split()[0]
                        found.append((name, colour.get_truecolor() if colour else None))
            return found

        assert entries() == [(label, COLOURS[i % len(COLOURS)]) for i, label in enumerate(labels)]
        assert not any(label in plot.render_line(y).text for label in labels for y in range(plot.size.height))
        await pilot.press("l")                                  # log scale: the terms < 0 everywhere go
        assert plot.not_drawn and [name for name, _ in entries()] == [label for label, _ in plot.drawn]
        note = "".join(legend.render_line(y).text for y in range(legend.size.height))
        assert all(label in note for label in plot.not_drawn) and "not drawn" in note

    browse(results, scenario, size=(110, 30))   # a small terminal, where plotext's legend is left out


@pytest.mark.slow
def test_tab_keys_and_escape_from_inside_a_tab(results):
    keys = {"overview": "1", "losses": "2", "metrics": "3", "images": "4"}
    inside = {"losses": ("#loss-terms", "#loss-values"), "metrics": ("#metrics-table",), "images": ("#figure-list",)}

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        tabs, table = screen.query_one(TabbedContent), screen.query_one(RunTable)

        async def focus_inside(tab: str, selector: str) -> None:
            await pilot.press(keys[tab])
            screen.query_one(selector).focus()
            await pilot.pause()
            assert tabs.active == tab and screen.focused is screen.query_one(selector)

        await select(pilot, screen, "btcvae_dsprites")
        for tab, selectors in inside.items():
            for selector in selectors:
                for other, key in keys.items():
                    if other != tab:
                        await focus_inside(tab, selector)
                        await pilot.press(key)
                        await settle(pilot)
                        assert (tabs.active, screen.focused) == (other, table), (selector, key)
                await focus_inside(tab, selector)
                await pilot.press("escape")                     # leaves the list, stays on the tab
                assert (tabs.active, screen.focused) == (tab, table), selector
        await focus_inside("losses", "#loss-terms")
        await pilot.press("down", "space")                      # the term list still takes its own keys
        assert [s.label for s in screen.query_one("#loss-plot", LossPlot).series] == ["loss", "kl_loss"]

    browse(results, scenario)


def test_compare_marked_runs(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await pilot.press("c")                                   # nothing marked: a notice, no screen
        assert not isinstance(pilot.app.screen, CompareScreen)
        await pilot.press("m", "down", "m", "down", "down", "m")  # VAE_mnist, betaB_celeba, btcvae_dsprites
        assert screen.query_one(RunTable).marked == {"VAE_mnist", "betaB_celeba", "btcvae_dsprites"}
        assert "3 marked" in status_text(screen)
        await pilot.press("c")
        compare = pilot.app.screen
        assert isinstance(compare, CompareScreen)
        await until(pilot, lambda: len(compare.details) == 3)
        plot = compare.query_one(LossPlot)
        assert [s.label for s in plot.series] == ["VAE_mnist", "betaB_celeba", "btcvae_dsprites"]
        assert [len(s.points) for s in plot.series] == [400, 200, 30]
        table = compare.query_one(DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["", "VAE_mnist", "betaB_celeba",
                                                                   "btcvae_dsprites"]
        assert [str(c) for c in table.get_row("dataset")[1:]] == ["mnist", "celeba", "dsprites"]
        assert [str(c) for c in table.get_row("epochs")[1:]] == ["400/400", "200/200", "30/30"]
        assert "test recon_loss" in [str(k.value) for k in table.rows]
        terms = compare.query_one(SelectionList)
        terms.focus()
        await pilot.press("down", "space")                       # add recon_loss
        assert [s.label for s in plot.series][:2] == ["VAE_mnist:loss", "VAE_mnist:recon_loss"]
        assert boxes(terms)["recon_loss"] == "▐X▌" and boxes(terms)["kl_loss"] == "▐ ▌"
        await pilot.press("l")
        assert plot.log_scale
        await pilot.press("escape")
        assert pilot.app.screen is screen

    browse(results, scenario)


def test_live_update_of_a_run_being_trained(results):
    disagreements: list[str] = []
    watching = False

    def list_and_overview_agree(app: BrowseApp, message: Message) -> None:
        """Before every message: the Overview's status line says what the list says of the run shown."""
        screen = app.screen_stack[-1] if app.screen_stack else None
        if not watching or not isinstance(screen, BrowseScreen) or screen.loaded is None:
            return
        try:
            table, header = screen.query_one(RunTable), overview_status(screen)
        except NoMatches:
            return   # still composing
        if screen.loaded not in table.shown:
            return
        status, epochs = (str(cell) for cell in table.get_row(screen.loaded)[2:4])
        if f"  {status}" not in header or epochs != "-" and f"{epochs} epochs" not in header:
            disagreements.append(f"list: {status} {epochs}; overview: {header.strip()}")

    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        nonlocal watching
        watching = True
        await select(pilot, screen, LIVE)
        await pilot.press("2")
        plot = screen.query_one("#loss-plot", LossPlot)
        assert len(plot.series[0].points) == 3
        with (results / LIVE / TRAIN_LOG).open("a") as log:      # the trainer logs epoch 4
            log.write(epoch_rows(3))
        await until(pilot, lambda: table_rows(screen)[LIVE][3] == "4/50", timeout=5)
        assert "4/50 epochs" in overview_status(screen)            # the same message updated both
        await until(pilot, lambda: len(plot.series[0].points) == 4, timeout=5)
        assert plot.series[0].points[-1] == (3, 900 / 4)
        assert screen.query_one(LossCurves).summary is not None
        live_run(results / "started_now", epochs=1)             # a run that starts while we watch
        await until(pilot, lambda: "started_now" in table_rows(screen), timeout=5)
        assert table_rows(screen)["started_now"][2:4] == ["training", "1/50"]
        (results / LIVE / LOCK_FILE).unlink()                    # the trainer stops without model.pt
        await until(pilot, lambda: table_rows(screen)[LIVE][2] == "interrupted", timeout=5)
        assert "4 of 50 epochs" in overview_status(screen)
        watching = False   # the app closes after this: its widgets go

    browse(results, scenario, poll_interval=0.25, message_hook=list_and_overview_agree)
    assert not disagreements, disagreements[:3]


def test_path_dialog_and_help(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await pilot.press("down")
        await until(pilot, lambda: screen.loaded == "betaB_celeba")
        await pilot.press("o")
        assert isinstance(pilot.app.screen, PathScreen)
        path = str((results / "betaB_celeba").resolve())
        assert pilot.app.clipboard == path
        assert pilot.app.screen.query_one(Input).value == path
        await pilot.press("escape")
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        await pilot.press("escape")
        assert pilot.app.screen is screen
        await pilot.press("r")
        await settle(pilot)
        assert len(table_rows(screen)) == 6

    browse(results, scenario)


def test_generate_a_missing_figure_with_the_real_plot_command(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await select(pilot, screen, "VAE_mnist")
        await pilot.press("4")
        viewer = screen.query_one(FigureViewer)
        viewer.query_one("#figure-list").focus()
        files = [e.file for e in viewer.entries]
        await pilot.press(*["down"] * files.index("losses.png"))
        assert viewer.current is not None and viewer.current.file == "losses.png" and not viewer.current.present
        await pilot.press("g")
        assert viewer.generating == "losses.png"
        log = viewer.query_one("#figure-log")
        assert log.display and "dvae plot" in log.lines[0] and "losses" in log.lines[0]
        await pilot.press("1")                                  # the UI answers while dvae plot runs
        assert screen.query_one("#tabs").active == "overview"
        await pilot.press("4")
        await until(pilot, lambda: viewer.generating is None, timeout=90)
        assert (results / "VAE_mnist" / "losses.png").is_file(), "\n".join(log.lines)
        await until(pilot, lambda: viewer.figure is not None and viewer.figure.path.name == "losses.png")
        assert viewer.current is not None and viewer.current.present

    browse(results, scenario)
