"""Figures of a study report from plain numbers: readable PNGs, nothing written without data, NaN-proof.

`spearman_matrix` is checked against scipy's Spearman on the models that have both values.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from dvae_cli.catalogue.losses import loss_colour
from dvae_cli.errors import ConfigError
from dvae_cli.viz import study_figures
from dvae_cli.viz.study_figures import (
    group_styles,
    metric_boxes_figure,
    rank_correlation_figure,
    spearman_matrix,
    tradeoff_figure,
    udr_selection_figure,
)


def assert_png(path: Path) -> tuple[int, int]:
    """The PNG opens, has a size and shows more than a blank page; returns its (width, height)."""
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.int64)
        size = image.size
    assert size[0] > 100 and size[1] > 100
    ink = (pixels.sum(axis=2) < 600).mean()                 # pixels clearly darker than white
    assert ink > 0.005
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 10
    return size


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list:
    """The figures the module saves (still written to disk), to read their texts."""
    figures: list = []
    real = study_figures.save_figure

    def keep(fig, path):
        fig.canvas.draw()
        figures.append(fig)
        real(fig, path)

    monkeypatch.setattr(study_figures, "save_figure", keep)
    return figures


def texts(fig) -> list[str]:
    found = [fig._suptitle.get_text()] if fig._suptitle else []
    for ax in fig.axes:
        found += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        found += [t.get_text() for t in ax.texts] + [t.get_text() for t in ax.get_xticklabels()]
    return found


def test_spearman_matrix_is_pairwise_complete_like_scipy():
    rng = np.random.default_rng(0)
    n = 40
    base = rng.normal(size=n)
    raw = {"MIG": base + 0.3 * rng.normal(size=n), "DCI": -base + rng.normal(size=n),
           "UDR": rng.normal(size=n), "SAP": np.round(base * 2)}           # SAP has ties
    columns: dict[str, list[float | None]] = {}
    for k, (name, values) in enumerate(raw.items()):
        missing = rng.random(n) < 0.25
        columns[name] = [None if gone else float(v) for v, gone in zip(values, missing, strict=True)]
        columns[name][k] = float("nan")                     # NaN counts as missing too
    names, matrix = spearman_matrix(columns)
    assert names == ["MIG", "DCI", "UDR", "SAP"]
    assert matrix.shape == (4, 4) and np.allclose(matrix, matrix.T, equal_nan=True)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            pairs = [(x, y) for x, y in zip(columns[a], columns[b], strict=True)
                     if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)]
            want = stats.spearmanr(*zip(*pairs, strict=True))[0]
            assert matrix[i, j] == pytest.approx(want, abs=1e-12)
    assert matrix[0, 1] < -0.3 and matrix[0, 3] > 0.5


def test_spearman_matrix_is_nan_where_undefined():
    columns = {"a": [1.0, 2.0, 3.0, 4.0, 5.0], "flat": [0.5] * 5, "sparse": [None, None, None, 1.0, 2.0],
               "b": [2.0, 1.0, 4.0, 3.0, None]}
    names, matrix = spearman_matrix(columns)
    assert names == list(columns)
    assert np.isnan(matrix[1]).all() and np.isnan(matrix[:, 1]).all()     # constant: rho undefined
    assert np.isnan(matrix[2]).all()                                       # 2 values: fewer than 3 pairs
    assert matrix[0, 0] == 1.0 and matrix[3, 3] == 1.0
    assert matrix[0, 3] == pytest.approx(stats.spearmanr([1, 2, 3, 4], [2, 1, 4, 3])[0])
    assert spearman_matrix({})[1].shape == (0, 0)
    with pytest.raises(ConfigError, match="a 3, b 2"):
        spearman_matrix({"a": [1.0, 2.0, 3.0], "b": [1.0, 2.0]})


def test_metric_boxes_figure(tmp_path: Path, captured: list):
    settings = ["betaH B=1", "betaH B=4", "btcvae B=6 alpha=1 gamma=1", "factor gamma=10"]
    values = [[0.1, 0.15, 0.12], [0.3, 0.35, float("nan")], [], [0.5, None, 0.55, 0.6]]
    path = tmp_path / "boxes" / "MIG.png"
    assert metric_boxes_figure(path, "MIG", settings, values) is True
    few = assert_png(path)
    shown = texts(captured[-1])
    assert "betaH B=4 (n=2)" in shown and "btcvae B=6 alpha=1 gamma=1 (n=0)" in shown and "no value" in shown
    assert any(t.get_rotation() == 30 for t in captured[-1].axes[0].get_xticklabels())
    many = [f"setting {k}" for k in range(20)]
    assert metric_boxes_figure(tmp_path / "many.png", "gaussian_total_correlation", many,
                               [[k, k + 1.0] for k in range(20)], title="twenty")
    assert assert_png(tmp_path / "many.png")[0] > few[0] * 1.5            # wider with more settings
    assert "gaussian_total_correlation (nats)" in texts(captured[-1])


def test_rank_correlation_figure(tmp_path: Path, captured: list):
    names, matrix = spearman_matrix({"MIG": [1.0, 2.0, 3.0, 4.0], "flat": [1.0] * 4, "DCI": [2.0, 1.0, 4.0, 3.0]})
    path = tmp_path / "ranks.png"
    assert rank_correlation_figure(path, names, matrix) is True
    assert_png(path)
    cells = [t.get_text() for t in captured[-1].axes[0].texts]
    assert len(cells) == 9 and cells.count("-") == 5 and "0.60" in cells and "1.00" in cells
    all_nan = np.full((2, 2), np.nan)
    assert rank_correlation_figure(tmp_path / "nan.png", ["a", "b"], all_nan) is True
    assert_png(tmp_path / "nan.png")
    with pytest.raises(ConfigError, match=r"\(2, 2\) matrix"):
        rank_correlation_figure(tmp_path / "bad.png", ["a", "b"], np.eye(3))


def test_tradeoff_figure(tmp_path: Path, captured: list):
    path = tmp_path / "tradeoff.png"
    recon = [30.0, 35.0, float("nan"), 50.0, 42.0]
    assert tradeoff_figure(path, "MIG", recon, [0.1, 0.2, 0.3, None, 0.4], ["betaH", "betaH", "VAE", "btcvae", "mine"])
    assert_png(path)
    fig = captured[-1]
    assert "reconstruction loss (nats per image, lower is better)" in texts(fig)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["betaH", "mine"]                      # groups without a point stay out of the legend


def test_group_colours_follow_the_losses():
    from matplotlib.colors import to_hex

    styles = group_styles(["betaH", "custom", "VAE", "other", "betaH"])
    assert list(styles) == ["betaH", "custom", "VAE", "other"]
    assert styles["betaH"][0] == to_hex(loss_colour("betaH")) and styles["VAE"][0] == to_hex(loss_colour("VAE"))
    assert styles["custom"][0] not in {styles["betaH"][0], styles["VAE"][0]}
    assert styles["custom"][0] != styles["other"][0]
    many = group_styles([f"g{k}" for k in range(25)])
    assert len(set(many.values())) == 25                    # colours repeat, markers tell them apart


def test_udr_selection_figure(tmp_path: Path, captured: list):
    rng = np.random.default_rng(1)
    udr = list(rng.uniform(0, 1, 12))
    supervised = {"MIG": [u + 0.1 * rng.normal() for u in udr], "DCI_disentanglement": [None] * 12,
                  "SAP": [0.2, 0.3] + [None] * 10, "FactorVAE": [1.0 - u for u in udr]}
    udr[3] = None
    supervised["MIG"][5] = float("nan")
    groups = ["betaH"] * 6 + ["btcvae"] * 6
    path = tmp_path / "udr.png"
    assert udr_selection_figure(path, udr, supervised, groups) is True
    assert_png(path)
    fig = captured[-1]
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 3                                 # DCI has no value: no panel
    keep = [k for k in range(12) if k not in (3, 5)]
    rho = stats.spearmanr([udr[k] for k in keep], [supervised["MIG"][k] for k in keep])[0]
    assert titles[0] == f"MIG\nSpearman rho = {rho:+.2f} (n = 10 models)"
    assert titles[1] == "SAP\nSpearman rho: undefined (n = 2 models)"
    assert titles[2] == "FactorVAE\nSpearman rho = -1.00 (n = 11 models)"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["betaH", "btcvae"]
    assert fig.axes[0].get_xlabel() == "UDR (unitless, 0 to 1)"
    assert udr_selection_figure(path, udr, supervised, groups, protocol="lasso, dlib weighting") is True
    assert captured[-1].axes[0].get_xlabel() == "UDR (lasso, dlib weighting; unitless, 0 to 1)"


def test_nothing_to_draw_writes_nothing(tmp_path: Path):
    out = tmp_path / "none"
    assert metric_boxes_figure(out / "a.png", "MIG", [], []) is False
    assert metric_boxes_figure(out / "b.png", "MIG", ["s1", "s2"], [[None, float("nan")], []]) is False
    assert rank_correlation_figure(out / "c.png", ["only"], np.ones((1, 1))) is False
    assert rank_correlation_figure(out / "d.png", [], np.zeros((0, 0))) is False
    assert tradeoff_figure(out / "e.png", "MIG", [], [], []) is False
    assert tradeoff_figure(out / "f.png", "MIG", [1.0, None], [None, 2.0], ["betaH", "VAE"]) is False
    assert udr_selection_figure(out / "g.png", [], {}, []) is False
    assert udr_selection_figure(out / "h.png", [0.5, None], {"MIG": [None, 0.3]}, ["a", "b"]) is False
    assert not out.exists()


def test_mismatched_lengths_raise_config_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="settings 2, values 1"):
        metric_boxes_figure(tmp_path / "a.png", "MIG", ["s1", "s2"], [[0.1]])
    with pytest.raises(ConfigError, match="groups 1"):
        tradeoff_figure(tmp_path / "b.png", "MIG", [1.0, 2.0], [0.1, 0.2], ["betaH"])
    with pytest.raises(ConfigError, match="MIG 1"):
        udr_selection_figure(tmp_path / "c.png", [0.1, 0.2], {"MIG": [0.3]}, ["a", "b"])
    assert not list(tmp_path.iterdir())
