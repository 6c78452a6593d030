"""IRS and UDR by default as disentanglement_lib computes them, against float64 references written here.

The references follow the papers (Suter et al. 2019, Eq. 6-8 and the scalable estimator
of their appendix; Duan et al. 2020, Section 3) with disentanglement_lib's protocol as
its public code and gin files set it: IRS on factors cut into 20 equal-width histogram
bins (``irs.gin``: ``discretizer.num_bins = 20``, ``histogram_discretizer``), the 0.99
quantile, constant latents dropped; UDR on standardised means with latents of KL not
above 0.01 nats zeroed, a Lasso (alpha 0.1) from one model's latents to the other's,
the pair's score the mean of the column and of the row means of max^2 / sum, and a
model's score the median over the pairs in which it is the target. They are written
latent by latent with plain loops, sharing no code with dvae_cli.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from dvae_cli.catalogue.metrics import metric_info
from dvae_cli.errors import ConfigError
from dvae_cli.metrics.irs import FACTOR_BINS, binned_factors, irs_score
from dvae_cli.metrics.suite import MetricSettings, compute_metrics
from dvae_cli.metrics.udr import Representation, udr_pair, udr_scores

# dSprites' factors but colour (the ones disentanglement_lib scores): shape, scale, orientation, posX, posY
SPRITES = (3, 6, 40, 32, 32)
NAMES = ("shape", "scale", "orientation", "posX", "posY")


# ----------------------------------------------------------------------------------------------- IRS


def histogram_bin(column: np.ndarray, bins: int) -> list[int]:
    """Label 1..bins of each value: one plus the number of interior left edges min + k (max - min) / bins
    (k = 1..bins-1) at or below it, as np.digitize on np.histogram's left edges."""
    low, high = float(column.min()), float(column.max())
    if low == high:                                      # np.histogram's range for a constant: value +- 0.5
        low, high = low - 0.5, high + 0.5
    edges = [low + (high - low) * k / bins for k in range(1, bins)]
    return (1 + sum((column >= edge).astype(np.int64) for edge in edges)).tolist()


def irs_reference(z: np.ndarray, y: np.ndarray, bins: int | None = 20, quantile: float = 0.99) -> float:
    """disentanglement_lib's IRS: factors binned, EMPIDA per (latent, factor), 1 - EMPIDA / max deviation,
    the best factor per latent, averaged with the max deviations as weights over the latents that vary."""
    if bins is not None:
        y = np.array([histogram_bin(y[:, i], bins) for i in range(y.shape[1])]).T
    scores, weights = [], []
    for j in range(z.shape[1]):
        column = z[:, j]
        if column.var() == 0:
            continue
        deviation = float(np.max(np.abs(column - column.mean())))
        best = -math.inf
        for i in range(y.shape[1]):
            values = sorted(set(y[:, i].tolist()))
            spread = 0.0
            for v in values:
                group = column[y[:, i] == v]
                spread += float(np.quantile(np.abs(group - group.mean()), quantile))
            best = max(best, 1.0 - spread / len(values) / deviation)
        scores.append(best)
        weights.append(deviation)
    return math.fsum(s * w for s, w in zip(scores, weights)) / math.fsum(weights) if scores else 0.0


@pytest.fixture(scope="module")
def sprites_points() -> tuple[np.ndarray, np.ndarray]:
    """10,000 uniform draws of the dSprites factors and a code of them such as a trained model gives:
    positions sharply encoded, scale mixed into posY and orientation, shape and orientation mixed,
    one latent of noise, one constant."""
    rng = np.random.default_rng(0)
    n = 10_000
    y = np.stack([rng.integers(0, size, n) for size in SPRITES], axis=1)
    angle = 2 * math.pi * y[:, 2] / 40
    z = np.stack([y[:, 3] / 31 + 0.005 * rng.normal(size=n),
                  y[:, 4] / 31 + 0.1 * y[:, 1] / 5 + 0.005 * rng.normal(size=n),
                  0.5 * y[:, 2] / 39 + 0.2 * y[:, 1] / 5 + 0.01 * rng.normal(size=n),
                  0.2 * np.sin(angle) + 0.3 * y[:, 0] + 0.05 * rng.normal(size=n),
                  0.3 * rng.normal(size=n),
                  np.full(n, 0.25)], axis=1)
    return z, y


