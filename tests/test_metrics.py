"""Known-answer tests of the disentanglement metrics on representations built from the factors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dvae_cli.metrics import aam, betavae, dci, factorvae, mig, modularity, sap
from dvae_cli.metrics.entropy import mixture_entropy
from dvae_cli.metrics.suite import MetricSettings, compute_metrics

SIZES = (3, 6, 10, 8, 8)
NAMES = ("shape", "scale", "orientation", "posX", "posY")
SETTINGS = MetricSettings(n_samples=1500, num_train=3000, num_eval=1500, num_variance_estimate=3000, seed=0)


@pytest.fixture(scope="module")
def grid() -> np.ndarray:
    """Factor classes of a full factorial grid (11,520 images)."""
    return np.stack(np.unravel_index(np.arange(int(np.prod(SIZES))), SIZES), axis=1)


def code_from(classes: np.ndarray, columns: list[int], std: float = 0.01, seed: int = 0):
    """Posterior means equal to the chosen factors (scaled to [-2, 2]) and a small std."""
    rng = np.random.default_rng(seed)
    mean = np.stack([classes[:, k] / (SIZES[k] - 1) * 4 - 2 for k in columns], axis=1)
    mean = mean + rng.normal(0, std / 10, mean.shape)
    return torch.tensor(mean, dtype=torch.float32), torch.full(mean.shape, 2 * math.log(std))


def chen_mig(classes, mean, logvar, seed=0):
    result = mig.mutual_information(mean, logvar, classes, n_samples=1500, seed=seed)
    return mig.mig_scores(result.mi, result.factor_entropy), result


# ------------------------------------------------------------------ the entropy estimator


def naive_entropy(mean, logvar, samples):
    """-mean log (1/N sum_n N(z; m_n, v_n)) with float64 loops over samples."""
    m, v = mean.double(), torch.exp(logvar.double())
    out = []
    for z in samples.double():
        log_terms = -0.5 * (math.log(2 * math.pi) + torch.log(v) + (z - m) ** 2 / v)
        out.append(float(torch.logsumexp(log_terms, 0)) - math.log(len(m)))
    return -float(np.mean(out))


@pytest.mark.parametrize("case", ["prior", "sharp", "clusters", "mixed"])
def test_fast_mixture_entropy_matches_a_naive_loop(case):
    torch.manual_seed(1)
    n = 4000
    if case == "prior":
        mean, logvar = torch.randn(n) * 0.03, torch.randn(n) * 0.03
    elif case == "sharp":
        mean, logvar = torch.randn(n), torch.full((n,), 2 * math.log(0.02))
    elif case == "clusters":
        mean, logvar = torch.randint(0, 5, (n,)).float() + torch.randn(n) * 0.01, torch.full((n,), -9.0)
    else:
        mean, logvar = torch.randn(n) * 2, torch.rand(n) * 6 - 7
    rows = torch.randperm(n)[:1500]
    samples = mean[rows] + torch.exp(0.5 * logvar[rows]) * torch.randn(1500)
    assert mixture_entropy(mean, logvar, samples) == pytest.approx(naive_entropy(mean, logvar, samples), abs=2e-4)


# ------------------------------------------------------------------ MIG and AAM (Chen et al.)


def test_identity_code_scores_top_and_noise_scores_zero(grid):
    mean, logvar = code_from(grid, [0, 1, 2, 3, 4])
    per_factor, result = chen_mig(grid, mean, logvar)
    assert 0.9 <= per_factor.mean() <= 1.0
    assert np.allclose(np.diag(result.mi), result.factor_entropy, atol=0.06)   # I(z_k; v_k) = H(v_k)
    assert 0.9 <= aam.aam_scores(result.mi).mean() <= 1.0
    noise_mean = torch.randn(len(grid), 5) * 0.5
    noise, _ = chen_mig(grid, noise_mean, torch.full((len(grid), 5), -2.0))
    assert abs(noise.mean()) < 0.05


def test_all_zero_code_and_duplicated_latents(grid):
    zero, result = chen_mig(grid, torch.zeros(len(grid), 5), torch.zeros(len(grid), 5))
    assert 0.0 <= zero.mean() + 0.01 and zero.mean() <= 0.2
    assert np.abs(result.mi).max() < 0.05
    mean, logvar = code_from(grid, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4])
    duplicated, _ = chen_mig(grid, mean, logvar)
    assert 0.0 <= duplicated.mean() + 0.01 and duplicated.mean() <= 0.1


def test_copying_one_factor_into_two_latents_closes_its_gap(grid):
    mean, logvar = code_from(grid, [0, 1, 2, 3, 4, 3])
    per_factor, result = chen_mig(grid, mean, logvar)
    assert abs(per_factor[3]) < 0.05                           # posX is in two latents
    assert per_factor[[0, 1, 2, 4]].min() > 0.9
    assert aam.aam_scores(result.mi)[3] < 0.05


def test_rotated_latents_score_lower_than_axis_aligned(grid):
    mean, logvar = code_from(grid, [0, 1, 2, 3, 4])
    aligned, _ = chen_mig(grid, mean, logvar)
    angle = math.pi / 4
    rotation = torch.eye(5)
    rotation[3:, 3:] = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    rotated, _ = chen_mig(grid, mean @ rotation.T, logvar)
    assert rotated[3] < aligned[3] - 0.3 and rotated[4] < aligned[4] - 0.3
    assert rotated[:3] == pytest.approx(aligned[:3], abs=0.05)


def test_conditional_entropies_work_on_an_unbalanced_partial_grid(grid):
    keep = np.random.default_rng(0).random(len(grid)) < np.where(grid[:, 0] == 0, 0.9, 0.3)
    partial = grid[keep]
    mean, logvar = code_from(partial, [0, 1, 2, 3, 4])
    per_factor, result = chen_mig(partial, mean, logvar)
    p = np.bincount(partial[:, 0]) / len(partial)
    assert result.factor_entropy[0] == pytest.approx(-(p * np.log(p)).sum())      # not log 3
    assert 0.9 <= per_factor.mean() <= 1.0


def test_aam_formula():
    mi = np.array([[1.0, 0.2, 0.1, 0.0], [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [2.0, -0.1, 0.0, 0.0]])
    np.testing.assert_allclose(aam.aam_scores(mi), [0.7, 0.0, 0.0, 1.0])


# ------------------------------------------------------------------ disentanglement_lib's metrics


def test_discrete_mig_agrees_with_sklearn(grid):
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(3)
    classes = grid[rng.choice(len(grid), 2000, replace=False)]
    codes = rng.normal(size=(2000, 4)) + classes[:, [1, 3, 4, 2]]
    discretized = mig.histogram_discretize(codes, 20)
    ours = mig.discrete_mi_matrix(discretized, classes)
    reference = np.array([[mutual_info_score(classes[:, k], discretized[:, j]) for j in range(4)]
                          for k in range(5)])
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    per_factor, _, entropy = mig.mig_discrete(codes, classes)
    sorted_ref = -np.sort(-reference, axis=1)
    expected = (sorted_ref[:, 0] - sorted_ref[:, 1]) / np.array([mutual_info_score(c, c) for c in classes.T])
    np.testing.assert_allclose(per_factor, expected, atol=1e-6)


def _codes(grid, kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "identity":
        return np.stack([grid[:, k] / (SIZES[k] - 1) for k in range(5)], axis=1) + rng.normal(0, 1e-3, grid.shape)
    if kind == "zero":
        return np.zeros(grid.shape)
    return rng.normal(size=grid.shape)


@pytest.mark.parametrize("kind,low,high", [("identity", 0.9, 1.0), ("zero", None, None), ("noise", 0.0, 0.35)])
def test_factorvae_betavae_bounds(grid, kind, low, high):
    codes = _codes(grid, kind)
    fv = factorvae.factorvae_score(codes, grid, np.random.default_rng(0), num_train=2000, num_eval=1000,
                                   num_variance_estimate=3000)
    if kind == "zero":   # no active latent: nothing votes, the score is undefined (not 0, below chance)
        assert fv.eval_accuracy is None and "no active latent" in (fv.not_computed or "")
    else:
        assert low <= fv.eval_accuracy <= high
    bv = betavae.betavae_score(codes, grid, np.random.default_rng(0), num_train=1500, num_eval=800)
    assert (0.9 <= bv.eval_accuracy <= 1.0) if kind == "identity" else bv.eval_accuracy <= 0.35


@pytest.mark.parametrize("kind", ["identity", "zero", "noise"])
def test_dci_sap_modularity_explicitness(grid, kind):
    codes = _codes(grid, kind)
    rng = np.random.default_rng(1)
    train, test = rng.integers(0, len(grid), 1500), rng.integers(0, len(grid), 800)
    result = dci.dci_score(codes[train], grid[train], codes[test], grid[test])
    sap_result = sap.sap_score(codes[train], grid[train], codes[test], grid[test], continuous=True)
    sap_discrete = sap.sap_score(codes[train], grid[train], codes[test], grid[test])
    if kind == "identity":
        assert 0.9 <= result.disentanglement <= 1.0 and 0.9 <= result.completeness <= 1.0
        assert result.informativeness_test > 0.9
        assert 0.9 <= sap_result.score <= 1.0
        assert sap_discrete.score > 0.2          # 1-D linear SVMs cannot separate 10 ordered classes
        assert modularity.modularity_score(codes[train], grid[train]).modularity > 0.9
        assert modularity.explicitness_score(codes[train], grid[train], codes[test], grid[test]).test > 0.95
    else:
        assert result.disentanglement <= 0.2 and sap_result.score <= 0.2 and sap_discrete.score <= 0.1
        explicit = modularity.explicitness_score(codes[train], grid[train], codes[test], grid[test]).test
        assert explicit < 0.6


def test_suite_is_seeded_and_reproducible(grid):
    mean, logvar = code_from(grid, [0, 1, 2, 3, 4])
    mean = torch.cat([mean, torch.randn(len(grid), 2)], dim=1)
    logvar = torch.cat([logvar, torch.zeros(len(grid), 2)], dim=1)
    metrics = ("mig", "aam", "mig_discrete", "factorvae", "betavae", "sap", "modularity", "explicitness")
    first = compute_metrics(mean, logvar, grid, NAMES, SIZES, metrics, SETTINGS)
    second = compute_metrics(mean, logvar, grid, NAMES, SIZES, metrics, SETTINGS)
    assert first.scores == second.scores
    other = compute_metrics(mean, logvar, grid, NAMES, SIZES, ("mig",), SETTINGS.with_seed(5))
    assert other.scores["MIG"] != first.scores["MIG"]
    assert first.scores["MIG"] > 0.85 and first.scores["FactorVAE"] > 0.9
    assert first.protocols["MIG"]["representation"] == "sample"
    assert first.protocols["MIG_discrete"]["representation"] == "mean"
    matrix = first.details["mig"]["mutual_information"]          # Chen's dSprites factors x latents
    assert first.details["mig"]["factors"] == ["scale", "orientation", "posX", "posY"]
    assert len(matrix) == 4 and len(matrix[0]) == 7


@pytest.mark.slow
def test_eval_metrics_on_a_reference_run(tmp_path, disvae_results, sprites_data_dir):
    """disentangling-vae's btcvae_dsprites model scored on sprites through the CLI."""
    import json
    import shutil

    from conftest import run_dvae

    shutil.copytree(disvae_results / "btcvae_dsprites", tmp_path / "btcvae_dsprites")
    result = run_dvae("eval", "btcvae_dsprites", "-d", "sprites", "--metrics", "--fast", "--max-images", "3000",
                      "--no-test", "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert result.returncode == 0, result.stderr
    scores = json.loads((tmp_path / "btcvae_dsprites" / "metrics.log").read_text())
    for key in ("MIG", "AAM", "MIG_discrete", "FactorVAE", "DCI_disentanglement", "DCI_completeness",
                "DCI_informativeness"):
        assert isinstance(scores[key], float) and -0.1 <= scores[key] <= 1.0, key
        assert key in result.stdout
    assert scores["protocols"]["MIG"]["factors"] == ["scale", "orientation", "posX", "posY"]
    assert scores["protocols"]["MIG_discrete"]["factors"] == ["shape", "scale", "orientation", "posX", "posY"]
    assert scores["protocols"]["MIG"]["images"] == 3000 and scores["protocols"]["MIG"]["n_samples"] == 2000
    detail = json.loads((tmp_path / "btcvae_dsprites" / "metrics_detail.json").read_text())
    assert np.array(detail["mig"]["mutual_information"]).shape == (4, 10)
    assert set(detail["mig"]["mig_per_factor"]) == {"scale", "orientation", "posX", "posY"}


def test_metrics_need_factors(tmp_path, disvae_results):
    import shutil

    from conftest import run_dvae

    shutil.copytree(disvae_results / "VAE_mnist", tmp_path / "VAE_mnist")
    # (plain --metrics there gives the metrics that need none: tests/test_metrics_more.py)
    result = run_dvae("eval", "VAE_mnist", "--metric", "mig,dci", "--no-test", "--results-dir", str(tmp_path))
    assert result.returncode == 2 and result.stderr.startswith("error: dataset 'mnist' has no ground-truth factors")
    assert "sprites" in result.stderr and "Traceback" not in result.stderr
    bad = run_dvae("eval", "VAE_mnist", "--metric", "mig,beta", "--results-dir", str(tmp_path))
    assert bad.returncode == 2 and "unknown metric 'beta'" in bad.stderr
    assert not (tmp_path / "VAE_mnist" / "metrics.log").exists()


def test_the_readme_states_each_metrics_title_and_protocol_from_its_catalogue_entry():
    """The README's table of metrics and `MetricInfo` say the same (the catalogue owns the text)."""
    from pathlib import Path

    from dvae_cli.catalogue.metrics import DEFAULT_METRICS, METRICS

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`"):   # metric, what, protocol, noise, cost
            for name in cells[0].replace("`", "").split(", "):
                rows[name] = cells
    for info in METRICS.values():
        _, what, protocol, noise, cost = rows[info.name]
        assert noise and cost, info.name
        assert info.title == what and info.protocol in protocol.split("; "), info.name
    assert f"Default: `{','.join(DEFAULT_METRICS)}`" in readme
