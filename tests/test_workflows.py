"""The use cases from Python (`dvae_cli.workflows`): train and evaluate a tiny run, and what they read.

``dvae eval RUN --metrics`` reads the run's files once: an audit hook counts the real
``open`` calls of the command run in this process (no mock of the engine).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from tiny_runs import TINY
from typer.testing import CliRunner

from dvae_cli.data.catalog import dataset_info
from dvae_cli.errors import ConfigError, RunExistsError, RunNotFoundError, UnknownNameError
from dvae_cli.metrics.names import MetricSettings, default_metrics
from dvae_cli.runs.layout import METRICS_LOG
from dvae_cli.workflows import EvaluateEvents, EvaluateRequest, TrainRequest, evaluate, resolve_training, train
from dvae_cli.workflows.evaluate import chosen_metrics, metric_settings

#: Paths whose opens the audit hook counts while `_COUNTING` is set (a hook cannot be removed).
_WATCHED: dict[str, str] = {}
_OPENS: Counter[str] = Counter()
_COUNTING = [False]


def _count_opens(event: str, args: tuple) -> None:
    if not _COUNTING[0] or event != "open" or not args or isinstance(args[0], int) or args[0] is None:
        return
    try:
        path = os.path.realpath(os.fsdecode(args[0]))
    except (TypeError, ValueError):
        return
    if path in _WATCHED:
        _OPENS[_WATCHED[path]] += 1


sys.addaudithook(_count_opens)


def _copy(run: Path, target: Path) -> Path:
    shutil.copytree(run, target)
    return target


def test_eval_metrics_reads_the_spec_the_model_and_the_dataset_once(tiny_run, sprites_data_dir, tmp_path):
    from dvae_cli.cli.app import app

    run = _copy(tiny_run, tmp_path / "results" / "tiny")
    _WATCHED.clear()
    _WATCHED.update({os.path.realpath(run / "model.pt"): "model.pt",
                     os.path.realpath(run / "specs.json"): "specs.json",
                     os.path.realpath(sprites_data_dir / dataset_info("sprites").prepared): "dataset"})
    _OPENS.clear()
    _COUNTING[0] = True
    try:
        result = CliRunner().invoke(app, ["eval", "tiny", "--metrics", "--fast", "--max-images", "300",
                                          "--metric", "mig,aam", "--results-dir", str(tmp_path / "results"),
                                          "--data-dir", str(sprites_data_dir), "--tracker", "none"])
    finally:
        _COUNTING[0] = False
    assert result.exit_code == 0, result.output
    assert "test losses on" in result.output and "metrics on" in result.output
    assert (run / "test_losses.log").is_file() and "MIG" in json.loads((run / METRICS_LOG).read_text())
    assert dict(_OPENS) == {"model.pt": 1, "specs.json": 1, "dataset": 1}


class Recorder(EvaluateEvents):
    """The events of an evaluation, in order (what a shell would show)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.lines: list[str] = []
        self.phases: set[str] = set()

    def found(self, folder):
        self.seen.append(f"found {folder.name}")

    def log(self, text):
        self.lines.append(text)

    def tested(self, evaluation):
        self.seen.append("tested")

    @contextlib.contextmanager
    def scoring(self):
        self.seen.append("scoring")
        yield lambda phase, done, total: self.phases.add(phase)

    def scored(self, result):
        self.seen.append("scored")


def test_train_then_evaluate_from_python(tmp_path, sprites_data_dir):
    results = tmp_path / "results"
    request = TrainRequest("wf", overrides={**TINY, "no_test": False, "eval_batchsize": 64}, results_dir=results,
                           data_dir=sprites_data_dir, handle_signals=False)
    lines: list[str] = []
    trained = train(request, log=lines.append)
    folder = trained.folder
    assert folder.path == results / "wf" and trained.resolution.spec is trained.spec and not trained.already_finished
    assert {"specs.json", "model.pt", "train_losses.log", "test_losses.log", "training.gif"} <= {
        p.name for p in folder.path.iterdir()}   # the training GIF is one of the standard callbacks
    assert trained.test_losses == folder.test_losses() and [epoch for epoch, _ in trained.history["loss"]] == [0]
    assert any(line.startswith("training on cpu: 256 images") for line in lines)

    events = Recorder()
    evaluated = evaluate(EvaluateRequest("wf", metrics="mig", fast=True, max_images=300, trackers="none",
                                         device="cpu", results_dir=results, data_dir=sprites_data_dir), events)
    assert events.seen == ["found wf", "tested", "scoring", "scored"]   # the test losses, then the scores
    assert "encoding 300 images of sprites on cpu" in events.lines and "encoding" in events.phases
    assert evaluated.metrics == ("mig",) and evaluated.notes == [] and evaluated.trackers == {}
    # the test losses of the model saved equal those training computed, and are what test_losses.log holds
    assert evaluated.test_losses == folder.test_losses()
    assert evaluated.test_losses == pytest.approx(trained.test_losses, rel=1e-5)
    assert (folder.path / "test_losses.log.bak").is_file() and evaluated.test.n_images == 28
    logged = json.loads((folder.path / METRICS_LOG).read_text())
    assert evaluated.scores == {"MIG": logged["MIG"]} and logged["dataset"] == "sprites"
    assert evaluated.scored is not None and all(path.is_file() for path in evaluated.scored.written)

    resumed = train(TrainRequest("wf", overrides={"epochs": 2}, results_dir=results, data_dir=sprites_data_dir,
                                 resume=True, handle_signals=False))
    assert resumed.spec.epochs == 2 and [epoch for epoch, _ in resumed.history["loss"]] == [0, 1]
    again = train(TrainRequest("wf", results_dir=results, data_dir=sprites_data_dir, resume=True,
                               handle_signals=False))
    assert again.already_finished and again.test_losses == resumed.test_losses


def test_requests_are_refused_before_any_work(tiny_run):
    results = tiny_run.parent
    before = {p.name: p.stat().st_mtime_ns for p in tiny_run.iterdir()}
    with pytest.raises(ConfigError, match="leaves nothing to compute"):
        evaluate(EvaluateRequest("tiny", test=False, results_dir=results))
    with pytest.raises(ConfigError, match="--eval-batchsize must be a positive integer, got 0"):
        evaluate(EvaluateRequest("tiny", batch_size=0, results_dir=results))
    with pytest.raises(UnknownNameError, match="did you mean 'mig'"):
        evaluate(EvaluateRequest("tiny", metrics=["mgi"], results_dir=results))
    with pytest.raises(RunNotFoundError, match="did you mean 'tiny'"):
        evaluate(EvaluateRequest("tinny", results_dir=results))
    with pytest.raises(ConfigError, match="contradict each other"):
        resolve_training(TrainRequest("tiny", results_dir=results, resume=True, overwrite=True))
    with pytest.raises(RunExistsError, match="already exists"):
        train(TrainRequest("tiny", overrides=TINY, results_dir=results, handle_signals=False))
    assert {p.name: p.stat().st_mtime_ns for p in tiny_run.iterdir()} == before   # nothing written


def test_the_metrics_asked_for_and_their_settings():
    assert chosen_metrics(False) == ((), False)
    assert chosen_metrics(True) == (default_metrics(), True)
    assert chosen_metrics("all")[1] and not chosen_metrics(["mig", "dci"])[1]
    assert chosen_metrics("MIG, dci") == (("mig", "dci"), False)
    fast = metric_settings(run_seed=3, fast=True, n_samples=50)
    assert fast == replace(MetricSettings.fast(seed=3), n_samples=50)
    assert metric_settings(run_seed=3, seed=7) == MetricSettings(seed=7)
