"""What `dvae browse` reads, without Textual: the tail of a train log, the watcher, spec
groups, figures; and the `dvae browse` command's errors and import hygiene."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dvae_cli.runs.folder import TRAIN_LOG
from dvae_cli.runs.logs import read_train_log
from dvae_cli.runs.summary import summarize_run
from dvae_cli.runs.watch import RunWatcher, quick_summary, read_last_epoch
from dvae_cli.tui.data.details import load_details, spec_groups
from dvae_cli.tui.data.figures import decode_figure, figure_entries

from browse_helpers import BROKEN, LIVE, REFERENCE_RUNS, epoch_rows, make_results
from conftest import run_dvae


@pytest.fixture
def results(tmp_path: Path) -> Path:
    return make_results(tmp_path / "results")


def test_quick_summary_reads_the_tail_and_agrees_with_the_full_summary(results):
    for folder in sorted(p for p in results.iterdir() if p.name != "not-a-run"):
        quick, full = quick_summary(folder), summarize_run(folder)
        assert (quick.status, quick.reason, quick.epochs_done, quick.last_train, quick.kl_per_latent) == \
            (full.status, full.reason, full.epochs_done, full.last_train, full.kl_per_latent), folder.name
    assert quick_summary(results / "VAE_mnist").history["loss"] == [(399, summarize_run(results / "VAE_mnist")
                                                                     .history["loss"][-1][1])]


def test_read_last_epoch_ignores_a_row_being_written(tmp_path):
    log = tmp_path / TRAIN_LOG
    log.write_text("Epoch,Loss,Value\n" + "".join(epoch_rows(e) for e in range(500)) + "500,recon_lo")
    last = read_last_epoch(log)
    assert last == {term: points[-1:] for term, points in read_train_log(log).items()}
    assert last["loss"] == [(499, 900 / 500)]
    log.write_text("epoch;loss\n")
    with pytest.raises(Exception, match="expected the header"):
        read_last_epoch(log)


def test_watcher_rereads_only_changed_folders_and_sees_new_and_removed_runs(results):
    read: list[str] = []

    def counting(path: Path):
        read.append(path.name)
        return quick_summary(path)

    watcher = RunWatcher(results, summarize=counting)
    first = watcher.poll_all()
    assert sorted(s.name for s in first.changed) == sorted([*REFERENCE_RUNS, LIVE, BROKEN])
    read.clear()
    assert [s.name for s in watcher.poll_all().changed] == [LIVE]
    assert read == [LIVE]   # only the training run is read again (is its process still alive?)
    read.clear()
    with (results / "VAE_mnist" / TRAIN_LOG).open("a") as log:
        log.write("400,loss,1.0\n")
    (results / "new_run").mkdir()
    shutil.copy(results / "betaB_celeba" / "specs.json", results / "new_run" / "specs.json")
    shutil.rmtree(results / "factor_chairs")
    changes = watcher.poll_all()
    assert {s.name for s in changes.changed} - {LIVE} == {"VAE_mnist", "new_run"}
    assert changes.removed == ["factor_chairs"]
    assert next(s for s in changes.changed if s.name == "VAE_mnist").epochs_done == 401


def test_spec_groups_and_figures(results):
    groups = dict(spec_groups(json.loads((results / "btcvae_dsprites" / "specs.json").read_text())))
    assert list(groups)[:4] == ["data", "model", "loss", "training"]
    assert [k for k, _ in groups["loss"]] == ["loss", "rec_dist", "reg_anneal", "btcvae_A", "btcvae_B",
                                              "btcvae_G"]
    assert "betaH_B" in dict(groups["unused by btcvae"])
    entries = {e.file: e for e in figure_entries(["data_samples.png", "posterior_traversals.gif", "other.png"])}
    assert entries["data_samples.png"].present and not entries["samples.png"].present
    assert entries["samples.png"].plot == "generate-samples" and entries["samples.png"].can_generate
    assert not entries["training.gif"].can_generate and entries["other.png"].present
    gif = decode_figure(results / "btcvae_dsprites" / "posterior_traversals.gif")
    assert (len(gif.frames), gif.size, gif.error) == (3, (48, 32), "")
    assert gif.durations == pytest.approx([0.08] * 3)
    assert "cannot read" in decode_figure(results / BROKEN / "specs.json").error
    broken = load_details(results / BROKEN)
    assert broken.summary.status == "broken" and "specs.json" in broken.summary.reason
    assert [f.name for f in broken.files] == ["specs.json"]


def test_every_figure_offered_is_the_file_its_plot_command_writes():
    """The Images tab's `g` runs `dvae plot NAME <plot_args>`: parsed by the real command, those
    arguments name a plot whose output is the file offered; and every file dvae plot writes is offered."""
    from typer.main import get_command

    from dvae_cli.cli.app import app
    from dvae_cli.viz.plots import PLOTS, PlotOptions, output_name

    plot_cli = get_command(app).commands["plot"]   # type: ignore[attr-defined]
    offered = {}
    for entry in figure_entries([]):
        if entry.plot_args:
            params = plot_cli.make_context("plot", ["run", *entry.plot_args]).params
            assert len(params["plots"]) == 1, entry
            offered[entry.file] = output_name(params["plots"][0], PlotOptions(posterior=params["posterior"]))
    assert {file: output for file, output in offered.items() if output != file} == {}
    assert offered["posterior_traversals.png"] == "posterior_traversals.png"   # traversals --posterior
    written = {output_name(plot, PlotOptions(posterior=posterior)) for plot in PLOTS for posterior in (False, True)}
    assert written == set(offered)
    not_made = [e for e in figure_entries([]) if not e.can_generate]
    assert [e.file for e in not_made] == ["training.gif"] and "dvae train" in not_made[0].description


# --------------------------------------------------------------------------- the command


def test_browse_command_errors_and_import_hygiene(tmp_path):
    missing = run_dvae("browse", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: results dir ") and missing.stderr.count("\n") == 1
    assert "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    listed = run_dvae("--help")
    assert listed.returncode == 0 and "browse" in listed.stdout
    code = ("import sys; from dvae_cli.cli.app import app; import typer.main as m; m.get_command(app); "
            "print(sorted(k for k in ('textual', 'textual_image', 'torch') if k in sys.modules))")
    hygiene = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert hygiene.stdout.strip() == "[]", hygiene.stderr
