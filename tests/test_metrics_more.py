"""Known-answer tests of IRS, the unsupervised scores, DCI-ES and InfoMEC (issue 20).

disentanglement_lib's pattern: codes built from the factors (perfect, constant,
duplicated, rotated) land where each metric's paper says; closed forms are checked
against float64 references written here; the CLI writes strict JSON scores,
protocols and detail, and gives the unsupervised scores on a dataset without factors.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from dvae_cli.catalogue.metrics import factor_free_metrics, metric_info
from dvae_cli.metrics.dci_es import dci_es_score, explicitness
from dvae_cli.metrics.infomec import _ratio_score, infomec_score
from dvae_cli.metrics.irs import irs_score
from dvae_cli.metrics.unsupervised import unsupervised_scores

N = 6000
SIZES = (10, 8)


@pytest.fixture(scope="module")
def factors() -> np.ndarray:
    """(N, 2) independent uniform factor classes."""
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, size, N) for size in SIZES], axis=1)


def codes(factors: np.ndarray) -> dict[str, np.ndarray]:
    """Representations of the factors: each factor in one latent, none, each twice, mixed by 45 degrees."""
    rng = np.random.default_rng(1)
    perfect = factors / (np.array(SIZES) - 1.0) + rng.normal(0, 1e-3, factors.shape)
    rotation = np.array([[1.0, 1.0], [-1.0, 1.0]]) / math.sqrt(2)
    return {"perfect": perfect, "constant": np.full((len(factors), 2), 0.3),
            "duplicated": np.concatenate([perfect, perfect[:, ::-1]], axis=1), "rotated": perfect @ rotation}


def split(code: np.ndarray, factors: np.ndarray) -> tuple[np.ndarray, ...]:
    half = len(code) // 2
    return code[:half], factors[:half], code[half:], factors[half:]


# ------------------------------------------------------------------------------------------------ IRS


def irs_reference(z: np.ndarray, y: np.ndarray, quantile: float = 0.99) -> float:
    """Suter et al.'s scalable IRS written out latent by latent (float64)."""
    scores, weights = [], []
    for j in range(z.shape[1]):
        column = z[:, j]
        if np.ptp(column) == 0:
            continue
        deviation = np.max(np.abs(column - column.mean()))
        best = -np.inf
        for i in range(y.shape[1]):
            values = np.unique(y[:, i])
            spread = sum(np.quantile(np.abs(column[y[:, i] == v] - column[y[:, i] == v].mean()), quantile)
                         for v in values) / len(values)
            best = max(best, 1 - spread / deviation)
        scores.append(best)
        weights.append(deviation)
    return float(np.dot(scores, weights) / np.sum(weights)) if scores else 0.0


def test_irs_known_answers(factors):
    c = codes(factors)
    assert 0.9 <= irs_score(c["perfect"], factors).score <= 1.0
    assert 0.0 <= irs_score(c["constant"], factors).score <= 0.2
    # duplicates are as robust as the originals (IRS does not ask for compactness)
    assert 0.9 <= irs_score(c["duplicated"], factors).score <= 1.0
    # a rotation makes each latent move with both factors: the score drops (Suter et al., Fig. 3)
    assert irs_score(c["rotated"], factors).score < 0.75
    noisy = c["rotated"] + np.random.default_rng(2).normal(0, 0.1, c["rotated"].shape)
    for code in (*c.values(), noisy):
        assert irs_score(code, factors).score == pytest.approx(irs_reference(code, factors), abs=1e-12)
    result = irs_score(np.concatenate([c["perfect"], np.zeros((N, 1))], axis=1), factors)
    assert result.active.tolist() == [True, True, False] and result.matrix.shape == (2, 2)


# ------------------------------------------------------------------------------------- unsupervised


def test_gaussian_total_correlation_and_wasserstein_closed_forms():
    rng = np.random.default_rng(0)
    independent = unsupervised_scores(rng.normal(size=(100_000, 4)))
    assert abs(independent.total_correlation) < 5e-4 and independent.wasserstein < 5e-4
    rho = 0.8
    pair = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=200_000) * np.array([2.0, 0.5])
    result = unsupervised_scores(pair)
    # float64 references from the sample covariance: -1/2 log(1 - r^2), and the squared W2 of two 2-D Gaussians
    cov = np.cov(pair, rowvar=False)
    a, b, c = cov[0, 0], cov[1, 1], cov[0, 1]
    r = c / math.sqrt(a * b)
    assert result.total_correlation == pytest.approx(-0.5 * math.log(1 - r * r), rel=1e-10)
    assert result.total_correlation == pytest.approx(-0.5 * math.log(1 - rho * rho), rel=0.02)
    m11, m22, m12 = a * a, b * b, math.sqrt(a * b) * c     # D^1/2 Sigma D^1/2
    trace_sqrt = math.sqrt(m11 + m22 + 2 * math.sqrt(m11 * m22 - m12 * m12))
    assert result.wasserstein == pytest.approx(2 * (a + b) - 2 * trace_sqrt, rel=1e-9)
    assert result.wasserstein_norm == pytest.approx(result.wasserstein / (a + b), rel=1e-12)


