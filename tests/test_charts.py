"""losses.png and mutual_info.png drawn from synthetic logs: one epoch, constant terms, negative estimates."""

from __future__ import annotations

import numpy as np

from dvae_cli.runs.metrics_detail import mutual_info
from dvae_cli.viz.charts import draw_losses, draw_mutual_info


def _history(epochs, **terms):
    return {term: [(e, value) for e in range(epochs)] for term, value in terms.items()}


def test_one_epoch_losses_show_the_value_on_an_axis_from_zero():
    history = _history(1, loss=835.9, recon_loss=833.6, kl_loss=8.8, mi_loss=0.0, tc_loss=0.24)
    fig = draw_losses(history, "run · btcvae · sprites · training losses")
    fig.canvas.draw()
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.lines]
    assert panels
    for ax in panels:
        assert list(ax.get_xticks()) == [1]                             # epochs counted from 1, one tick
        low, high = ax.get_ylim()
        values = [y for line in ax.lines for y in line.get_ydata()]
        assert low == 0 and high >= max(values) > 0
        assert not any(np.isclose(abs(t), 0.045) for t in ax.get_yticks())
        assert "one epoch" in ax.get_title()
    notes = {text.get_text() for ax in panels for text in ax.texts}
    assert {"835.9", "833.6", "8.8", "0", "0.24"} <= notes


def test_a_constant_zero_term_gets_a_sane_axis_over_many_epochs():
    fig = draw_losses(_history(30, loss=10.0, mi_loss=0.0), "t")
    fig.canvas.draw()
    panel = next(ax for ax in fig.axes if ax.get_title() == "loss-specific terms")
    assert panel.get_ylim() == (0.0, 1.2)
    assert "one epoch" not in panel.get_title()
    visible = [t for t in panel.get_xticks() if panel.get_xlim()[0] <= t <= panel.get_xlim()[1]]
    assert visible and all(float(t).is_integer() and 1 <= t <= 30 for t in visible)   # epochs 1..30, no 0


def _detail(matrix):
    """The matrix as `metrics_detail.json`'s one reader hands it to the chart."""
    return mutual_info({"latent_names": [f"z{j}" for j in range(len(matrix[0]))],
                        "mig": {"mutual_information": matrix, "factors": ["shape", "scale"],
                                "mig_per_factor": {"shape": 0.3, "scale": 0.0}}})


def test_negative_mutual_information_is_clipped_with_a_note():
    fig = draw_mutual_info(_detail([[0.5, -0.02, 0.1], [0.0, 0.2, -0.004]]), "run")
    image = fig.axes[0].images[0]
    assert image.get_array().min() == 0 and image.get_clim() == (0, 0.5)
    note = fig.axes[0].get_xlabel()
    assert "2 of 6 estimates are negative" in note and "-0.020 nats" in note and "coloured as 0" in note
    assert "clipped at 0" in fig.axes[1].get_ylabel()                    # the colour bar says so
    assert "-0.02" in {text.get_text() for text in fig.axes[0].texts}   # the cell keeps its value
    clean = draw_mutual_info(_detail([[0.5, 0.02, 0.1], [0.0, 0.2, 0.004]]), "run")
    assert clean.axes[0].get_xlabel() == "latent" and "clipped" not in clean.axes[1].get_ylabel()
