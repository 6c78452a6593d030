"""The non-finite guard: it names the step and the term, and tells a diverged run from a bug.

Advice to lower --lr is given only when the loss, the gradient norm or the weights
really grew before the NaN; a NaN out of a steady run is reported as a bug.
"""

from __future__ import annotations

import math

import pytest
import torch

from dvae_cli.config import resolve_run
from dvae_cli.engine.health import DivergenceMonitor
from dvae_cli.engine.run import train_run
from dvae_cli.engine.trainer import Callback, Trainer
from dvae_cli.errors import NonFiniteLossError

SMALL = {"subsample": 512, "epochs": 3, "batch_size": 32, "latent_dim": 4, "device": "cpu", "no_test": True,
         "checkpoint_every": 1, "loss": "betaH"}


class NaNGradientAt(Callback):
    """From step `step` on, one decoder weight gets a NaN gradient while the loss stays finite."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.current = 0

    def setup(self, trainer: Trainer) -> None:
        weight = trainer.model.decoder.convT3.weight
        weight.register_hook(lambda grad: grad * math.nan if self.current + 1 >= self.step else grad)

    def on_step_end(self, state) -> None:
        self.current = state.step


def test_a_nan_gradient_of_a_steady_run_is_reported_as_a_bug(tmp_path, sprites_data_dir):
    spec = resolve_run("bug", None, SMALL).spec
    with pytest.raises(NonFiniteLossError) as info:
        train_run(spec, tmp_path, sprites_data_dir, callbacks=[NaNGradientAt(20)])
    message = str(info.value)
    assert "at step 20 " in message or "at step 21 " in message
    assert "the gradient first became non-finite at step 20" in message
    assert "this is a bug in dvae" in message and "--lr" not in message
    assert "last good checkpoint" in message and "(1 epoch done, step 16)" in message
    assert info.value.exploded is False and info.value.exit_code == 3


def test_a_learning_rate_far_too_high_is_reported_as_a_divergence(tmp_path, sprites_data_dir):
    spec = resolve_run("hot", None, {**SMALL, "lr": 1.0}).spec
    with pytest.raises(NonFiniteLossError) as info:
        train_run(spec, tmp_path, sprites_data_dir)
    message = str(info.value)
    assert "the optimisation diverged; lower --lr" in message
    assert "bug" not in message and info.value.exploded is True


def test_the_monitor_judges_growth_not_size():
    steady = DivergenceMonitor()
    for step in range(1, 80):
        steady.add(torch.tensor(300.0 - step), torch.tensor(50.0 + step % 7), torch.tensor(40.0), step)
    steady.add(torch.tensor(220.0), torch.tensor(math.nan), torch.tensor(40.0), 80)
    report = steady.report()
    assert report.first_bad_step == 80 and not report.exploded
    assert report.typical_norm == pytest.approx(53.0, abs=3.0)

    growing = DivergenceMonitor()
    for step in range(1, 30):
        growing.add(torch.tensor(300.0 * 1.5 ** step), torch.tensor(50.0 * 1.5 ** step), torch.tensor(40.0), step)
    growing.add(torch.tensor(math.inf), torch.tensor(math.inf), torch.tensor(40.0), 30)
    assert growing.report().exploded and growing.report().first_bad_step == 30

    jumped = DivergenceMonitor()   # one huge optimiser step: the weights, not yet the loss, show it
    jumped.add(torch.tensor(3000.0), torch.tensor(4000.0), torch.tensor(35.0), 1)
    jumped.add(torch.tensor(3000.0), torch.tensor(math.nan), torch.tensor(4e4), 2)
    assert jumped.report().exploded
