"""Snapshots of the main screens of `dvae browse` (pytest-textual-snapshot).

Everything that could differ between machines is fixed: the results dir is the relative
`results`, every file is dated FIXED_TIME in UTC, figures are drawn as half-cells with
10 x 20 px cells, and nothing is polled.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual_image.widget import HalfcellImage

from dvae_cli.tui.app import BrowseApp
from dvae_cli.tui.screens.browse import BrowseScreen
from dvae_cli.tui.screens.compare import CompareScreen

from browse_helpers import BROKEN, IGNORE_PILLOW_WARNING, SIZE, make_results, select, settle, until

pytestmark = IGNORE_PILLOW_WARNING

#: Every file of the results dir gets this modification time (2024-01-02 03:04 UTC).
FIXED_TIME = 1704164640


@pytest.fixture
def snapshot_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A results dir named `results`, every file dated FIXED_TIME (UTC), images drawn as half-cells at 10x20 px."""
    from textual_image._terminal import CellSize, get_cell_size

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(get_cell_size, "_result", CellSize(10, 20), raising=False)
    root = make_results(tmp_path / "results")
    for path in [root, *root.rglob("*")]:
        os.utime(path, (FIXED_TIME, FIXED_TIME))
    zone = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield Path("results")
    finally:
        if zone is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = zone
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
