"""What ``--fast`` costs: the estimate, the bounded settings, and DCI's stage budget on real code paths."""

from __future__ import annotations

import numpy as np
import pytest

from dvae_cli.metrics import dci
from dvae_cli.metrics.cost import estimate_seconds
from dvae_cli.metrics.names import FAST_BUDGET_S, MIN_DCI_TREES, MIN_FAST_SAMPLES, MetricSettings

SPRITES = (6, 40, 32, 32)
DEFAULTS = ("mig", "aam", "mig_discrete", "factorvae", "dci")


def test_the_estimate_grows_with_latents_images_and_samples():
    fast = MetricSettings.fast()
    small = estimate_seconds(10_000, 10, SPRITES, DEFAULTS, fast)
    large = estimate_seconds(10_000, 128, SPRITES, DEFAULTS, fast)
    assert set(small) == set(DEFAULTS)
    assert all(large[name] > small[name] for name in DEFAULTS if name != "aam")
    assert small["aam"] == 0.0 < estimate_seconds(10_000, 10, SPRITES, ["aam"], fast)["aam"]   # shared with mig
    full = estimate_seconds(737_280, 10, SPRITES, ["mig"], MetricSettings())
    assert full["mig"] > small["mig"]
    assert estimate_seconds(10_000, 10, 4, ["dci"], fast)["dci"] > 0                      # just a factor count
    with pytest.raises(ValueError):
        estimate_seconds(-1, 10, SPRITES, ["mig"], fast)


def test_fast_is_left_alone_for_a_small_model_and_bounded_for_a_large_one():
    fast = MetricSettings.fast(seed=3)
    assert fast.bounded(10, 737_280) == fast
    bounded = fast.bounded(128, 737_280)
    assert bounded.n_samples < fast.n_samples and bounded.dci_trees < fast.dci_trees
    assert bounded.n_samples >= MIN_FAST_SAMPLES and bounded.dci_trees >= MIN_DCI_TREES
    assert bounded.bounded_for == 128 and bounded.seed == 3 and bounded.max_images == fast.max_images
    assert (bounded.num_train, bounded.num_eval) == (fast.num_train, fast.num_eval)
    total = sum(estimate_seconds(10_000, 128, SPRITES, DEFAULTS, bounded).values())
    assert total <= FAST_BUDGET_S or (bounded.n_samples, bounded.dci_trees) == (MIN_FAST_SAMPLES, MIN_DCI_TREES)
    assert total <= 1.2 * FAST_BUDGET_S                          # near a minute at z = 128
    middle = fast.bounded(40, 737_280)
    assert sum(estimate_seconds(10_000, 40, SPRITES, DEFAULTS, middle).values()) <= FAST_BUDGET_S
    huge = fast.bounded(4096, 737_280)   # cannot fit: stops at the floors, never below
    assert (huge.n_samples, huge.dci_trees) == (MIN_FAST_SAMPLES, MIN_DCI_TREES)
    only_mig = fast.bounded(128, 737_280, metrics=["mig"])
    assert only_mig.dci_trees == fast.dci_trees                 # DCI does not run: its budget is not touched


def test_dci_with_fewer_stages_is_recorded_and_still_finds_the_factor():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, (600, 2))
    x = np.concatenate([y + rng.normal(0, 0.1, y.shape), rng.normal(0, 1, (600, 3))], axis=1)
    few = dci.dci_score(x[:400], y[:400], x[400:], y[400:], trees=10, jobs=1)
    assert few.informativeness_test > 0.9
    assert few.importance[:2].sum() > 0.9 * few.importance.sum()
    assert dci.classifier_name(100) == "GradientBoostingClassifier()"
    assert dci.classifier_name(10) == "GradientBoostingClassifier(n_estimators=10, learning_rate=1)"
    assert dci.learning_rate(25) == pytest.approx(0.4)