def test_unsupervised_mutual_information_and_edges(factors):
    c = codes(factors)
    rng = np.random.default_rng(0)
    assert unsupervised_scores(rng.normal(size=(20_000, 3))).mutual_info < 0.03
    # a latent duplicated carries its whole binned entropy about its copy
    z = rng.normal(size=20_000)
    twins = unsupervised_scores(np.stack([z, z], axis=1))
    binned = np.digitize(z, np.histogram(z, 20)[1][:-1])
    p = np.unique(binned, return_counts=True)[1] / len(z)
    assert twins.mutual_info == pytest.approx(-(p * np.log(p)).sum(), rel=1e-9)
    assert math.isinf(twins.total_correlation)   # singular covariance: becomes None in metrics.log
    constant = unsupervised_scores(c["constant"])
    assert (constant.total_correlation, constant.wasserstein, constant.mutual_info) == (0.0, 0.0, 0.0)
    one_dead = unsupervised_scores(np.concatenate([rng.normal(size=(5000, 2)), np.ones((5000, 1))], axis=1))
    assert one_dead.active.tolist() == [True, True, False] and math.isfinite(one_dead.total_correlation)


# ---------------------------------------------------------------------------------------------- DCI-ES


def test_explicitness_is_one_minus_the_normalised_area():
    capacities = np.array([0.0, 1.0, 2.0])
    assert explicitness(capacities, np.array([1.0, 0.5, 0.0]), baseline=1.0) == pytest.approx(0.5)
    # each point is the lowest loss reached so far: [1, .5, .8] counts as [1, .5, .5]
    assert explicitness(capacities, np.array([1.0, 0.5, 0.8]), baseline=1.0) == pytest.approx(1 - 0.625)
    assert explicitness(capacities, np.zeros(3), baseline=1.0) == 1.0
    assert explicitness(capacities, np.full(3, 2.0), baseline=1.0) == 0.0
    assert explicitness(capacities, np.zeros(3), baseline=0.0) == 0.0


def test_dci_es_known_answers(factors):
    c = codes(factors)
    perfect = dci_es_score(*split(c["perfect"], factors))
    for value in (perfect.disentanglement, perfect.completeness, perfect.informativeness, perfect.explicitness):
        assert 0.9 <= value <= 1.0
    assert perfect.size == 1.0 and perfect.curves.shape == (2, 8)
    constant = dci_es_score(*split(c["constant"], factors))
    for value in (constant.disentanglement, constant.completeness, constant.informativeness, constant.explicitness):
        assert 0.0 <= value <= 0.2          # size is K / L, a property of the shape only
    duplicated = dci_es_score(*split(c["duplicated"], factors))
    assert duplicated.disentanglement >= 0.9 and duplicated.explicitness >= 0.9
    assert duplicated.completeness <= 0.75 and duplicated.size == 0.5    # each factor in two latents
    rotated = dci_es_score(*split(c["rotated"], factors))
    # Eastwood et al.: a rotation destroys D and C but keeps the information (I) and most of E
    assert rotated.disentanglement <= 0.3 and rotated.completeness <= 0.3
    assert rotated.informativeness >= 0.9 and rotated.explicitness >= 0.8


# --------------------------------------------------------------------------------------------- InfoMEC


def test_infomec_ratio_scores_against_a_reference():
    nmi = np.array([[0.9, 0.1, 0.0], [0.2, 0.2, 0.6]])
    latents = (nmi.max(axis=0) / nmi.sum(axis=0)).mean()
    assert _ratio_score(nmi, axis=0) == pytest.approx((latents - 1 / 2) / (1 - 1 / 2))
    per_factor = (nmi.max(axis=1) / nmi.sum(axis=1)).mean()
    assert _ratio_score(nmi, axis=1) == pytest.approx((per_factor - 1 / 3) / (1 - 1 / 3))
    assert _ratio_score(np.array([[0.5], [0.1]]), axis=1) == 1.0    # a single latent has no one to share with


def test_infomec_known_answers(factors):
    c = codes(factors)
    perfect = infomec_score(c["perfect"], factors)
    assert min(perfect.infom, perfect.infoe, perfect.infoc) >= 0.9
    constant = infomec_score(c["constant"], factors)
    assert max(constant.infom, constant.infoe, constant.infoc) <= 0.2
    duplicated = infomec_score(c["duplicated"], factors)
    # Hsu et al.: duplicates keep modularity; compactness is (1/2 - 1/L) / (1 - 1/L) = 1/3 with L = 4
    assert duplicated.infom >= 0.9 and duplicated.infoc == pytest.approx(1 / 3, abs=0.05)
    rotated = infomec_score(c["rotated"], factors)
    assert rotated.infom <= 0.3 and rotated.infoc <= 0.3 and rotated.infoe >= 0.9
    # a latent whose range is under 1/20 of the largest is pruned and changes nothing
    nearly_dead = np.concatenate([c["perfect"], 0.01 * np.random.default_rng(3).random((N, 1))], axis=1)
    pruned = infomec_score(nearly_dead, factors)
    assert pruned.active.tolist() == [True, True, False]
    assert pruned.infoc == pytest.approx(perfect.infoc, abs=1e-3)   # (the kNN estimate jitters its input)


