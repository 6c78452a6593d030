"""The real CLI in subprocesses: train, eval, experiments, error exits, import hygiene."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from dvae_cli.catalogue import loss_info
from dvae_cli.cli.app import app

from conftest import FIXTURES, imported_after, run_dvae
from tiny_runs import tiny_flags

TINY = tiny_flags(eval_batchsize=64, no_test=False)   # the suite's tiny run, with its test pass


def _no_traceback(result):
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


@pytest.mark.slow
def test_train_then_eval_through_the_cli(tmp_path, sprites_data_dir):
    results = tmp_path / "results"
    train = run_dvae("train", "quickstart-betaB", *TINY, "--data-dir", str(sprites_data_dir),
                     "--results-dir", str(results))
    assert train.returncode == 0, train.stderr
    lines = train.stdout.splitlines()
    assert lines[0].startswith("Using experiment 'quickstart-betaB' from experiments.toml")
    assert any(line.startswith("epoch 1/1") and "capacity" not in line and " C " in line for line in lines)
    folder = results / "quickstart-betaB"
    assert {"specs.json", "model.pt", "train_losses.log", "test_losses.log"} <= {p.name for p in folder.iterdir()}
    spec = json.loads((folder / "specs.json").read_text())
    assert (spec["experiment"], spec["loss"], spec["epochs"], spec["latent_dim"]) == ("quickstart-betaB", "betaB",
                                                                                       1, 3)
    first = json.loads((folder / "test_losses.log").read_text())

    evaluation = run_dvae("eval", "quickstart-betaB", "--data-dir", str(sprites_data_dir),
                          "--results-dir", str(results))
    assert evaluation.returncode == 0, evaluation.stderr
    assert "recon_loss" in evaluation.stdout and "test_losses.log" in evaluation.stdout
    again = json.loads((folder / "test_losses.log").read_text())
    assert again == pytest.approx(first, rel=1e-5)   # same model, same test set, same numbers


def test_train_refuses_to_replace_a_run(tmp_path, sprites_data_dir):
    args = ["train", "mine", "-l", "VAE", *TINY, "--data-dir", str(sprites_data_dir), "--results-dir",
            str(tmp_path)]
    assert run_dvae(*args).returncode == 0
    before = {p.name: p.read_bytes() for p in (tmp_path / "mine").iterdir()}
    again = run_dvae(*args)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [again.stderr.strip()]
    assert again.stderr.startswith("error: run 'mine' already exists") and "--overwrite" in again.stderr
    _no_traceback(again)
    assert {p.name: p.read_bytes() for p in (tmp_path / "mine").iterdir()} == before


@pytest.mark.parametrize("args,message", [
    (["train", "x", "-x", "betaH_celbea"], "unknown experiment 'betaH_celbea' (did you mean 'betaH_celeba'?)"),
    (["train", "x", "-l", "btcave"], "unknown loss 'btcave' (did you mean 'btcvae'?); choose from: VAE"),
    (["train", "x", "-d", "imagenet"], "unknown dataset 'imagenet'; choose from: sprites, sprites-color, "
                                       "sprites-noisy, mnist"),
    (["train", "x", "-e", "0"], "--epochs must be a positive integer, got 0"),
    (["train", "x", "-b", "1", "-l", "btcvae"], "--batch-size must be >= 2 with the btcvae loss"),
    (["train", "x", "-e", "three"], "Invalid value for '-e' / '--epochs'"),
    (["train", "x", "--no-such-flag"], "No such option"),
    (["eval", "nothing-here"], "no run 'nothing-here'"),
    (["eval", "x", "--metrics", "--metric", "migg"], "unknown metric 'migg'"),
    (["experiments", "show", "quickstrat"], "did you mean 'quickstart'"),
    (["experiments", "list", "--loss", "beta"], "unknown loss 'beta'"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    result = run_dvae(*args, "--results-dir", str(tmp_path)) if args[0] != "experiments" else run_dvae(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert message in result.stderr
    _no_traceback(result)
    assert not any(tmp_path.iterdir())   # nothing was written


def test_eval_on_a_reference_run(tmp_path, disvae_results, sprites_data_dir):
    shutil.copytree(disvae_results / "factor_chairs", tmp_path / "factor_chairs")
    specs = json.loads((tmp_path / "factor_chairs" / "specs.json").read_text())
    specs["subsample"] = 450  # 50 test images: the reference run unchanged but for the test-set size
    (tmp_path / "factor_chairs" / "specs.json").write_text(json.dumps(specs))
    result = run_dvae("eval", "factor_chairs", "-d", "sprites", "--results-dir", str(tmp_path), "--data-dir",
                      str(sprites_data_dir))
    assert result.returncode == 0, result.stderr
    assert "no saved discriminator" in result.stdout
    losses = json.loads((tmp_path / "factor_chairs" / "test_losses.log").read_text())
    assert set(losses) >= {"loss", "recon_loss", "kl_loss"} and "tc_loss" not in losses
    assert (tmp_path / "factor_chairs" / "test_losses.log.bak").is_file()


def test_experiments_list_and_show():
    runner = CliRunner()
    listed = runner.invoke(app, ["experiments", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0
    for name in ("best_celeba", "factor_chairs", "quickstart", "debug", "custom"):
        assert name in listed.stdout
    only = runner.invoke(app, ["experiments", "list", "--dataset", "chairs", "--loss", "factor"],
                         env={"COLUMNS": "250"})
    assert "factor_chairs" in only.stdout and "btcvae_chairs" not in only.stdout and "1 experiments" in only.stdout
    shown = runner.invoke(app, ["experiments", "show", "factor_chairs"], env={"COLUMNS": "250"})
    assert shown.exit_code == 0
    assert "x2 for factor" in shown.stdout and "3.2" in shown.stdout and "datasets.chairs" in shown.stdout


def test_help_lists_the_reference_options():
    result = CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "250"})
    for option in ("-d", "-x", "-e", "-b", "--lr", "-m", "-z", "-l", "-r", "-a", "-s", "-L", "--checkpoint-every",
                   "--betaH-B", "--betaB-initC", "--betaB-finC", "--betaB-G", "--factor-G", "--lr-disc",
                   "--btcvae-A", "--btcvae-G", "--btcvae-B", "--no-progress-bar", "--no-cuda", "--no-test",
                   "--eval-batchsize", "--results-dir", "--data-dir", "--device", "--overwrite"):
        assert f" {option} " in result.stdout or f" {option}," in result.stdout, option


@pytest.mark.parametrize("argv", [["--help"], ["experiments", "list"], ["experiments", "show", "quickstart"],
                                  ["train", "--help"], ["eval", "--help"], ["data", "list"],
                                  ["compare", "--results-dir", str(FIXTURES), "--format", "csv"]])
def test_commands_that_do_not_train_do_not_import_torch(argv):
    """The suite's one import-hygiene test: commands that neither train nor draw import nothing heavy."""
    heavy, stdout = imported_after(argv)
    assert heavy == []
    if argv[0] == "compare":
        assert stdout.startswith("name,dataset,loss,params,seed,epochs,")


def test_experiments_list_in_a_subprocess():
    result = run_dvae("experiments", "list", "--loss", "btcvae")
    assert result.returncode == 0, result.stderr
    assert "btcvae_dsprites" in result.stdout and "betaH_celeba" not in result.stdout


def test_live_view_shows_every_term_of_the_loss(tmp_path, sprites_data_dir):
    """The rich live view on a real (tiny) training run, rendered to a recording console."""
    from rich.console import Console

    from dvae_cli.cli.live import LiveView
    from dvae_cli.config import resolve_run
    from dvae_cli.engine.run import train_run

    console = Console(record=True, force_terminal=True, width=140)
    view = LiveView(console, "tiny: btcvae on sprites", [term for term, _ in loss_info("btcvae").terms])
    spec = resolve_run("live", None, {"loss": "btcvae", "subsample": 128, "epochs": 2, "batch_size": 16,
                                      "latent_dim": 3, "no_test": True, "device": "cpu"}).spec
    train_run(spec, tmp_path, sprites_data_dir, callbacks=[view])
    text = console.export_text()
    for label in ("MI (index-code)", "TC (total correlation)", "dimension-wise KL", "reconstruction",
                  "KL per latent", "img/s", "ETA", "epoch 2/2"):
        assert label in text, label
