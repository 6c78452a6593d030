"""What `dvae browse` says about scores: folders of ``dvae score`` listed beside the runs, estimated loss
terms marked, null scores with their reason, and mixed protocols in compare mode.

The scored folders are written by hand as ``dvae score``'s contract says (metrics.log, metrics_detail.json,
scored.json; no specs.json), with the protocols ``dvae eval --metrics --fast`` writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, SelectionList, Static

from dvae_cli.runs.layout import METRICS_DETAIL, METRICS_LOG, SCORED
from dvae_cli.tui.data.details import load_details
from dvae_cli.tui.screens.browse import BrowseScreen
from dvae_cli.tui.screens.compare import compare_notes, compare_rows
from dvae_cli.tui.widgets.loss_plot import LossPlot
from dvae_cli.tui.widgets.metrics_view import MetricsView
from dvae_cli.tui.widgets.plot_legend import PlotLegend

from browse_helpers import (IGNORE_PILLOW_WARNING, browse, make_results, overview_status, overview_text, select,
                            settle, status_text, table_rows, text_of)

pytestmark = IGNORE_PILLOW_WARNING

SCORED_RUN = "jax_betavae"
REASON = "no active latent: every latent's std is under the prune threshold (0.05)"


def protocol(images: int, seed: int = 1234) -> dict:
    """The MIG protocol ``dvae eval --metric mig --fast --max-images IMAGES`` writes on sprites."""
    return {"estimator": "Chen et al. 2018, Monte-Carlo over the dataset", "factors": ["scale", "orientation",
            "posX", "posY"], "image_selection": f"{images} of 737,280 images, factor values balanced (seed {seed})",
            "images": images, "n_samples": 2000, "normalisation": "H(v_k) (log K on a full grid)",
            "representation": "sample", "seed": seed}


def write_scored(folder: Path, images: int = 500, mig: float = 0.25) -> Path:
    folder.mkdir()
    (folder / METRICS_LOG).write_text(json.dumps({
        "MIG": mig, "FactorVAE": None, "dataset": "sprites",
        "protocols": {"MIG": protocol(images), "FactorVAE": {"images": images, "not_computed": REASON}}}))
    (folder / METRICS_DETAIL).write_text(json.dumps({"dataset": "sprites", "latent_names": ["z0", "z1"]}))
    (folder / SCORED).write_text(json.dumps({
        "encoder": "/models/jax_betavae.onnx", "format": "onnx", "dataset": "sprites", "latent_dim": 2,
        "images": images, "created": "2026-01-02T03:04:05+00:00", "dvae_version": "0.9.0"}))
    return folder


@pytest.fixture
def results(tmp_path: Path) -> Path:
    root = make_results(tmp_path / "results")
    write_scored(root / SCORED_RUN)
    return root


def test_a_scored_folder_is_listed_and_shown_with_its_scores(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        rows = table_rows(screen)
        assert rows[SCORED_RUN][1:] == [SCORED_RUN, "scored", "-", "sprites", "-"]
        await select(pilot, screen, SCORED_RUN)
        assert "broken" not in status_text(screen) and "scored" in overview_status(screen)
        assert "onnx encoder /models/jax_betavae.onnx" in overview_status(screen)
        text = overview_text(screen)
        assert "scored.json" in text and "latent_dim" in text and "no readable specs.json" not in text

        await pilot.press("2")
        await settle(pilot)
        assert "scored by dvae score: no training" in screen.query_one("#loss-plot", LossPlot).empty_text

        await pilot.press("3")
        await settle(pilot)
        table = screen.query_one(MetricsView).query_one("#metrics-table", DataTable)
        assert str(table.get_row("MIG")[1]) == "0.25"
        factor = [str(cell) for cell in table.get_row("FactorVAE")]
        assert factor[1] == "-" and REASON in factor[2]

    browse(results, scenario)


def test_estimated_terms_are_marked_in_the_losses_tab(results):
    async def scenario(pilot: Pilot, screen: BrowseScreen) -> None:
        await select(pilot, screen, "btcvae_dsprites")
        await pilot.press("2")
        await settle(pilot)
        terms = screen.query_one("#loss-terms", SelectionList)
        prompts = {str(terms.get_option_at_index(i).value): str(terms.get_option_at_index(i).prompt)
                   for i in range(terms.option_count)}
        assert prompts["tc_loss"] == "~tc_loss" and prompts["mi_loss"] == "~mi_loss" and prompts["loss"] == "loss"
        values = screen.query_one("#loss-values", DataTable)
        assert str(values.get_row("dw_kl_loss")[0]) == "~dw_kl_loss"
        assert str(values.get_row("kl_loss")[0]) == "kl_loss"
        assert "~: an estimate" in text_of(screen.query_one("#loss-note", Static))
        terms.focus()
        await pilot.press(*["down"] * list(prompts).index("tc_loss"), "space")
        await settle(pilot)
        assert "~tc_loss" in [s.label for s in screen.query_one("#loss-plot", LossPlot).series]
        assert "~: an estimate" in screen.query_one(PlotLegend).note

        await select(pilot, screen, "VAE_mnist")          # nothing estimated: no note
        assert not screen.query_one("#loss-note", Static).display

    browse(results, scenario)


def test_compare_mode_flags_mixed_protocols_and_estimated_terms(results):
    write_scored(results / "scored_300", images=300, mig=0.5)
    details = [load_details(results / name) for name in (SCORED_RUN, "scored_300", "btcvae_dsprites")]
    rows = dict(compare_rows(details))
    assert "MIG †" in rows and [str(cell) for cell in rows["MIG †"]] == ["0.25", "0.5", "-"]
    notes = compare_notes(details)
    assert any(note.startswith("† MIG: 2 protocols differing in image_selection, images") for note in notes)
    assert any(f"FactorVAE of {SCORED_RUN}: not computed ({REASON})" == note for note in notes)
    same = [load_details(results / SCORED_RUN), load_details(results / SCORED_RUN)]
    assert "MIG" in dict(compare_rows(same)) and not any("†" in note for note in compare_notes(same))
