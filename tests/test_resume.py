"""Nothing lost: resuming bit for bit, SIGINT/SIGTERM, kill -9 during writes, non-finite losses."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dvae_cli.config import resolve_run
from dvae_cli.engine.checkpoint import (STATE_FILE, load_checkpoint, model_state, read_torch_file,
                                       save_checkpoint, save_weights)
from dvae_cli.engine.run import train_run
from dvae_cli.engine.trainer import Callback, Trainer, TrainState
from dvae_cli.errors import NonFiniteLossError, TrainingInterrupted
from dvae_cli.runs.folder import RunFolder
from dvae_cli.runs.resume import resumable_folder, resumed_spec

from conftest import run_dvae

# 256 images in batches of 32: 8 steps per epoch
TINY = {"subsample": 256, "epochs": 3, "batch_size": 32, "latent_dim": 4, "checkpoint_every": 1,
        "eval_batchsize": 64, "reg_anneal": 20, "device": "cpu"}
CLI_TINY = ["--subsample", "256", "-e", "3", "-b", "32", "-z", "4", "--checkpoint-every", "1",
            "--eval-batchsize", "64", "--device", "cpu", "--no-progress-bar"]


def tiny_spec(name: str, **flags):
    return resolve_run(name, None, {**TINY, **flags}).spec


class SignalAt(Callback):
    """Sends this process a real signal at the end of one step (as Ctrl-C would)."""

    def __init__(self, step: int, signum: int = signal.SIGINT) -> None:
        self.step, self.signum = step, signum

    def on_step_end(self, state: TrainState) -> None:
        if state.step == self.step:
            os.kill(os.getpid(), self.signum)


class PoisonAt(Callback):
    """Makes the weights NaN after one step, as a diverging optimiser would; remembers the state file."""

    def __init__(self, step: int, folder: Path) -> None:
        self.step, self.folder = step, folder
        self.model: torch.nn.Module | None = None
        self.state_bytes: bytes | None = None

    def setup(self, trainer: Trainer) -> None:
        self.model = trainer.model

    def on_step_end(self, state: TrainState) -> None:
        if state.step == self.step and self.model is not None:
            state_file = self.folder / STATE_FILE
            self.state_bytes = state_file.read_bytes() if state_file.is_file() else None
            with torch.no_grad():
                next(self.model.decoder.parameters()).fill_(float("nan"))


def same_weights(a: Path, b: Path) -> bool:
    first, second = model_state(read_torch_file(a), a), model_state(read_torch_file(b), b)
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["betaB", "factor", "btcvae"])
def test_a_run_interrupted_mid_epoch_resumes_to_the_same_model_bit_for_bit(tmp_path, sprites_data_dir, loss):
    train_run(tiny_spec("full", loss=loss), tmp_path, sprites_data_dir)
    stop_at = 13 if loss != "factor" else 21  # factor doubles epochs: 4 steps of 64 per epoch, 6 epochs
    with pytest.raises(TrainingInterrupted) as info:
        train_run(tiny_spec("cut", loss=loss), tmp_path, sprites_data_dir, callbacks=[SignalAt(stop_at)])
    assert info.value.exit_code == 130
    assert "dvae train cut --resume" in str(info.value) and "SIGINT" in str(info.value)
    cut = RunFolder(tmp_path / "cut")
    assert not cut.model_path.exists()
    state = load_checkpoint(cut.path / STATE_FILE)
    per_epoch = 8 if loss != "factor" else 4
    assert (state["epoch"], state["step_in_epoch"], state["step"]) == (
        stop_at // per_epoch, stop_at % per_epoch, stop_at)
    assert 0 < state["step_in_epoch"], "the interrupt came in the middle of an epoch"
    assert set(state["rng"]) >= {"torch", "numpy", "python"}
    if loss == "factor":
        assert any(key.startswith("discriminator.") for key in state["loss"]) and state["loss_optimizer"]

    result = train_run(resumed_spec(resumable_folder(tmp_path, "cut"), {}), tmp_path, sprites_data_dir,
                       resume=True)
    full = RunFolder(tmp_path / "full")
    assert cut.model_path.read_bytes() == full.model_path.read_bytes()
    assert same_weights(cut.model_path, full.model_path)
    assert cut.train_log_path.read_text() == full.train_log_path.read_text()
    assert cut.test_log_path.read_text() == full.test_log_path.read_text()
    assert len(result.history["loss"]) == len(full.train_losses()["loss"])
    resumed, straight = load_checkpoint(cut.path / STATE_FILE), load_checkpoint(full.path / STATE_FILE)
    assert all(torch.equal(resumed["loss"][k], straight["loss"][k]) for k in straight["loss"])


@pytest.mark.slow
def test_resume_with_more_epochs_equals_training_them_from_the_start(tmp_path, sprites_data_dir):
    train_run(tiny_spec("long", epochs=4, loss="btcvae"), tmp_path, sprites_data_dir)
    train_run(tiny_spec("short", epochs=2, loss="btcvae"), tmp_path, sprites_data_dir)
    spec = resumed_spec(resumable_folder(tmp_path, "short"), {"epochs": 4})
    train_run(spec, tmp_path, sprites_data_dir, resume=True)
    assert (tmp_path / "short" / "model.pt").read_bytes() == (tmp_path / "long" / "model.pt").read_bytes()
    assert RunFolder(tmp_path / "short").read_spec().epochs == 4


@pytest.mark.parametrize("poison_step, expected", [
    (12, "non-finite recon_loss"),            # mid-epoch: the next step's terms are NaN
    (16, "weights became non-finite"),        # last step of an epoch: caught before the checkpoint
])
@pytest.mark.slow
def test_non_finite_values_stop_training_without_touching_the_last_good_checkpoint(
        tmp_path, sprites_data_dir, poison_step, expected):
    poison = PoisonAt(poison_step, tmp_path / "nan")
    with pytest.raises(NonFiniteLossError) as info:
        train_run(tiny_spec("nan", loss="betaH"), tmp_path, sprites_data_dir, callbacks=[poison])
    message = str(info.value)
    assert info.value.exit_code == 3
    assert expected in message
    assert f"step {poison_step + (1 if 'recon' in expected else 0)}" in message
    assert f"last good checkpoint: {tmp_path / 'nan' / STATE_FILE} (1 epoch done, step 8)" in message
    assert poison.state_bytes is not None
    assert (tmp_path / "nan" / STATE_FILE).read_bytes() == poison.state_bytes, "the good state is untouched"
    assert sorted(p.name for p in (tmp_path / "nan").glob("model*.pt")) == ["model-0.pt"]
    weights = model_state(read_torch_file(tmp_path / "nan" / "model-0.pt"), tmp_path)
    assert all(torch.isfinite(w).all() for w in weights.values())


# --------------------------------------------------------------------------- through the real CLI


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("DVAE_DEBUG", None)
    return subprocess.Popen([sys.executable, "-m", "dvae_cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_line(process: subprocess.Popen[str], prefix: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(prefix):
            return
        assert time.monotonic() < deadline, f"no line starting with {prefix!r}"
    raise AssertionError(f"the process ended before printing {prefix!r}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, sprites_data_dir) -> Path:
    """An uninterrupted CLI run of the tiny spec (betaH)."""
    results = tmp_path_factory.mktemp("straight")
    done = run_dvae("train", "run", *CLI_TINY, "-l", "betaH", "--no-test", "--results-dir", str(results),
                    "--data-dir", str(sprites_data_dir))
    assert done.returncode == 0, done.stderr
    return results / "run" / "model.pt"


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_save_the_state_and_resume_continues_exactly(
        tmp_path, sprites_data_dir, uninterrupted, signum, code):
    args = ["train", "run", *CLI_TINY, "-l", "betaH", "--no-test", "--results-dir", str(tmp_path / "r"),
            "--data-dir", str(sprites_data_dir)]
    process = _start(args, tmp_path)
    _wait_for_line(process, "epoch 1/3")
    time.sleep(random.uniform(0.0, 0.15))
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "training state saved to" in last
    assert f"resume with: dvae train run --resume --results-dir {tmp_path / 'r'}" in last
    assert not (tmp_path / "r" / "run" / "model.pt").exists()

    resumed = run_dvae(*args[:2], "--resume", *args[-4:], "--no-progress-bar", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("Resuming run 'run'")
    assert (tmp_path / "r" / "run" / "model.pt").read_bytes() == uninterrupted.read_bytes()


@pytest.mark.slow
def test_a_second_ctrl_c_aborts_at_once_and_leaves_the_last_checkpoint_whole(
        tmp_path, sprites_data_dir, uninterrupted):
    args = ["train", "run", *CLI_TINY, "-l", "betaH", "--no-test", "--results-dir", str(tmp_path / "r"),
            "--data-dir", str(sprites_data_dir)]
    process = _start(args, tmp_path)
    _wait_for_line(process, "epoch 2/3")
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in stderr
    folder = tmp_path / "r" / "run"
    for path in folder.glob("*.pt"):
        load_checkpoint(path)
    resumed = run_dvae(*args[:2], "--resume", *args[-4:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert (folder / "model.pt").read_bytes() == uninterrupted.read_bytes()


@pytest.mark.slow
def test_kill_9_during_training_then_resume_gives_the_same_model(tmp_path, sprites_data_dir, uninterrupted):
    args = ["train", "run", *CLI_TINY, "-l", "betaH", "--no-test", "--results-dir", str(tmp_path / "r"),
            "--data-dir", str(sprites_data_dir)]
    process = _start(args, tmp_path)
    _wait_for_line(process, "epoch 1/3")
    time.sleep(random.uniform(0.0, 0.3))
    process.kill()
    process.wait(timeout=60)
    folder = tmp_path / "r" / "run"
    for path in folder.glob("*.pt"):
        load_checkpoint(path)
    resumed = run_dvae(*args[:2], "--resume", *args[-4:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert (folder / "model.pt").read_bytes() == uninterrupted.read_bytes()
    assert not list(folder.glob(".*.tmp")), "resume clears the temporary files a killed writer left"


@pytest.mark.slow
def test_kill_9_at_random_points_while_writing_never_leaves_a_broken_file(tmp_path):
    """Fork writers that save checkpoints in a loop; SIGKILL each at a random moment; every file loads."""
    from dvae_cli.engine.losses import loss_for_spec
    from dvae_cli.engine.models import build_model
    from dvae_cli.data.in_memory import ImageData

    spec = tiny_spec("writes", loss="factor")
    model = build_model([1, 64, 64], 4, "Burgess")
    loss = loss_for_spec(spec, 64)
    data = ImageData("noise", torch.randint(0, 256, (64, 1, 64, 64), dtype=torch.uint8), (1, 64, 64))
    trainer = Trainer(model, loss, torch.optim.Adam(model.parameters()), data, 8, 1, 0)
    trainer.train_step(next(trainer.epoch_batches(0)))
    content = trainer.state_dict()
    rng = random.Random(8)
    interrupted_writes = 0
    for _ in range(40):
        pid = os.fork()
        if pid == 0:  # the writer: save until killed
            try:
                while True:
                    save_checkpoint(tmp_path / STATE_FILE, content, spec)
                    save_weights(tmp_path / "model.pt", model)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0.0, 0.12))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        leftovers = list(tmp_path.glob(".*.tmp"))
        interrupted_writes += bool(leftovers)
        for leftover in leftovers:
            leftover.unlink()
        if (tmp_path / STATE_FILE).exists():
            loaded = load_checkpoint(tmp_path / STATE_FILE)
            assert torch.equal(loaded["model"]["encoder.conv1.weight"], content["model"]["encoder.conv1.weight"])
        if (tmp_path / "model.pt").exists():
            model_state(read_torch_file(tmp_path / "model.pt"), tmp_path / "model.pt")
    assert interrupted_writes >= 10, "the kills should land in the middle of writes"


@pytest.mark.slow
def test_resume_refuses_what_it_cannot_do_in_one_line(tmp_path, sprites_data_dir):
    results = tmp_path / "r"
    done = run_dvae("train", "run", *CLI_TINY, "-e", "1", "--no-test", "--results-dir", str(results),
                    "--data-dir", str(sprites_data_dir))
    assert done.returncode == 0, done.stderr
    (results / "empty").mkdir()
    shutil.copy(results / "run" / "specs.json", results / "empty" / "specs.json")
    shutil.copy(results / "run" / "model.pt", results / "empty" / "model.pt")   # weights, but no training state
    before = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    rows = [
        (["train", "rnu", "--resume"], "no run 'rnu' to resume", "did you mean 'run'"),
        (["train", "run", "--resume", "-z", "7"], "--latent-dim 7 differs from run 'run' (4)", "keeps its spec"),
        (["train", "run", "--resume", "--overwrite"], "contradict", "--resume"),
        (["train", "run", "--resume", "-e", "0"], "--epochs must be a positive integer", ""),
        (["train", "empty", "--resume"], "no training state to resume from", "model-<epoch>.pt"),
        (["train", "run"], "already exists", "--resume"),
    ]
    for args, message, detail in rows:
        result = run_dvae(*args, "--results-dir", str(results), "--data-dir", str(sprites_data_dir))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, (args, result.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0] and detail in lines[0]
        assert "Traceback" not in result.stdout + result.stderr
    assert {p: p.read_bytes() for p in results.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("extra, message", [
    ([], "non-finite recon_loss"),
    (["--detect-anomaly"], "non-finite gradient at step"),
])
@pytest.mark.slow
def test_a_diverging_run_exits_3_naming_the_step_and_term(tmp_path, sprites_data_dir, extra, message):
    result = run_dvae("train", "boom", *CLI_TINY, "-l", "btcvae", "--lr", "1000", "--no-test", *extra,
                      "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir))
    assert result.returncode == 3, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last and "no checkpoint was saved yet" in last
    assert "Traceback (most recent call last)" not in result.stderr
    assert not list((tmp_path / "boom").glob("*.pt"))
