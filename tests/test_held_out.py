"""Held-out scores are scored on images they were not fitted to, whatever the number of images.

A code independent of the factors must score chance on the held-out scores at any N; before
the split, DCI's trees memorised the scored images and a 300-image set scored ~1.0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dvae_cli.catalogue.metrics import METRICS, MetricInfo, register_metric
from dvae_cli.errors import ConfigError
from dvae_cli.metrics.names import MetricSettings
from dvae_cli.metrics.runner import MetricInputs, MetricsReport
from dvae_cli.metrics.sampling import MIN_HELD_OUT_IMAGES, held_out_split
from dvae_cli.metrics.suite import compute_metrics

ROOT = Path(__file__).resolve().parents[1]
NAMES, SIZES = ("shape", "size", "hue"), (3, 4, 2)


def balanced_factors(n: int, seed: int = 0) -> np.ndarray:
    """(n, 3) factor classes, each factor's values equally often, independently shuffled."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(np.arange(n) % size) for size in SIZES], axis=1)


@pytest.mark.parametrize("n", [300, 500])
def test_a_code_independent_of_the_factors_scores_chance_on_every_held_out_score(n):
    classes = balanced_factors(n)
    codes = np.random.default_rng(1).normal(size=(n, 6))          # carries nothing about any factor
    lines: list[str] = []
    report = compute_metrics(codes, None, classes, NAMES, SIZES, ("dci", "sap", "explicitness", "infomec"),
                             MetricSettings(), log=lines.append)
    test_points = report.protocols["DCI_informativeness"]["num_eval"]
    chance = float(np.mean([1 / size for size in SIZES]))      # balanced factors: accuracy 1/K_k
    spread = 3 * np.sqrt(chance * (1 - chance) / test_points)
    assert report.scores["DCI_informativeness"] <= chance + spread, report.scores   # was 0.94-0.98
    assert report.scores["SAP"] < 0.1
    assert abs(report.scores["explicitness"] - 0.5) < 0.065   # ROC-AUC 0.5; in-sample it was 0.57-0.58
    assert report.scores["InfoE"] < 0.01                       # in-sample it was 0.013-0.02
    # fewer images than 10,000 + 5,000 points: both sets shrank, said once and recorded
    assert sum(line.startswith("warning:") for line in lines) == 1
    protocol = report.protocols["DCI_informativeness"]
    assert protocol["shrunk_from"] == [10_000, 5_000]
    assert protocol["num_train"] + protocol["num_eval"] == n == protocol["train_images"] + protocol["test_images"]


@pytest.fixture
def captured():
    """A registered metric whose runner keeps the inputs it was given (the real suite builds them)."""
    seen: list[MetricInputs] = []

    def run(inputs: MetricInputs, report: MetricsReport) -> None:
        seen.append(inputs)
        report.add("PROBE", 0.0, inputs.held_out)

    register_metric(MetricInfo("probe_split", ("PROBE",), "the split", "none", "none", run, held_out=True))
    yield seen
    METRICS.unregister("probe_split")


@pytest.mark.parametrize("fast", [True, False])
def test_the_readme_study_example_has_no_train_test_overlap(captured, fast):
    readme = (ROOT / "README.md").read_text()
    at = readme.index("max_images = 5000")
    block = readme[readme.rindex("```toml", 0, at):readme.index("```", at)]
    max_images = int(block.split("max_images = ")[1].split()[0])
    assert ("fast_metrics = true" in block) or not fast           # the example's protocol, and the full one
    settings = MetricSettings.fast() if fast else MetricSettings()
    classes = balanced_factors(max_images)
    codes = np.arange(max_images, dtype=np.float64)[:, None]      # each code names its image
    compute_metrics(codes, None, classes, NAMES, SIZES, ("probe_split",), settings)
    inputs = captured[0]
    train, test = set(inputs.x_train[:, 0].tolist()), set(inputs.x_test[:, 0].tolist())
    assert not train & test
    assert len(train) == len(inputs.x_train) and len(test) == len(inputs.x_test)   # no image drawn twice
    assert not set(inputs.split.train_pool.tolist()) & set(inputs.split.test_pool.tolist())


def test_enough_images_give_the_protocols_points_all_distinct_and_disjoint():
    split = held_out_split(20_000, 10_000, 5_000, np.random.default_rng(0))
    assert (len(split.train_rows), len(split.test_rows)) == (10_000, 5_000) and not split.shrunk
    assert not np.intersect1d(split.train_rows, split.test_rows).size
    assert set(split.train_rows) <= set(split.train_pool) and set(split.test_rows) <= set(split.test_pool)
    assert "shrunk_from" not in split.protocol() and split.warning(20_000) is None


def test_factorvae_and_betavae_vote_on_images_disjoint_from_their_training_votes():
    from dvae_cli.metrics.sampling import FactorSampler

    classes = balanced_factors(600)
    split = held_out_split(600, 1_000, 500, np.random.default_rng(0))
    sampler = FactorSampler(classes, np.random.default_rng(1), split.test_pool)
    drawn = np.concatenate([sampler.uniform(500), sampler.with_factor(0, classes[split.test_pool[:50], 0])])
    assert set(drawn.tolist()) <= set(split.test_pool.tolist())
    codes = np.random.default_rng(2).normal(size=(600, 5))
    report = compute_metrics(codes, None, classes, NAMES, SIZES, ("factorvae", "betavae"),
                             MetricSettings(num_train=1_000, num_eval=500))
    for score in ("FactorVAE", "BetaVAE"):
        protocol = report.protocols[score]
        assert protocol["split"] == "disjoint train/test images" and protocol["num_train"] == 1_000
        assert report.scores[score] < 1 / 3 + 0.1                 # chance: 3 factors


def test_too_few_images_for_a_held_out_score_is_refused_with_the_minimum():
    n = MIN_HELD_OUT_IMAGES - 1
    with pytest.raises(ConfigError, match=f"at least {MIN_HELD_OUT_IMAGES} images"):
        compute_metrics(np.zeros((n, 2)), None, balanced_factors(n), NAMES, SIZES, ("dci",))


def test_sampling_metrics_without_log_variances_are_refused_before_any_work():
    with pytest.raises(ConfigError, match="need log-variances"):
        compute_metrics(np.zeros((100, 2)), None, balanced_factors(100), NAMES, SIZES, ("mig", "dci"))


def test_factorvae_with_no_active_latent_is_null_with_the_reason_not_zero():
    report = compute_metrics(np.ones((400, 4)), None, balanced_factors(400), NAMES, SIZES, ("factorvae",),
                             MetricSettings(num_train=500, num_eval=200))
    assert report.scores["FactorVAE"] is None
    assert "no active latent" in report.protocols["FactorVAE"]["not_computed"]



def test_scores_on_points_use_every_image_and_say_when_fewer_than_asked():
    n = 300
    lines: list[str] = []
    report = compute_metrics(np.random.default_rng(3).normal(size=(n, 4)), None, balanced_factors(n), NAMES, SIZES,
                             ("mig_discrete", "modularity", "irs"), MetricSettings(num_train=1_000, num_eval=500),
                             log=lines.append)
    for score in ("MIG_discrete", "modularity", "IRS"):
        protocol = report.protocols[score]
        assert protocol["num_train"] == n and protocol["shrunk_from"] == 1_000, score   # all images, not the pool
    assert sum(line.startswith("warning:") for line in lines) == 1
    assert any(f"{n:,} points" in line for line in lines)                    # the console says what it used
