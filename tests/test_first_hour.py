"""What a researcher meets in the first hour (issue 16): runs that say how they stopped, continuing a
diverged run, quick looks that are quick, and the small things."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from dvae_cli.config import resolve_run
from dvae_cli.engine.run import train_run
from dvae_cli.engine.trainer import Callback, TrainState
from dvae_cli.errors import ConfigError, NonFiniteLossError, UnknownNameError
from dvae_cli.metrics.sampling import stratified_subset
from dvae_cli.runs.outcome import read_outcome
from dvae_cli.runs.summary import summarize_run

import tiny_runs
from conftest import run_dvae

#: The suite's tiny run as betaH, two epochs, a checkpoint each, with its test pass.
TINY = {**tiny_runs.TINY, "epochs": 2, "checkpoint_every": 1, "eval_batchsize": 50, "reg_anneal": 10, "loss": "betaH",
        "no_test": False}


class NaNAt(Callback):
    """Makes a decoder weight NaN after step `step` (what a diverging optimiser does)."""

    def __init__(self, step: int) -> None:
        self.step, self.model = step, None

    def setup(self, trainer) -> None:
        self.model = trainer.model

    def on_step_end(self, state: TrainState) -> None:
        if state.step == self.step:
            with torch.no_grad():
                next(self.model.decoder.parameters()).fill_(math.nan)


class Boom(Callback):
    def on_step_end(self, state: TrainState) -> None:
        if state.step == 3:
            raise RuntimeError("disk on fire\nsecond line")


@pytest.fixture()
def diverged(tmp_path, sprites_data_dir):
    """A run that diverged in its second epoch (8 steps per epoch), after its first checkpoint."""
    spec = resolve_run("boom", None, TINY).spec
    with pytest.raises(NonFiniteLossError):
        train_run(spec, tmp_path, sprites_data_dir, callbacks=[NaNAt(11)])
    return tmp_path


# ---------------------------------------------------------------- runs that stopped


def test_a_diverged_run_records_it_and_every_reader_says_so(diverged, sprites_data_dir):
    outcome = read_outcome(diverged / "boom")
    assert (outcome.state, outcome.step, outcome.epoch, outcome.detail) == ("diverged", 12, 2, "recon_loss")
    assert outcome.checkpoint == "training_state.pt"
    summary = summarize_run(diverged / "boom")
    assert summary.status == "diverged" and "at step 12 (epoch 2): non-finite recon_loss" in summary.reason
    compare = run_dvae("compare", "--results-dir", str(diverged))
    assert "boom: diverged (at step 12 (epoch 2)" in compare.stdout
    plot = run_dvae("plot", "boom", "reconstruct", "--results-dir", str(diverged), "--data-dir", str(sprites_data_dir))
    assert plot.returncode == 2 and "run 'boom' has no model.pt: it diverged at step 12" in plot.stderr
    evaluation = run_dvae("eval", "boom", "--results-dir", str(diverged), "--data-dir", str(sprites_data_dir))
    assert evaluation.returncode == 2 and "dvae train boom --resume" in evaluation.stderr


def test_interrupted_and_crashed_runs_record_how(tmp_path, sprites_data_dir):
    from test_user_reports import InterruptAt

    from dvae_cli.errors import TrainingInterrupted

    with pytest.raises(TrainingInterrupted):
        train_run(resolve_run("cut", None, TINY).spec, tmp_path, sprites_data_dir, callbacks=[InterruptAt(5)])
    outcome = read_outcome(tmp_path / "cut")
    assert (outcome.state, outcome.detail, outcome.step, outcome.epoch) == ("interrupted", "SIGINT", 5, 1)
    with pytest.raises(RuntimeError):
        train_run(resolve_run("fire", None, TINY).spec, tmp_path, sprites_data_dir, callbacks=[Boom()])
    crashed = read_outcome(tmp_path / "fire")
    assert crashed.state == "crashed" and crashed.detail == "RuntimeError: disk on fire" and crashed.step == 3
    assert summarize_run(tmp_path / "fire").status == "crashed"
    train_run(resolve_run("cut", None, TINY).spec, tmp_path, sprites_data_dir, resume=True)
    assert read_outcome(tmp_path / "cut").state == "finished"
    assert summarize_run(tmp_path / "cut").status == "finished"


def test_a_diverged_run_continues_from_its_last_good_checkpoint_with_a_lower_lr(diverged, sprites_data_dir):
    results = str(diverged)
    out = run_dvae("train", "boom", "--resume", "--lr", "1e-4", "--clip-grad", "5", "--no-progress-bar",
                   "--results-dir", results, "--data-dir", str(sprites_data_dir))
    assert out.returncode == 0, out.stderr
    assert "changed on resume: lr 0.0005 -> 0.0001, clip_grad None -> 5.0" in out.stdout
    spec = json.loads((diverged / "boom" / "specs.json").read_text())
    assert spec["lr"] == 1e-4 and spec["clip_grad"] == 5.0
    assert spec["changes"] == [{"step": 8, "epoch": 2, "lr": [0.0005, 0.0001], "clip_grad": [None, 5.0]}]
    assert read_outcome(diverged / "boom").state == "finished"
    compare = run_dvae("compare", "--results-dir", results)
    assert "boom: resumed at step 8 with lr 0.0005 -> 0.0001, clip_grad None -> 5.0" in compare.stdout
    refused = run_dvae("train", "boom", "--resume", "--betaH-B", "2", "--results-dir", results,
                       "--data-dir", str(sprites_data_dir))
    assert refused.returncode == 2 and "a resumed run keeps its spec" in refused.stderr


def test_clip_grad_bounds_the_step_it_takes(tmp_path, sprites_data_dir):
    norms = []

    class Watch(Callback):
        def setup(self, trainer) -> None:
            self.trainer = trainer
            params = [p for group in trainer.optimizer.param_groups for p in group["params"]]
            self.before = [p.detach().clone() for p in params]
            self.params = params

        def on_step_end(self, state: TrainState) -> None:   # the Adam step moved by lr per weight at most
            from dvae_cli.engine.health import global_norm

            norms.append(float(global_norm([g for p in self.params if (g := p.grad) is not None])))

    spec = resolve_run("clipped", None, {**TINY, "clip_grad": 0.5, "epochs": 1, "no_test": True}).spec
    train_run(spec, tmp_path, sprites_data_dir, callbacks=[Watch()])
    assert max(norms) <= 0.5 + 1e-4
    with pytest.raises(ConfigError, match="--clip-grad must be a positive number"):
        resolve_run("bad", None, {**TINY, "clip_grad": -1.0})


def test_a_run_stopped_before_its_first_checkpoint_is_no_dead_end(tmp_path, sprites_data_dir):
    spec = resolve_run("early", None, {**TINY, "no_test": True}).spec
    folder = tmp_path / "early"
    folder.mkdir()
    (folder / "specs.json").write_text(json.dumps(spec.to_dict()))   # all a Ctrl-C in the first seconds leaves
    again = run_dvae("train", "early", "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert again.returncode == 2 and "stopped before its first checkpoint; --resume starts it again" in again.stderr
    resumed = run_dvae("train", "early", "--resume", "--results-dir", str(tmp_path), "--data-dir",
                       str(sprites_data_dir))
    assert resumed.returncode == 0, resumed.stderr
    assert "has no training state yet" in resumed.stdout and (folder / "model.pt").is_file()


def test_a_reference_run_without_training_state_is_not_restarted(tmp_path, disvae_results, sprites_data_dir):
    shutil.copytree(disvae_results / "btcvae_dsprites", tmp_path / "ref")
    before = (tmp_path / "ref" / "model.pt").read_bytes()
    out = run_dvae("train", "ref", "--resume", "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert out.returncode == 2 and "no training state to resume from" in out.stderr
    assert (tmp_path / "ref" / "model.pt").read_bytes() == before


# ---------------------------------------------------------------- quick looks


def test_stratified_subsets_balance_every_factor():
    sizes = (3, 6, 40, 32)
    classes = np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, len(sizes))
    chosen = stratified_subset(classes, 960, np.random.default_rng(0))
    assert len(chosen) == len(set(chosen.tolist())) == 960
    for k, size in enumerate(sizes):
        counts = np.bincount(classes[chosen, k], minlength=size)
        assert counts.max() - counts.min() <= 1, (k, counts)   # 960 / 40 = 24 each, exactly
    holes = classes[np.random.default_rng(1).random(len(classes)) > 0.3]   # not a full grid
    picked = stratified_subset(holes, 500, np.random.default_rng(0))
    assert len(np.unique(picked)) == 500 and picked.max() < len(holes)


def test_fast_metrics_score_a_balanced_subset_and_say_so(tmp_path, sprites_data_dir):
    train_run(resolve_run("look", None, {**TINY, "no_test": True}).spec, tmp_path, sprites_data_dir)
    out = run_dvae("eval", "look", "--metric", "mig_discrete", "--fast", "--no-test", "--results-dir", str(tmp_path),
                   "--data-dir", str(sprites_data_dir))
    assert out.returncode == 0, out.stderr
    protocol = json.loads((tmp_path / "look" / "metrics.log").read_text())["protocols"]["MIG_discrete"]
    assert protocol["images"] == 10_000 and protocol["num_train"] == 1_000
    assert protocol["image_selection"] == "10,000 of 737,280 images, factor values balanced (seed 1234)"
    assert "encoding: 10,000/10,000 (100%)" in out.stdout   # progress of the long phase, in a log


def test_training_in_a_log_prints_a_line_every_log_every_seconds(tmp_path, sprites_data_dir):
    out = run_dvae("train", "logged", "--subsample", "1024", "-e", "1", "-b", "32", "-z", "3", "--no-test",
                   "--device", "cpu", "--log-every", "0.01", "--results-dir", str(tmp_path), "--data-dir",
                   str(sprites_data_dir))
    assert out.returncode == 0, out.stderr
    within = [line for line in out.stdout.splitlines() if line.startswith("epoch 1/1  step") and "% of" not in line
              and "of the epoch" in line]
    assert within, out.stdout
    assert "img/s" in within[0] and "loss" in within[0]


# ---------------------------------------------------------------- small things


def test_all_images_for_training_with_test_fraction_zero(tmp_path, sprites_data_dir):
    spec = resolve_run("all", None, {**TINY, "test_fraction": 0.0, "no_test": True}).spec
    result = train_run(spec, tmp_path, sprites_data_dir)
    assert (result.spec.n_train, result.spec.n_test) == (256, 0)
    with pytest.raises(ConfigError, match="or 0 with --no-test"):
        resolve_run("x", None, {**TINY, "test_fraction": 0.0})
    refused = run_dvae("eval", "all", "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert refused.returncode == 2 and "holds out no test images" in refused.stderr


def test_beta_b_test_losses_use_the_capacity_training_ended_at(tmp_path, sprites_data_dir):
    spec = resolve_run("cap", None, {**TINY, "loss": "betaB", "reg_anneal": 1000, "betaB_finC": 25}).spec
    result = train_run(spec, tmp_path, sprites_data_dir)    # 16 steps of a 1,000-step schedule
    assert result.test_losses["C"] == pytest.approx(25 * 16 / 1000)
    out = run_dvae("eval", "cap", "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert out.returncode == 0
    assert json.loads((tmp_path / "cap" / "test_losses.log").read_text())["C"] == pytest.approx(0.4)


def test_names_are_suggested_whatever_their_case():
    with pytest.raises(UnknownNameError, match="did you mean 'MIG'"):
        raise UnknownNameError("sort column", "mig", ["name", "MIG", "AAM"])
    from dvae_cli.metrics.names import parse_metric_names

    from dvae_cli.catalogue.metrics import METRICS

    with pytest.raises(UnknownNameError) as refused:
        parse_metric_names("foo")
    choices = str(refused.value).split("choose from: ")[1].split(", ")
    assert choices == [*METRICS, "all"]


def test_help_shows_flags_without_a_type_and_counts_in_words(tmp_path, sprites_data_dir):
    helped = run_dvae("train", "--help")
    assert "--overwrite" in helped.stdout and "<bool>" not in helped.stdout
    out = run_dvae("train", "one", "--subsample", "64", "-e", "1", "-b", "32", "--no-test", "--device", "cpu",
                   "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert "1 epoch of 2 steps" in out.stdout and "1 epochs" not in out.stdout
    assert "Next: dvae eval one --metrics --fast --no-test --results-dir" in out.stdout


def test_celeba_offline_names_one_remedy_and_the_prepare_command(tmp_path):
    out = run_dvae("data", "prepare", "celeba", "--data-dir", str(tmp_path), env={"DVAE_OFFLINE": "1"})
    assert out.returncode == 2
    assert "then run: dvae data prepare celeba" in out.stderr and "gdown" not in out.stderr