def test_factor_bins_are_disentanglement_libs_histogram_discretizer():
    rng = np.random.default_rng(1)
    for size in (3, 20, 21, 32, 40, 183):
        column = rng.integers(0, size, 5000)
        column[:2] = [0, size - 1]
        got = binned_factors(column[:, None], FACTOR_BINS)[:, 0]
        assert got.tolist() == histogram_bin(column, FACTOR_BINS), size
        assert len(np.unique(got)) == min(size, FACTOR_BINS)
    with pytest.raises(ConfigError, match="factor bins"):
        binned_factors(np.zeros((3, 1)), 0)


def test_irs_default_is_disentanglement_libs_and_binning_changes_it_on_sprites(sprites_points):
    z, y = sprites_points
    default = irs_score(z, y)
    assert default.score == pytest.approx(irs_reference(z, y, bins=20), abs=1e-12)
    unbinned = irs_score(z, y, factor_bins=None)
    assert unbinned.score == pytest.approx(irs_reference(z, y, bins=None), abs=1e-12)
    # 32 positions and 40 orientations in 20 bins: wider groups, larger deviations, a lower IRS
    assert unbinned.score - default.score > 0.005, (default.score, unbinned.score)
    assert unbinned.per_latent[0] - default.per_latent[0] > 0.01           # the posX latent
    # factors of at most 20 classes are their own bins: the two agree
    small = y[:, :2]
    assert irs_score(z, small).score == pytest.approx(irs_score(z, small, factor_bins=None).score, abs=1e-15)


def test_metric_irs_records_its_bins_and_irs_unbinned_keeps_the_other_variant(sprites_points):
    z, y = sprites_points
    settings = MetricSettings(n_samples=100, num_train=4000, num_eval=1000, num_variance_estimate=1000, seed=0)
    report = compute_metrics(z, np.zeros_like(z), y, NAMES, SPRITES, ("irs", "irs_unbinned"), settings)
    assert report.protocols["IRS"]["factor_bins"] == 20 and report.protocols["IRS_unbinned"]["factor_bins"] is None
    assert "make_discretizer" in report.protocols["IRS"]["factor_binning"]
    assert report.scores["IRS"] < report.scores["IRS_unbinned"]
    assert report.details["irs"]["factor_bins"] == 20 and "irs_unbinned" in report.details
    assert metric_info("irs_unbinned").scores == ("IRS_unbinned",)
    assert "20 equal-width bins" in metric_info("irs").protocol


# ----------------------------------------------------------------------------------------------- UDR


def standardised(means: np.ndarray) -> np.ndarray:
    """Each column minus its mean, over its population standard deviation (a constant column: zeros)."""
    out = np.zeros_like(means)
    for d in range(means.shape[1]):
        column = means[:, d]
        centred = column - column.mean()
        std = math.sqrt(float(np.mean(centred**2)))
        out[:, d] = centred / std if std > 0 else 0.0
    return out


