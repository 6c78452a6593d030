"""UDR (Duan et al. 2020) against a float64 reference written here with plain loops and scipy's Spearman.

Known answers: a model against a permuted, sign-flipped, rescaled copy of itself scores
1 on a full factorial sample (its latents exactly uncorrelated), unrelated codes score
near 0, uninformative latents are dropped, and every edge case is finite or refused.
"""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest
from scipy import stats

from dvae_cli.errors import ConfigError
from dvae_cli.metrics.udr import (
    KL_THRESHOLD,
    Representation,
    average_ranks,
    correlations,
    relative_strength,
    udr_pair,
    udr_scores,
)


def reference_udr(a: Representation, b: Representation, threshold: float = KL_THRESHOLD,
                  correlation: str = "spearman") -> float:
    """The paper's UDR_ij, latent by latent: R over informative latents, 1/(d_a + d_b) (sum_b + sum_a)."""
    keep_a = [i for i in range(len(a.kl)) if a.kl[i] > threshold]
    keep_b = [j for j in range(len(b.kl)) if b.kl[j] > threshold]
    if not keep_a or not keep_b:
        return 0.0
    r = np.zeros((len(keep_a), len(keep_b)))
    for p, i in enumerate(keep_a):
        for q, j in enumerate(keep_b):
            x, y = a.means[:, i], b.means[:, j]
            if np.ptp(x) == 0 or np.ptp(y) == 0:
                continue
            rho = stats.spearmanr(x, y)[0] if correlation == "spearman" else stats.pearsonr(x, y)[0]
            r[p, q] = abs(rho)
    total = 0.0
    for q in range(len(keep_b)):
        column = [r[p, q] for p in range(len(keep_a))]
        total += max(column) ** 2 / sum(column) if sum(column) > 0 else 0.0
    for p in range(len(keep_a)):
        row = [r[p, q] for q in range(len(keep_b))]
        total += max(row) ** 2 / sum(row) if sum(row) > 0 else 0.0
    return total / (len(keep_a) + len(keep_b))


def grid(levels: int = 4, factors: int = 5) -> np.ndarray:
    """(levels**factors, factors) full factorial: its columns are exactly uncorrelated (Pearson and Spearman)."""
    return np.array(list(itertools.product(range(levels), repeat=factors)), dtype=np.float64)


def rep(means: np.ndarray, kl: np.ndarray | float = 1.0) -> Representation:
    means = np.asarray(means, dtype=np.float64)
    return Representation(means, np.broadcast_to(np.asarray(kl, dtype=np.float64), (means.shape[1],)).copy())


