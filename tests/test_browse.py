"""`dvae browse`: the readers it uses, the CLI, and the app driven by a Pilot and snapshots.

The results dir of each test holds the reference's four runs (tests/fixtures), a run still
being written (a training lock held by this process, three epochs logged) and a broken
folder (a corrupt specs.json); the tests at the end add a tiny dvae run trained and
evaluated for real in the background while the others run.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, SelectionList, Static
from textual_image.widget import HalfcellImage

from dvae_cli.runs.folder import TRAIN_LOG
from dvae_cli.runs.logs import read_train_log
from dvae_cli.runs.summary import LOCK_FILE, summarize_run
from dvae_cli.runs.watch import RunWatcher, quick_summary, read_last_epoch
from dvae_cli.tui.app import BrowseApp
from dvae_cli.tui.data.details import load_details, spec_groups
from dvae_cli.tui.data.figures import decode_figure, figure_entries
from dvae_cli.tui.screens.browse import BrowseScreen
from dvae_cli.tui.screens.compare import CompareScreen
from dvae_cli.tui.screens.help import HelpScreen
from dvae_cli.tui.screens.path import PathScreen
from dvae_cli.tui.widgets.figure_viewer import FigureViewer
from dvae_cli.tui.widgets.loss_curves import LossCurves
from dvae_cli.tui.widgets.loss_plot import LossPlot
from dvae_cli.tui.widgets.metrics_view import MetricsView
from dvae_cli.tui.widgets.mutual_info_grid import MutualInfoGrid
from dvae_cli.tui.widgets.run_table import RunTable

from conftest import FIXTURES, REFERENCE_RUNS, run_dvae

#: textual-image 0.12 (the last for Python 3.11) calls a Pillow method deprecated in Pillow 12.
pytestmark = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")

SIZE = (160, 48)
LIVE = "live_run"
BROKEN = "broken_run"
#: Every file of the snapshot results dir gets this modification time (2024-01-02 03:04 UTC).
FIXED_TIME = 1704164640


# --------------------------------------------------------------------------- results dirs


def _live_run(folder: Path, epochs: int = 3) -> Path:
    """A dvae run still being written: its spec, `epochs` epochs logged, a lock held by this process."""
    folder.mkdir(parents=True)
    spec = json.loads((FIXTURES / "btcvae_dsprites" / "specs.json").read_text())
    spec.update(name=folder.name, dataset="sprites", epochs=50, dvae_version="0.1.0", experiment="custom")
    (folder / "specs.json").write_text(json.dumps(spec, indent=4))
    (folder / TRAIN_LOG).write_text("Epoch,Loss,Value\n" + "".join(_epoch_rows(e) for e in range(epochs)))
    (folder / LOCK_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                "time": time.time()}))
    return folder


def _epoch_rows(epoch: int) -> str:
    terms = {"loss": 900 / (epoch + 1), "recon_loss": 800 / (epoch + 1), "kl_loss": 10 + epoch,
             "kl_loss_0": 4 + epoch, "kl_loss_1": 0.01}
    return "".join(f"{epoch},{term},{value}\n" for term, value in terms.items())


def _gif(path: Path, frames: int = 3) -> None:
    """A small animated GIF (a square moving right), as `dvae plot gif-traversals` would write one."""
    images = []
    for k in range(frames):
        pixels = np.zeros((32, 48, 3), np.uint8)
        pixels[8:24, 4 + 12 * k:16 + 12 * k] = (255, 200, 40)
        images.append(PILImage.fromarray(pixels))
    images[0].save(path, save_all=True, append_images=images[1:], duration=80, loop=0)


def make_results(root: Path) -> Path:
    """The reference runs, a GIF in one of them, a live run and a broken folder under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for name in REFERENCE_RUNS:
        shutil.copytree(FIXTURES / name, root / name)
    _gif(root / "btcvae_dsprites" / "posterior_traversals.gif")
    _live_run(root / LIVE)
    (root / BROKEN).mkdir()
    (root / BROKEN / "specs.json").write_text('{"loss": "betaB", "epochs": ')
    (root / "not-a-run").mkdir()   # no spec, no log, no model: not listed
    return root


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return make_results(tmp_path / "results")


class TinyRun:
    """A tiny dvae run trained and evaluated (MIG, AAM) by the real CLI in a background thread."""

    def __init__(self, root: Path) -> None:
        self.results, self.data = root / "results", root / "data"
        self.outputs: list[subprocess.CompletedProcess[str]] = []
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        common = ["--results-dir", str(self.results), "--data-dir", str(self.data)]
        for args in (["train", "tiny", "-d", "sprites", "--subsample", "256", "-e", "2", "-b", "32", "--no-test",
                      "--device", "cpu"],
                     ["eval", "tiny", "--metrics", "--metric", "mig,aam", "--fast", "--max-images", "500",
                      "--no-test", "--device", "cpu"]):
            # One thread, at low priority: the app tests run meanwhile on the other core.
            self.outputs.append(subprocess.run(
                [sys.executable, "-m", "dvae_cli", *args, *common], capture_output=True, text=True, timeout=600,
                env={**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}, preexec_fn=lambda: os.nice(10)))
            if self.outputs[-1].returncode != 0:
                return

    def folder(self) -> Path:
        self._thread.join(timeout=600)
        for output in self.outputs:
            assert output.returncode == 0, output.stdout + output.stderr
        return self.results / "tiny"