def sklearn_lasso(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(D_x, D_y) |w| of scikit-learn's Lasso(alpha=0.1) from x to each column of y, as disentanglement_lib calls it."""
    from sklearn.linear_model import Lasso

    return np.abs(Lasso(alpha=0.1).fit(x, y).coef_).T


def descent_lasso(x: np.ndarray, y: np.ndarray, alpha: float = 0.1) -> np.ndarray:
    """The same |w| from the objective itself, 1/(2N) ||y_j - x w - c||^2 + alpha ||w||_1, by coordinate
    descent with soft thresholding run until no coefficient moves by 1e-14."""
    n = len(x)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    out = np.zeros((x.shape[1], y.shape[1]))
    for j in range(y.shape[1]):
        w = np.zeros(x.shape[1])
        for _ in range(10_000):
            largest = 0.0
            for i in range(x.shape[1]):
                norm = float(xc[:, i] @ xc[:, i]) / n
                if norm == 0:
                    continue
                residual = yc[:, j] - xc @ w + xc[:, i] * w[i]
                rho = float(xc[:, i] @ residual) / n
                new = math.copysign(max(abs(rho) - alpha, 0.0), rho) / norm
                largest, w[i] = max(largest, abs(new - w[i])), new
            if largest < 1e-14:
                break
        out[:, j] = np.abs(w)
    return out


def dlib_pair(r: np.ndarray) -> float:
    """disentanglement_lib's relative strength: the mean of the column means and the row means of max^2 / sum."""
    def term(lines: list[list[float]]) -> float:
        return statistics.fmean(max(line) ** 2 / sum(line) if sum(line) > 0 else 0.0 for line in lines)

    columns = [[r[p][q] for p in range(len(r))] for q in range(len(r[0]))]
    return (term(columns) + term([list(row) for row in r])) / 2


def dlib_udr_reference(models: list[Representation], lasso=sklearn_lasso, threshold: float = 0.01) -> list[float]:
    """disentanglement_lib's ``compute_udr_sklearn`` with its defaults (lasso, filter_low_kl, 0.01)."""
    reps = [standardised(m.means) * (m.kl > 0.01) for m in models]
    udr = np.zeros((len(models), len(models)))
    for i in range(len(models)):
        for j in range(len(models)):
            if i != j:
                r = lasso(reps[i], reps[j])
                rows, columns = np.flatnonzero(models[i].kl > threshold), np.flatnonzero(models[j].kl > threshold)
                udr[i, j] = dlib_pair([[r[p, q] for q in columns] for p in rows])
    return [statistics.median([udr[j, m] for j in range(len(models)) if j != m]) for m in range(len(models))]


def model_group(seed: int, count: int = 4, n: int = 1000, latents: int = 6) -> list[Representation]:
    """Models of one setting: 3 shared factors mixed a little differently, noise latents, KL masks that differ
    (so d_a != d_b and the weighting matters)."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(n, 3))
    group = []
    for _ in range(count):
        mixing = np.eye(3) + 0.3 * rng.normal(size=(3, 3))
        means = np.column_stack([factors @ mixing, rng.normal(size=(n, latents - 3))])[:, rng.permutation(latents)]
        kl = rng.uniform(0.0, 0.03, latents)                # some at or under 0.01 nats, some over
        kl[np.argsort(-means.var(axis=0))[:3]] = 1.0
        group.append(Representation(means * rng.uniform(0.5, 3.0, latents), kl))
    return group


@pytest.mark.parametrize("seed", [0, 1])
def test_udr_default_is_disentanglement_libs(seed: int):
    groups = [model_group(seed), model_group(seed + 10, count=2), model_group(seed + 20, count=3)]
    got = udr_scores(groups)
    for group, scores in zip(groups, got, strict=True):
        assert scores == pytest.approx(dlib_udr_reference(group), abs=1e-12)
    # the Lasso solved from its objective: sklearn stops at its default tolerance, as disentanglement_lib's
    assert got[0] == pytest.approx(dlib_udr_reference(groups[0], lasso=descent_lasso), abs=5e-5)
    # the paper's variant differs on these models (d_a != d_b, and |rho| is not a Lasso weight)
    paper = udr_scores(groups, correlation="spearman")
    assert max(abs(p - d) for p, d in zip(paper[0], got[0])) > 0.01


def test_the_lasso_pair_is_directed_and_shrinks_a_perfect_copy_to_one_minus_alpha():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(1000, 4))
    b = np.column_stack([a[:, :2] @ np.array([[1.0, 0.5], [0.2, 1.0]]), rng.normal(size=(1000, 2))])
    ra, rb = Representation(a, np.ones(4)), Representation(b, np.ones(4))
    assert udr_pair(ra, rb) != pytest.approx(udr_pair(rb, ra), abs=1e-3)
    assert udr_pair(ra, rb, correlation="spearman") == udr_pair(rb, ra, correlation="spearman")
    # a full factorial grid: exactly uncorrelated standardised latents, so Lasso weights are 1 - alpha
    grid = np.array(np.meshgrid(*[np.arange(4.0)] * 4)).reshape(4, -1).T
    copy = grid[:, [2, 0, 3, 1]] * np.array([-1.0, 2.0, 0.5, -30.0]) + 7.0
    assert udr_pair(Representation(grid, np.ones(4)), Representation(copy, np.ones(4))) == pytest.approx(0.9, abs=1e-9)
    two = udr_scores([[ra, rb]])[0]
    assert two == [pytest.approx(udr_pair(rb, ra), abs=1e-15), pytest.approx(udr_pair(ra, rb), abs=1e-15)]
