"""Results dirs and a Pilot driver for the `dvae browse` tests (test_browse*.py).

A results dir holds the reference's four runs (tests/fixtures), a GIF in one of them, a
run still being written (a training lock held by this process, three epochs logged) and
a broken folder (a corrupt specs.json). `TinyRun` trains and evaluates a tiny dvae run
with the real CLI in the background while the other tests run.
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
from textual.message import Message
from textual.pilot import Pilot
from textual.widgets import Static
from textual_image.widget import HalfcellImage

from dvae_cli.runs.folder import TRAIN_LOG
from dvae_cli.runs.layout import TRAINING_LOCK as LOCK_FILE
from dvae_cli.tui.app import BrowseApp
from dvae_cli.tui.screens.browse import BrowseScreen
from dvae_cli.tui.widgets.run_table import RunTable

from conftest import FIXTURES, REFERENCE_RUNS
from tiny_runs import tiny_flags

#: textual-image 0.12 (the last for Python 3.11) calls a Pillow method deprecated in Pillow 12.
IGNORE_PILLOW_WARNING = pytest.mark.filterwarnings("ignore:Image.Image.getdata is deprecated:DeprecationWarning")

SIZE = (160, 48)
LIVE = "live_run"
BROKEN = "broken_run"


# --------------------------------------------------------------------------- results dirs


def live_run(folder: Path, epochs: int = 3) -> Path:
    """A dvae run still being written: its spec, `epochs` epochs logged, a lock held by this process."""
    folder.mkdir(parents=True)
    spec = json.loads((FIXTURES / "btcvae_dsprites" / "specs.json").read_text())
    spec.update(name=folder.name, dataset="sprites", epochs=50, dvae_version="0.1.0", experiment="custom")
    (folder / "specs.json").write_text(json.dumps(spec, indent=4))
    (folder / TRAIN_LOG).write_text("Epoch,Loss,Value\n" + "".join(epoch_rows(e) for e in range(epochs)))
    (folder / LOCK_FILE).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                "time": time.time()}))
    return folder


def epoch_rows(epoch: int) -> str:
    terms = {"loss": 900 / (epoch + 1), "recon_loss": 800 / (epoch + 1), "kl_loss": 10 + epoch,
             "kl_loss_0": 4 + epoch, "kl_loss_1": 0.01}
    return "".join(f"{epoch},{term},{value}\n" for term, value in terms.items())


def write_gif(path: Path, frames: int = 3) -> None:
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
    write_gif(root / "btcvae_dsprites" / "posterior_traversals.gif")
    live_run(root / LIVE)
    (root / BROKEN).mkdir()
    (root / BROKEN / "specs.json").write_text('{"loss": "betaB", "epochs": ')
    (root / "not-a-run").mkdir()   # no spec, no log, no model: not listed
    return root


class TinyRun:
    """A tiny dvae run trained and evaluated (MIG, AAM) by the real CLI in a background thread."""

    def __init__(self, root: Path) -> None:
        self.results, self.data = root / "results", root / "data"
        self.outputs: list[subprocess.CompletedProcess[str]] = []
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        common = ["--results-dir", str(self.results), "--data-dir", str(self.data)]
        for args in (["train", "tiny", *tiny_flags(dataset="sprites", epochs=2, latent_dim=10)],
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


_TINY: list[TinyRun] = []


def tiny_run_once(tmp_path_factory: pytest.TempPathFactory) -> TinyRun:
    """The session's tiny run, started by the first test module that asks (test_browse.py)."""
    if not _TINY:
        _TINY.append(TinyRun(tmp_path_factory.mktemp("tiny")))
    return _TINY[0]


# --------------------------------------------------------------------------- driving the app


def browse(results_dir: Path, scenario: Callable[[Pilot, BrowseScreen], Awaitable[None]],
           poll_interval: float = 0, size: tuple[int, int] = SIZE, data_dir: Path | None = None,
           message_hook: Callable[[BrowseApp, Message], None] | None = None) -> BrowseApp:
    """Run the app headless with half-cell images, play `scenario`, return the app.

    `message_hook(app, message)` is called before any widget handles any message (Textual's hook).
    """
    app = BrowseApp(results_dir, image_class=HalfcellImage, poll_interval=poll_interval, data_dir=data_dir)
    hook = None if message_hook is None else lambda message: message_hook(app, message)

    async def main() -> None:
        async with app.run_test(size=size, message_hook=hook) as pilot:
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
    return overview_status(screen) + text_of(screen.query_one("#overview-body", Static))


def overview_status(screen: BrowseScreen) -> str:
    """The status line at the top of the Overview tab."""
    status = screen.query_one("#overview-status", Static)
    return text_of(status) if status.display else ""


def status_text(screen: BrowseScreen) -> str:
    return text_of(screen.query_one("#runs-status", Static))