@pytest.fixture(scope="module", autouse=True)
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """Started when this module starts, so the other tests run meanwhile."""
    return TinyRun(tmp_path_factory.mktemp("tiny"))


# --------------------------------------------------------------------------- driving the app


def browse(results_dir: Path, scenario: Callable[[Pilot, BrowseScreen], Awaitable[None]],
           poll_interval: float = 0, size: tuple[int, int] = SIZE) -> BrowseApp:
    """Run the app headless with half-cell images, play `scenario`, return the app."""
    app = BrowseApp(results_dir, image_class=HalfcellImage, poll_interval=poll_interval)

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: isinstance(app.screen, BrowseScreen) and app.screen.scanned)
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, BrowseScreen)
            await scenario(pilot, screen)

    asyncio.run(main())
    return app


async def until(pilot: Pilot, condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Let the app run until `condition()` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the app"
        await pilot.pause(0.05)


async def settle(pilot: Pilot) -> None:
    """Wait for the running workers and the messages they posted."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def table_rows(screen: BrowseScreen) -> dict[str, list[str]]:
    table = screen.query_one(RunTable)
    return {name: [str(cell) for cell in table.get_row(name)] for name in table.shown}


async def select(pilot: Pilot, screen: BrowseScreen, name: str) -> None:
    screen.query_one(RunTable).select(name)
    await until(pilot, lambda: screen.loaded == name)
    await settle(pilot)


def text_of(static: Static) -> str:
    """The plain text of what a Static shows (markup, Rich renderables and all)."""
    content = static.content
    if isinstance(content, str):
        return Text.from_markup(content).plain
    console = Console(width=140, record=True, file=io.StringIO())
    console.print(content)
    return console.export_text()


def overview_text(screen: BrowseScreen) -> str:
    return text_of(screen.query_one("#overview-body", Static))


def status_text(screen: BrowseScreen) -> str:
    return text_of(screen.query_one("#runs-status", Static))


# --------------------------------------------------------------------------- readers (no Textual)


def test_quick_summary_reads_the_tail_and_agrees_with_the_full_summary(results):
    for folder in sorted(p for p in results.iterdir() if p.name != "not-a-run"):
        quick, full = quick_summary(folder), summarize_run(folder)
        assert (quick.status, quick.reason, quick.epochs_done, quick.last_train, quick.kl_per_latent) == \
            (full.status, full.reason, full.epochs_done, full.last_train, full.kl_per_latent), folder.name
    assert quick_summary(results / "VAE_mnist").history["loss"] == [(399, summarize_run(results / "VAE_mnist")
                                                                     .history["loss"][-1][1])]


def test_read_last_epoch_ignores_a_row_being_written(tmp_path):
    log = tmp_path / TRAIN_LOG
    log.write_text("Epoch,Loss,Value\n" + "".join(_epoch_rows(e) for e in range(500)) + "500,recon_lo")
    last = read_last_epoch(log)
    assert last == {term: points[-1:] for term, points in read_train_log(log).items()}
    assert last["loss"] == [(499, 900 / 500)]
    log.write_text("epoch;loss\n")
    with pytest.raises(Exception, match="expected the header"):
        read_last_epoch(log)


def test_watcher_rereads_only_changed_folders_and_sees_new_and_removed_runs(results):
    read: list[str] = []

    def counting(path: Path):
        read.append(path.name)
        return quick_summary(path)

    watcher = RunWatcher(results, summarize=counting)
    first = watcher.poll_all()
    assert sorted(s.name for s in first.changed) == sorted([*REFERENCE_RUNS, LIVE, BROKEN])
    read.clear()
    assert [s.name for s in watcher.poll_all().changed] == [LIVE]
    assert read == [LIVE]   # only the training run is read again (is its process still alive?)
    read.clear()
    with (results / "VAE_mnist" / TRAIN_LOG).open("a") as log:
        log.write("400,loss,1.0\n")
    (results / "new_run").mkdir()
    shutil.copy(results / "betaB_celeba" / "specs.json", results / "new_run" / "specs.json")
    shutil.rmtree(results / "factor_chairs")
    changes = watcher.poll_all()
    assert {s.name for s in changes.changed} - {LIVE} == {"VAE_mnist", "new_run"}
    assert changes.removed == ["factor_chairs"]
    assert next(s for s in changes.changed if s.name == "VAE_mnist").epochs_done == 401


def test_spec_groups_and_figures(results):
    groups = dict(spec_groups(json.loads((results / "btcvae_dsprites" / "specs.json").read_text())))
    assert list(groups)[:4] == ["data", "model", "loss", "training"]
    assert [k for k, _ in groups["loss"]] == ["loss", "rec_dist", "reg_anneal", "btcvae_A", "btcvae_B",
                                              "btcvae_G"]
    assert "betaH_B" in dict(groups["unused by btcvae"])
    entries = {e.file: e for e in figure_entries(["data_samples.png", "posterior_traversals.gif", "other.png"])}
    assert entries["data_samples.png"].present and not entries["samples.png"].present
    assert entries["samples.png"].plot == "generate-samples" and entries["samples.png"].can_generate
    assert not entries["training.gif"].can_generate and entries["other.png"].present
    gif = decode_figure(results / "btcvae_dsprites" / "posterior_traversals.gif")
    assert (len(gif.frames), gif.size, gif.error) == (3, (48, 32), "")
    assert gif.durations == pytest.approx([0.08] * 3)
    assert "cannot read" in decode_figure(results / BROKEN / "specs.json").error
    broken = load_details(results / BROKEN)
    assert broken.summary.status == "broken" and "specs.json" in broken.summary.reason
    assert [f.name for f in broken.files] == ["specs.json"]


# --------------------------------------------------------------------------- the command


def test_browse_command_errors_and_import_hygiene(tmp_path):
    missing = run_dvae("browse", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: results dir ") and missing.stderr.count("\n") == 1
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    listed = run_dvae("--help")
    assert listed.returncode == 0 and "browse" in listed.stdout
    code = ("import sys; from dvae_cli.cli.app import app; import typer.main as m; m.get_command(app); "
            "print(sorted(k for k in ('textual', 'textual_image', 'torch') if k in sys.modules))")
    hygiene = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert hygiene.stdout.strip() == "[]", hygiene.stderr


# --------------------------------------------------------------------------- the app


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
        await pilot.press("l")
        assert plot.log_scale
        await pilot.press("escape")
        assert pilot.app.screen is screen

    browse(results, scenario)


def test_live_update_of_a_run_being_trained(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await select(pilot, screen, LIVE)
        await pilot.press("2")
        plot = screen.query_one("#loss-plot", LossPlot)
        assert len(plot.series[0].points) == 3
        with (results / LIVE / TRAIN_LOG).open("a") as log:      # the trainer logs epoch 4
            log.write(_epoch_rows(3))
        await until(pilot, lambda: table_rows(screen)[LIVE][3] == "4/50", timeout=5)
        await until(pilot, lambda: len(plot.series[0].points) == 4, timeout=5)
        assert plot.series[0].points[-1] == (3, 900 / 4)
        assert screen.query_one(LossCurves).summary is not None
        _live_run(results / "started_now", epochs=1)             # a run that starts while we watch
        await until(pilot, lambda: "started_now" in table_rows(screen), timeout=5)
        assert table_rows(screen)["started_now"][2:4] == ["training", "1/50"]
        (results / LIVE / LOCK_FILE).unlink()                    # the trainer stops without model.pt
        await until(pilot, lambda: table_rows(screen)[LIVE][2] == "interrupted", timeout=5)
        assert "4 of 50 epochs" in overview_text(screen)

    browse(results, scenario, poll_interval=0.25)


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


# --------------------------------------------------------------------------- snapshots


@pytest.fixture
def snapshot_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A results dir named `results`, every file dated FIXED_TIME (UTC), images drawn as half-cells at 10x20 px."""
    from textual_image._terminal import CellSize, get_cell_size

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    monkeypatch.setattr(get_cell_size, "_result", CellSize(10, 20), raising=False)
    root = make_results(tmp_path / "results")
    for path in [root, *root.rglob("*")]:
        os.utime(path, (FIXED_TIME, FIXED_TIME))
    yield Path("results")
    monkeypatch.delenv("TZ")
    time.tzset()


def snapshot_app() -> BrowseApp:
    return BrowseApp(Path("results"), image_class=HalfcellImage, poll_interval=0)


def _before(*keys: str, run: str = "betaB_celeba") -> Callable[[Pilot], Awaitable[None]]:
    async def run_before(pilot: Pilot) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, BrowseScreen) and pilot.app.screen.scanned)
        screen = pilot.app.screen
        assert isinstance(screen, BrowseScreen)
        await select(pilot, screen, run)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        if isinstance(pilot.app.screen, CompareScreen):
            compare = pilot.app.screen
            await until(pilot, lambda: bool(compare.details))
        await settle(pilot)
    return run_before


@pytest.mark.parametrize("keys,run", [
    ((), "betaB_celeba"),                 # the run list and the Overview
    (("2",), "betaB_celeba"),             # Losses
    (("3",), "btcvae_dsprites"),          # Metrics (none yet: what to run)
    (("4",), "btcvae_dsprites"),          # Images: data_samples.png in half-cell blocks
    (("m", "down", "m", "c"), "btcvae_dsprites"),   # compare mode
    (("question_mark",), BROKEN),         # help over a broken run
], ids=["overview", "losses", "metrics", "images", "compare", "help"])
def test_snapshots(snap_compare, snapshot_results, keys, run):
    assert snap_compare(snapshot_app(), terminal_size=SIZE, run_before=_before(*keys, run=run))


# --------------------------------------------------------------------------- a real dvae run


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
