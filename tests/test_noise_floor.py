"""The mutual-information noise floor, Chen's MIG clamp and AAM's clamp marks, on real code paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dvae_cli.metrics import aam, mig
from dvae_cli.metrics.noise import mi_noise_floor
from dvae_cli.metrics.suite import MetricSettings, compute_metrics
from dvae_cli.runs.metrics_detail import MutualInfo

SIZES = (3, 6, 10, 8, 8)
NAMES = ("shape", "scale", "orientation", "posX", "posY")
CHEN = NAMES[1:]          # the factors MIG and AAM score on dSprites-like names
SMALL = (3, 4, 5, 4, 4)   # 960 images


def grid(sizes: tuple[int, ...] = SIZES) -> np.ndarray:
    return np.stack(np.unravel_index(np.arange(int(np.prod(sizes))), sizes), axis=1)


# ------------------------------------------------------------------ Chen's clamp in MIG


def test_mig_clamps_a_negative_second_estimate_as_chens_code():
    mi = np.array([[0.5, -0.05, -0.1], [-0.01, -0.03, -0.2], [0.4, 0.1, -0.3]])
    entropy = np.ones(3)
    # Chen et al. (metric_helpers/mi_metric.py): sort, clamp(min=0), then I_(1) - I_(2)
    np.testing.assert_allclose(mig.mig_scores(mi, entropy), [0.5, 0.0, 0.3])
    np.testing.assert_allclose(mig.mig_scores(mi, entropy, clamp=False), [0.55, 0.02, 0.3])
    np.testing.assert_array_equal(mig.negative_second(mi), [True, True, False])


def test_the_mig_protocol_records_the_clamp_and_the_floor():
    classes = grid(SMALL)
    rng = np.random.default_rng(0)
    mean = torch.tensor(rng.normal(0, 1, (len(classes), 4)), dtype=torch.float32)
    report = compute_metrics(mean, torch.full_like(mean, -3.0), classes, NAMES, SMALL, ["mig", "aam"],
                             MetricSettings(n_samples=500, seed=0))
    protocol = report.protocols["MIG"]
    assert "clamped at 0" in protocol["clamp"]
    floor = protocol["noise_floor_nats"]
    assert set(floor) == set(CHEN)
    assert floor["orientation"] == pytest.approx(mi_noise_floor(len(classes), 500, 5), abs=1e-4)
    detail = report.details["mig"]
    assert set(detail["second_mi_negative"]) == set(CHEN)
    assert protocol["second_mi_clamped"] == [f for f, neg in detail["second_mi_negative"].items() if neg]


# ------------------------------------------------------------------ AAM: the clamp is marked


def test_aam_clamped_says_which_zeros_are_the_clamp():
    mi = np.array([[1.0, 0.2, 0.1], [0.3, 0.2, 0.15], [-0.01, -0.02, 0.0], [0.5, 0.0, 0.0]])
    np.testing.assert_allclose(aam.aam_scores(mi), [0.7, 0.0, 0.0, 1.0])     # disentangling-vae's number
    np.testing.assert_array_equal(aam.aam_clamped(mi), [False, True, True, False])


def test_a_code_that_carries_nothing_has_every_aam_marked_as_clamped_or_under_the_floor():
    classes = grid(SMALL)
    rng = np.random.default_rng(1)
    mean = torch.tensor(rng.normal(0, 1, (len(classes), 6)), dtype=torch.float32)
    report = compute_metrics(mean, torch.full_like(mean, -2.0), classes, NAMES, SMALL, ["aam"],
                             MetricSettings(n_samples=500, seed=0))
    protocol, detail = report.protocols["AAM"], report.details["mig"]
    assert report.scores["AAM"] is not None and report.scores["AAM"] < 0.2
    for factor in CHEN:   # a weak factor's AAM is either the clamp's 0 or rests on a top MI under the floor
        assert detail["aam_clamped"][factor] or detail["top_mi_below_floor"][factor]
        if detail["aam_per_factor"][factor] == 0.0:
            assert detail["aam_clamped"][factor] and factor in protocol["clamped_at_0"]
    assert "disentangling-vae" in protocol["clamp"]


# ------------------------------------------------------------------ the floor itself


def test_the_floor_falls_with_the_images_per_value_and_refuses_nonsense():
    assert mi_noise_floor(1_000, 2_000, 40) > mi_noise_floor(10_000, 2_000, 40) > mi_noise_floor(737_280, 10_000, 40)
    assert mi_noise_floor(10_000, 2_000, 40) > mi_noise_floor(10_000, 2_000, 6)
    assert mi_noise_floor(737_280, 500, 40) > mi_noise_floor(737_280, 10_000, 40)   # fewer samples, more noise
    for bad in ((0, 10, 2), (10, 0, 2), (10, 10, 0)):
        with pytest.raises(ValueError):
            mi_noise_floor(*bad)


def test_permutation_null_estimates_stay_under_the_floor():
    """Latents shaped as a trained model's (sharp informative ones, prior-like ones), factors permuted."""
    classes = grid()
    n = len(classes)
    rng = np.random.default_rng(2)
    mean = np.stack([classes[:, 3] / 7 * 4 - 2 + rng.normal(0, 0.02, n), classes[:, 2] / 9 * 4 - 2,
                     rng.normal(0, 0.03, n), rng.normal(0, 0.03, n)], axis=1)
    std = np.stack([np.full(n, 0.05), np.full(n, 0.1), np.full(n, 1.0), np.full(n, 0.97)], axis=1)
    mean_t, logvar_t = torch.tensor(mean, dtype=torch.float32), torch.tensor(2 * np.log(std), dtype=torch.float32)
    null = []
    for p in range(2):
        permuted = classes[np.random.default_rng(100 + p).permutation(n)][:, 1:]
        null.append(mig.mutual_information(mean_t, logvar_t, permuted, n_samples=2_000, seed=p).mi)
    values = np.concatenate([m.ravel() for m in null])
    floors = np.tile(np.repeat([mi_noise_floor(n, 2_000, k) for k in SIZES[1:]], 4), 2)
    assert np.mean(np.abs(values) > floors) <= 0.05
    real = mig.mutual_information(mean_t, logvar_t, classes[:, 1:], n_samples=2_000, seed=0).mi
    assert real[2, 0] > 10 * mi_noise_floor(n, 2_000, 8)            # posX in z0 is far above it