def test_the_registry_describes_them():
    for name, scores in (("irs", ("IRS",)), ("infomec", ("InfoM", "InfoE", "InfoC")),
                         ("dci_es", ("DCI_ES_disentanglement", "DCI_ES_completeness", "DCI_ES_informativeness",
                                     "DCI_ES_explicitness", "DCI_ES_size"))):
        info = metric_info(name)
        assert info.scores == scores and info.needs_factors and info.paper
    assert "unsupervised" in factor_free_metrics() and not metric_info("unsupervised").needs_factors


# ------------------------------------------------------------------------------------------------- CLI


def _strict(text: str) -> dict:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} in strict JSON")

    return json.loads(text, parse_constant=refuse)


NEW = ("irs", "unsupervised", "dci_es", "infomec")


@pytest.mark.slow
def test_eval_writes_the_new_scores(tmp_path, sprites_data_dir):
    from conftest import run_dvae
    from tiny_runs import train_tiny

    folder = train_tiny(tmp_path, sprites_data_dir)
    result = run_dvae("eval", "tiny", "--no-test", "--fast", "--max-images", "3000", "--metric", ",".join(NEW),
                      "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert result.returncode == 0, result.stderr
    assert "time per metric: irs" in result.stdout
    scores = _strict((folder / "metrics.log").read_text())
    detail = _strict((folder / "metrics_detail.json").read_text())
    for name in NEW:
        for key in metric_info(name).scores:
            assert key in scores and key in result.stdout and key in scores["protocols"], key
            assert scores[key] is None or math.isfinite(scores[key])
        assert name in detail and detail["seconds"][name] >= 0
    assert scores["DCI_ES_size"] == pytest.approx(5 / 3)     # 5 factors that vary, 3 latents
    assert "RandomForestRegressor" in scores["protocols"]["DCI_ES_explicitness"]["probe_family"]
    assert scores["protocols"]["IRS"]["diff_quantile"] == 0.99
    assert np.array(detail["dci_es"]["loss_capacity"]).shape == (5, 8)
    assert np.array(detail["infomec"]["nmi"]).shape == (5, 3)
    assert np.array(detail["unsupervised"]["covariance"]).shape == (3, 3)
    # dvae compare and the Metrics tab of dvae browse read every score generically
    compared = run_dvae("compare", "tiny", "--results-dir", str(tmp_path), "-F", "json")
    assert compared.returncode == 0, compared.stderr
    row = json.loads(compared.stdout)[0]
    for key in ("IRS", "gaussian_total_correlation", "DCI_ES_explicitness", "InfoM", "InfoE", "InfoC"):
        assert row[key] == pytest.approx(scores[key]) if scores[key] is not None else key not in row
    from dvae_cli.tui.data.details import load_details
    from dvae_cli.tui.widgets.metrics_view import protocol_text

    details = load_details(folder)
    assert details.summary.metrics is not None and "DCI_ES_size" in details.summary.metrics
    assert "probes RandomForestRegressor" in protocol_text(details.protocols["DCI_ES_explicitness"])


def test_metrics_on_a_dataset_without_factors_are_the_unsupervised_ones(tmp_path, disvae_results):
    from conftest import run_dvae
    from test_datasets import write_idx

    shutil.copytree(disvae_results / "VAE_mnist", tmp_path / "VAE_mnist")
    rng = np.random.default_rng(0)
    write_idx(tmp_path / "data" / "MNIST" / "raw", "train", rng.integers(0, 256, (60, 28, 28)), np.zeros(60), True)
    write_idx(tmp_path / "data" / "MNIST" / "raw", "t10k", rng.integers(0, 256, (10, 28, 28)), np.zeros(10), True)
    common = ("--no-test", "--results-dir", str(tmp_path), "--data-dir", str(tmp_path / "data"), "--device", "cpu")
    refused = run_dvae("eval", "VAE_mnist", "--metric", "mig", *common)
    assert refused.returncode == 2 and "has no ground-truth factors" in refused.stderr
    assert "--metric unsupervised" in refused.stderr and "Traceback" not in refused.stderr
    other_size = run_dvae("eval", "VAE_mnist", "--metric", "unsupervised", "-d", "chairs", *common)
    assert other_size.returncode == 2 and "dataset 'chairs' has [1, 64, 64] images" in other_size.stderr
    result = run_dvae("eval", "VAE_mnist", "--metrics", *common)
    assert result.returncode == 0, result.stderr
    assert "computing the metrics that need none (unsupervised)" in result.stdout
    scores = _strict((tmp_path / "VAE_mnist" / "metrics.log").read_text())
    assert scores["dataset"] == "mnist" and scores["protocols"]["gaussian_total_correlation"]["images"] == 70
    assert set(scores) - {"protocols", "dataset"} == set(metric_info("unsupervised").scores)
    assert all(scores[key] is None or scores[key] >= -1e-9 for key in metric_info("unsupervised").scores)