def entangled(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    base = rng.normal(size=(n, d))
    return base @ rng.normal(size=(d, d)) + 0.3 * rng.normal(size=(n, d))


@pytest.mark.parametrize("correlation", ["spearman", "pearson"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_loop_reference_on_random_models(seed: int, correlation: str):
    rng = np.random.default_rng(seed)
    n, da, db = 300, 6, 4                                   # d_a != d_b: the 1/(d_a + d_b) weight matters
    shared = rng.normal(size=(n, 3))
    a = np.column_stack([shared, rng.normal(size=(n, da - 3))]) @ rng.normal(size=(da, da))
    b = np.column_stack([np.tanh(shared[:, :2]) + 0.2 * rng.normal(size=(n, 2)), rng.normal(size=(n, db - 2))])
    kl_a, kl_b = rng.uniform(0.0, 0.03, da), rng.uniform(0.0, 0.03, db)   # some below 0.01, some above
    kl_a[0] = kl_b[0] = 1.0
    got = udr_pair(rep(a, kl_a), rep(b, kl_b), correlation=correlation)
    want = reference_udr(rep(a, kl_a), rep(b, kl_b), correlation=correlation)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert udr_pair(rep(b, kl_b), rep(a, kl_a), correlation=correlation) == pytest.approx(got, rel=1e-12)


def test_ties_use_average_ranks_as_scipy():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, size=(200, 3)).astype(float)     # many ties
    b = np.round(a[:, ::-1] + rng.normal(0, 0.8, size=(200, 3)))
    assert np.allclose(average_ranks(a)[:, 0], stats.rankdata(a[:, 0]))
    want = np.array([[stats.spearmanr(a[:, i], b[:, j])[0] for j in range(3)] for i in range(3)])
    assert np.allclose(correlations(a, b), want, atol=1e-12)
    assert udr_pair(rep(a), rep(b), correlation="spearman") == pytest.approx(reference_udr(rep(a), rep(b)), rel=1e-9)


@pytest.mark.parametrize("correlation", ["spearman", "pearson"])
def test_a_permuted_flipped_rescaled_copy_scores_one(correlation: str):
    codes = grid()
    order, signs, scales = [3, 0, 4, 2, 1], np.array([-1, 1, -1, 1, 1]), np.array([0.01, 3.0, 250.0, 1.0, 7.5])
    copy = codes[:, order] * signs * scales + np.arange(5)
    assert udr_pair(rep(codes), rep(copy), correlation=correlation) == pytest.approx(1.0, abs=1e-12)
    if correlation == "spearman":                          # any monotonic map of each latent
        assert udr_pair(rep(codes), rep(np.exp(copy / scales)), correlation="spearman") == pytest.approx(1.0, abs=1e-12)


def test_mixing_latents_lowers_the_score():
    codes = grid()
    rotated = codes.copy()
    rotated[:, :2] = codes[:, :2] @ np.array([[1.0, 1.0], [-1.0, 1.0]])
    score = udr_pair(rep(codes), rep(rotated), correlation="spearman")
    assert 0.5 < score < 0.9
    assert score == pytest.approx(reference_udr(rep(codes), rep(rotated)), rel=1e-9)


def test_independent_codes_score_low():
    rng = np.random.default_rng(4)
    scores = [udr_pair(rep(rng.normal(size=(1000, 5))), rep(rng.normal(size=(1000, 5))), correlation="spearman")
              for _ in range(5)]
    assert max(scores) < 0.2
    assert min(scores) > 0.0
    # the Lasso keeps no weight under alpha = 0.1: unrelated codes score 0 (disentanglement_lib's default)
    assert udr_pair(rep(rng.normal(size=(1000, 5))), rep(rng.normal(size=(1000, 5)))) == 0.0


def test_uninformative_latents_are_filtered():
    rng = np.random.default_rng(5)
    a, b = entangled(rng, 1000, 4), entangled(rng, 1000, 4)
    b[:, :2] = a[:, :2] * [2.0, -1.0]
    noise = rng.normal(size=(1000, 1))                      # the same noisy latent in both: perfectly matched
    a2, b2 = np.column_stack([a, noise]), np.column_stack([b, noise])
    low = np.array([1.0, 1.0, 1.0, 1.0, 0.005])
    for correlation in ("lasso", "spearman"):
        base = udr_pair(rep(a), rep(b), correlation=correlation)
        assert udr_pair(rep(a2, low), rep(b2, low), correlation=correlation) == pytest.approx(base, rel=1e-12)
        assert udr_pair(rep(a2, low), rep(b2, low), kl_threshold=0.001, correlation=correlation) != pytest.approx(
            base, rel=1e-3)
    assert udr_pair(rep(a2, low), rep(b2, low), kl_threshold=0.001, correlation="spearman") == pytest.approx(
        reference_udr(rep(a2, low), rep(b2, low), threshold=0.001), rel=1e-9)


@pytest.mark.parametrize("weighting", ["dlib", "paper"])
def test_relative_strength_known_answers_and_the_two_weightings(weighting: str):
    assert relative_strength(np.eye(3), weighting) == 1.0
    assert relative_strength(np.array([[1.0, 1, 0], [1, 1, 0], [0, 0, 1]]), weighting) == pytest.approx(2 / 3)
    assert relative_strength(np.ones((3, 3)), weighting) == pytest.approx(1 / 3)
    assert relative_strength(np.zeros((3, 3)), weighting) == 0.0
    # one latent against three: the paper's (1 + 0 + 0 + 1) / (1 + 3); disentanglement_lib's (1/3 + 1) / 2
    assert relative_strength(np.array([[1.0, 0.0, 0.0]]), weighting) == pytest.approx(
        0.5 if weighting == "paper" else 2 / 3)
    assert relative_strength(np.zeros((0, 4)), weighting) == 0.0


def test_constant_latents_and_no_informative_latent_are_finite():
    rng = np.random.default_rng(6)
    a = rng.normal(size=(100, 3))
    a_const = a.copy()
    a_const[:, 1] = 0.1                                     # informative by KL, constant mean
    score = udr_pair(rep(a_const), rep(a), correlation="spearman")
    assert math.isfinite(score) and 0 <= score <= 1
    assert 0 <= udr_pair(rep(a_const), rep(a)) <= 1
    assert score == pytest.approx(reference_udr(rep(a_const), rep(a)), rel=1e-9)
    assert udr_pair(rep(np.full((100, 3), 2.0)), rep(np.full((100, 3), -1.0))) == 0.0
    for value in (0.1, -0.7, 123.456):                      # a mean that rounds: no correlated round-off
        assert not correlations(np.full((1000, 1), value), a[:100].repeat(10, axis=0), "pearson").any()
    assert udr_pair(rep(a, 0.0), rep(a)) == 0.0             # no informative latent in a
    assert udr_pair(rep(a, 0.0), rep(a, 0.0)) == 0.0
    assert udr_pair(rep(np.zeros((100, 0))), rep(a)) == 0.0
    huge, tiny = rep(a * 1e300), rep(a * 1e-300)
    for correlation in ("lasso", "spearman", "pearson"):
        assert udr_pair(huge, tiny, correlation=correlation) == pytest.approx(
            udr_pair(rep(a), rep(a), correlation=correlation), rel=1e-9)


@pytest.mark.parametrize(("a", "b", "message"), [
    (rep(np.ones((1, 2))), rep(np.ones((1, 2))), "at least 2"),
    (rep(np.zeros((10, 2))), rep(np.zeros((11, 2))), "different numbers of images"),
    (rep(np.array([[0.0, np.nan], [1.0, 2.0]])), rep(np.ones((2, 2))), "NaN"),
    (rep(np.array([[0.0, np.inf], [1.0, 2.0]])), rep(np.ones((2, 2))), "non-finite"),
    (rep(np.ones((3, 2)), np.array([1.0, np.nan])), rep(np.ones((3, 2))), "kl"),
    (Representation(np.ones((3, 2)), np.ones(3)), rep(np.ones((3, 2))), "shape"),
    (Representation(np.ones(3), np.ones(3)), rep(np.ones((3, 2))), "shape"),
])
def test_bad_inputs_raise_config_errors(a, b, message):
    with pytest.raises(ConfigError, match=message):
        udr_pair(a, b)


def test_bad_settings_raise_config_errors():
    a = rep(np.random.default_rng(7).normal(size=(20, 2)))
    with pytest.raises(ConfigError, match="lasso, spearman, pearson"):
        udr_pair(a, a, correlation="kendall")
    with pytest.raises(ConfigError, match="dlib, paper"):
        udr_pair(a, a, weighting="median")
    with pytest.raises(ConfigError, match="kl_threshold"):
        udr_pair(a, a, kl_threshold=-1.0)
    with pytest.raises(ConfigError, match="kl_threshold"):
        udr_scores([[a, a]], kl_threshold=float("nan"))


def test_udr_scores_are_medians_within_each_group():
    rng = np.random.default_rng(8)
    base = rng.normal(size=(500, 4))
    three = [rep(base), rep(base[:, ::-1] * -2), rep(rng.normal(size=(500, 4)))]
    four = [rep(entangled(rng, 500, 4)) for _ in range(4)]
    lone = [rep(rng.normal(size=(500, 3)))]
    scores = udr_scores([three, four, lone, []])
    assert len(scores) == 4 and [len(s) for s in scores] == [3, 4, 1, 0]
    for group, got in zip([three, four], scores[:2], strict=True):
        for i, model in enumerate(group):      # the Lasso is directed: a model's score has it as the target
            pairs = [udr_pair(other, model) for j, other in enumerate(group) if j != i]
            assert got[i] == pytest.approx(statistics.median(pairs), rel=1e-12)
    assert scores[0][0] == pytest.approx((udr_pair(three[1], three[0]) + udr_pair(three[2], three[0])) / 2)
    assert min(scores[0][:2]) > 0.4 and scores[0][2] < 0.1   # the two alike models outrank the odd one
    assert scores[2] == [None]


def test_udr_scores_check_every_model():
    good = rep(np.random.default_rng(9).normal(size=(50, 2)))
    with pytest.raises(ConfigError, match="group 1"):
        udr_scores([[good, good], [rep(np.array([[np.nan, 0.0], [1.0, 1.0]]))]])
    with pytest.raises(ConfigError, match="models 0 and 1 of group 0"):
        udr_scores([[good, rep(np.ones((49, 2)))]])
