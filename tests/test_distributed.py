"""torch.distributed on the CPU (gloo): gradients equal one process's, losses fall alike, --nproc."""

from __future__ import annotations

import json
import socket

import pytest
import torch
import torch.multiprocessing as mp

from dvae_cli.runs.logs import read_train_log

from conftest import run_dvae
from ddp_worker import worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_two_ranks(tmp_path, loss_name):
    mp.spawn(worker, args=(2, free_port(), str(tmp_path), loss_name), nprocs=2, join=True)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]


@pytest.mark.parametrize("loss_name", ["betaH", "betaB"])
def test_a_two_process_step_has_the_gradients_of_one_process_on_the_global_batch(tmp_path, loss_name):
    rank0, rank1 = run_two_ranks(tmp_path, loss_name)
    # the shards are disjoint and together they are the single process's batch
    assert torch.equal(torch.cat([rank0["batch"], rank1["batch"]]), rank0["single_batch"])
    assert not any(torch.equal(a, b) for a in rank0["batch"] for b in rank1["batch"])
    for name, single in rank0["single_grads"].items():
        assert torch.equal(rank0["grads"][name], rank1["grads"][name]), f"{name}: ranks disagree"
        torch.testing.assert_close(rank0["grads"][name], single, rtol=1e-4, atol=1e-5, msg=name)
    assert any(g.abs().sum() > 0 for g in rank0["grads"].values())


def test_the_factor_discriminator_gradients_are_averaged_too(tmp_path):
    rank0, rank1 = run_two_ranks(tmp_path, "factor")
    assert rank0["loss_grads"], "the discriminator was trained"
    for name in rank0["loss_grads"]:
        assert torch.equal(rank0["loss_grads"][name], rank1["loss_grads"][name]), name
    for name in rank0["grads"]:
        assert torch.equal(rank0["grads"][name], rank1["grads"][name]), name


@pytest.mark.slow
def test_two_processes_through_the_cli_train_like_one(tmp_path, sprites_data_dir):
    common = ["--subsample", "512", "-e", "3", "-z", "4", "-l", "betaH", "--lr", "1e-3", "--no-test",
              "--device", "cpu", "--results-dir", str(tmp_path), "--data-dir", str(sprites_data_dir)]
    two = run_dvae("train", "two", "-b", "16", "--nproc", "2", "--tracker", "tensorboard", *common)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("Trained in") == 1, "only rank 0 speaks"
    from tracker_readers import tensorboard_events

    assert len(list((tmp_path / "two" / "tb").glob("events.out.tfevents.*"))) == 1, "only rank 0 tracks"
    assert [e.value for e in tensorboard_events(tmp_path / "two" / "tb").Scalars("epoch/epoch")] == [1, 2, 3]
    one = run_dvae("train", "one", "-b", "32", *common)
    assert one.returncode == 0, one.stderr
    specs = json.loads((tmp_path / "two" / "specs.json").read_text())
    assert (specs["world_size"], specs["batch_size"]) == (2, 16)
    curves = {}
    for name in ("one", "two"):
        history = read_train_log(tmp_path / name / "train_losses.log")
        curves[name] = [value for _, value in history["recon_loss"]]
        assert curves[name][-1] < 0.7 * curves[name][0], (name, curves[name])
    assert abs(curves["two"][-1] - curves["one"][-1]) < 0.25 * curves["one"][-1], curves