def test_entropies_do_not_depend_on_torch_threads():
    classes = grid(SMALL)
    rng = np.random.default_rng(3)
    mean = torch.tensor(rng.normal(0, 1, (len(classes), 3)), dtype=torch.float32)
    logvar = torch.tensor(np.log(rng.uniform(0.01, 0.5, (len(classes), 3))), dtype=torch.float32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = mig.mutual_information(mean, logvar, classes, n_samples=300, seed=5)
        torch.set_num_threads(2)
        two = mig.mutual_information(mean, logvar, classes, n_samples=300, seed=5)
        assert torch.get_num_threads() == 2                                   # restored
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_array_equal(one.mi, two.mi)


# ------------------------------------------------------------------ mutual_info.png


def test_the_plot_greys_cells_under_the_floor_and_states_it():
    from dvae_cli.viz.charts import draw_mutual_info, noise_floors

    matrix = MutualInfo("mig", ["scale", "posX"], ["z0", "z1", "z2"], [[0.9, 0.004, -0.01], [0.02, 1.2, 0.3]],
                        [0.5, 0.3])
    fig = draw_mutual_info(matrix, "run", [0.015, 0.025])
    label = fig.axes[0].get_xlabel()
    assert "noise floor 0.015-0.025 nats" in label and "3 of 6 cells under it" in label
    detail = {"mig": {"noise_floor": {"scale": 0.015, "posX": 0.025}}}
    assert noise_floors(detail, matrix) == [0.015, 0.025]
    old = {"n_images": 10_000, "settings": {"n_samples": 2_000},
           "mig": {"factor_entropy": [math.log(6), math.log(32)]}}
    assert noise_floors(old, matrix) == [mi_noise_floor(10_000, 2_000, 6), mi_noise_floor(10_000, 2_000, 32)]
    discrete = MutualInfo("mig_discrete", matrix.factors, matrix.latents, matrix.values, matrix.gap)
    assert noise_floors(detail, discrete) is None   # a plug-in estimate: not this estimator's floor


def test_mig_says_when_a_factors_largest_estimate_is_under_its_noise_floor():
    """A code that carries nothing: every factor's top MI is noise, and MIG's protocol and log say so."""
    from dvae_cli.metrics.names import MetricSettings
    from dvae_cli.metrics.suite import compute_metrics

    rng = np.random.default_rng(0)
    classes = np.stack([rng.permutation(np.arange(400) % k) for k in (4, 8)], axis=1)
    lines: list[str] = []
    report = compute_metrics(rng.normal(size=(400, 3)), np.full((400, 3), -2.0), classes, ("a", "b"), (4, 8),
                             ("mig",), MetricSettings(n_samples=400), log=lines.append)
    assert report.protocols["MIG"]["top_mi_below_floor"] == ["a", "b"]
    assert any("under its noise floor" in line for line in lines)
