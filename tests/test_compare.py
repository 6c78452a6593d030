"""`dvae compare` on a results dir holding disentangling-vae's runs and two tiny dvae runs trained for real."""

from __future__ import annotations

import csv
import io
import json
import shutil
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from dvae_cli.cli.app import main
from dvae_cli.compare import compare_runs, render
from dvae_cli.compare.table import Stat
from dvae_cli.errors import ConfigError, RunNotFoundError, UnknownNameError
from dvae_cli.runs.summary import summarize_run
from dvae_cli.viz import gif_grid

from tiny_runs import tiny_flags
from conftest import FIXTURES, REFERENCE_RUNS, run_dvae

#: The suite's tiny run as btcvae, two epochs, four latents, with its test pass.
TINY = tiny_flags(dataset="sprites", loss="btcvae", epochs=2, latent_dim=4, eval_batchsize=64, no_test=False)
ALL = {*REFERENCE_RUNS, "tiny-s1", "tiny-s2", "orphan"}


def _gif(path: Path, frames: int, height: int, width: int) -> None:
    """A small RGB GIF whose frame i is filled with the grey level 10 * i."""
    stack = np.stack([np.full((height, width, 3), 10 * i, dtype=np.uint8) for i in range(frames)])
    iio.imwrite(path, stack, extension=".gif", duration=80, loop=0)


@pytest.fixture(scope="module")
def results(tmp_path_factory, sprites_data_dir) -> Path:
    """The reference runs (with hand-made GIFs for two of them), tiny-s1/s2 (btcvae, seeds 1 and 2,
    tiny-s2 without test losses), metrics for both, and `orphan`, a folder without specs.json."""
    root = tmp_path_factory.mktemp("results")
    for name in REFERENCE_RUNS:
        shutil.copytree(FIXTURES / name, root / name)
    _gif(root / "VAE_mnist" / "posterior_traversals.gif", frames=20, height=30, width=40)
    _gif(root / "btcvae_dsprites" / "posterior_traversals.gif", frames=15, height=60, width=50)
    common = [*TINY, "--results-dir", str(root), "--data-dir", str(sprites_data_dir)]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda args: run_dvae("train", *args, *common),
                             [["tiny-s1", "-s", "1"], ["tiny-s2", "-s", "2", "--no-test"]]))
    for result in done:
        assert result.returncode == 0, result.stderr
    for name, mig in (("tiny-s1", 0.1), ("tiny-s2", 0.3)):
        (root / name / "metrics.log").write_text(json.dumps({"MIG": mig, "protocols": {"MIG": {"samples": 10}}}))
    (root / "orphan").mkdir()
    shutil.copy(FIXTURES / "VAE_mnist" / "train_losses.log", root / "orphan")
    return root


def cli(capsys, monkeypatch, *args: str, width: int = 250) -> tuple[int, str, str]:
    """Run ``dvae compare ...`` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.delenv("DVAE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def names(table) -> list[str]:
    return [row.values["name"] for row in table.rows]


# --------------------------------------------------------------------------- the table


def test_every_run_is_a_row_and_missing_files_are_dashes(results, capsys, monkeypatch):
    table = compare_runs(results_dir=results)
    assert names(table) == sorted(ALL)
    rows = {row.values["name"]: row.values for row in table.rows}
    assert rows["btcvae_dsprites"]["params"] == {"btcvae_A": 1, "btcvae_B": 6.4, "btcvae_G": 1,
                                                 "btcvae_sampling": "mss"}
    assert rows["btcvae_dsprites"]["epochs"] == 30 and rows["tiny-s1"]["epochs"] == 2
    assert rows["btcvae_dsprites"]["active"] == 5          # reference KLs above 0.1 nats in the last epoch
    assert rows["tiny-s2"].get("test.loss") is None and rows["tiny-s1"]["test.loss"] > 0
    assert rows["orphan"].get("dataset") is None and rows["orphan"]["status"] == "broken"
    assert table.keys[:6] == ["name", "dataset", "loss", "params", "seed", "epochs"]
    assert {"train.recon_loss", "train.kl_loss", "train.tc_loss", "test.loss", "MIG", "active"} <= set(table.keys)
    assert not any(key.startswith(("train.kl_loss_", "test.kl_loss_")) for key in table.keys)

    code, out, err = cli(capsys, monkeypatch, "--results-dir", str(results), "--format", "markdown")
    assert code == 0, err
    lines = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in out.splitlines()
             if line.startswith("|")]   # the notes below the table left out
    cells = {line[0]: dict(zip(lines[0], line, strict=True)) for line in lines[2:]}
    assert cells["tiny-s2"]["test.loss"] == "-" and cells["tiny-s2"]["MIG"] == "0.3" and cells["tiny-s2"]["seed"] == "2"
    assert cells["orphan"]["dataset"] == "-" and cells["orphan"]["loss"] == "-" and cells["orphan"]["epochs"] == "-"

    code, out, _ = cli(capsys, monkeypatch, "--results-dir", str(results))
    assert code == 0
    assert "orphan: broken" in out and "specs.json is missing" in out.replace("\n", " ")
    assert "disentangling-vae's numbers" in out      # the reference's test losses are flagged


def test_every_format_parses_back(results, capsys, monkeypatch, tmp_path):
    table = compare_runs(results_dir=results)
    summaries = {s.name: s for row in table.rows for s in row.runs}
    n = len(table.rows)

    rows = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    assert len(rows) == n and list(rows[0]) == [*table.keys, "estimated"]   # btcvae's and factor's estimates
    assert set(rows[0]["estimated"].split(";")) == {c.key for c in table.columns if c.estimated} >= {"train.tc_loss"}
    by_name = {row["name"]: row for row in rows}
    assert float(by_name["VAE_mnist"]["train.loss"]) == summaries["VAE_mnist"].last_train["loss"]   # exact
    assert by_name["tiny-s2"]["test.loss"] == "" and by_name["factor_chairs"]["params"] == "factor_G=3.2 lr_disc=1e-05"

    records = json.loads(render(table, "json"))
    assert len(records) == n and [r["name"] for r in records] == names(table)
    record = next(r for r in records if r["name"] == "btcvae_dsprites")
    assert record["test.tc_loss"] == summaries["btcvae_dsprites"].test_losses["tc_loss"]
    assert record["params"]["btcvae_B"] == 6.4 and record["train.discrim_loss"] is None

    markdown, notes = render(table, "markdown").split("\n\n")
    markdown = markdown.splitlines()
    assert len(markdown) == 2 + n and notes.startswith("~: an estimate")
    assert "| ~train.tc_loss |" in markdown[0] and "| train.kl_loss |" in markdown[0]
    assert {line.count(" | ") for line in markdown} == {len(table.keys) - 1}
    assert markdown[1].startswith("| --- | --- | --- | --- | ---: |")
    assert "| 138.5 |" in markdown[2 + names(table).index("VAE_mnist")]       # 4 significant digits

    latex = render(table, "latex")
    body = [line for line in latex.splitlines() if line.endswith(r"\\")]
    assert len(body) == 1 + n and latex.count(r"\begin{tabular}") == 1 and r"\bottomrule" in latex
    assert r"VAE\_mnist" in latex and r"train.recon\_loss" in latex

    text = render(table, "table")
    assert all(name in text for name in ALL)

    out = tmp_path / "runs.csv"       # the format follows the suffix
    code, stdout, err = cli(capsys, monkeypatch, "--results-dir", str(results), "-o", str(out))
    assert code == 0 and stdout == "" and f"wrote {out}" in err
    assert len(list(csv.DictReader(out.open()))) == n


def test_sort_reverse_and_missing_last(results):
    by_test = compare_runs(results_dir=results, sort="test.loss")
    tested = [row.values["test.loss"] for row in by_test.rows if row.values.get("test.loss") is not None]
    assert tested == sorted(tested) and names(by_test)[-2:] == ["orphan", "tiny-s2"]   # no test losses: last
    descending = compare_runs(results_dir=results, sort="-epochs")
    assert names(descending)[:3] == ["factor_chairs", "VAE_mnist", "betaB_celeba"]
    assert names(descending)[-1] == "orphan"
    reverse = compare_runs(results_dir=results, sort="epochs", reverse=True)
    assert names(reverse)[:3] == names(descending)[:3]
    two_keys = compare_runs(results_dir=results, sort="loss,-seed", filters=["loss=btcvae"])
    assert names(two_keys) == ["btcvae_dsprites", "tiny-s2", "tiny-s1"]


def test_filters(results):
    def kept(*filters: str) -> list[str]:
        return names(compare_runs(results_dir=results, filters=list(filters)))

    assert kept("dataset=sprites,loss=btcvae") == ["tiny-s1", "tiny-s2"]
    assert kept("loss=btcvae|factor", "epochs>10") == ["btcvae_dsprites", "factor_chairs"]
    assert kept("name=tiny-*") == ["tiny-s1", "tiny-s2"]
    assert kept("latent_dim=4") == ["tiny-s1", "tiny-s2"]                   # a specs.json field
    assert kept("origin=disentangling-vae") == sorted(REFERENCE_RUNS)
    assert kept("MIG>=0.2") == ["tiny-s2"]
    assert kept("test.recon_loss>1") == ["VAE_mnist", "betaB_celeba", "factor_chairs", "tiny-s1"]   # missing: out
    assert kept("loss!=btcvae") == ["VAE_mnist", "betaB_celeba", "factor_chairs", "orphan"]       # missing: in
    assert kept("btcvae_B=6.4") == ["btcvae_dsprites"]
    assert kept("dataset=sprites", "loss=VAE") == []


@pytest.mark.parametrize("kwargs,error,message", [
    ({"filters": ["datset=mnist"]}, UnknownNameError, "unknown filter key 'datset' (did you mean 'dataset'?)"),
    ({"filters": ["dataset=sprits"]}, UnknownNameError, "(did you mean 'sprites'?); choose from: celeba, chairs"),
    ({"filters": ["loss>3"]}, ConfigError, "loss is text; use = or !="),
    ({"filters": ["epochs=many"]}, ConfigError, "epochs is a number, got 'many'"),
    ({"filters": ["dataset"]}, ConfigError, "expected KEY=VALUE"),
    ({"sort": "tst.loss"}, UnknownNameError, "unknown sort column 'tst.loss' (did you mean 'test.loss'?)"),
    ({"columns": "name,los"}, UnknownNameError, "unknown column 'los' (did you mean 'loss'?); choose from: name"),
    ({"columns": "valid.*"}, UnknownNameError, "unknown column pattern 'valid.*'"),
    ({"runs": ["tiny-s3"]}, RunNotFoundError, "'tiny-s3' (did you mean 'tiny-s2'?); choose from: VAE_mnist"),
    ({"runs": ["tiny-x*"]}, UnknownNameError, "unknown run pattern"),
])
def test_bad_keys_name_the_valid_choices(results, kwargs, error, message):
    with pytest.raises(error) as info:
        compare_runs(results_dir=results, **kwargs)
    assert message in str(info.value)


def test_cli_errors_are_one_line(results, capsys, monkeypatch):
    code, out, err = cli(capsys, monkeypatch, "tiny-s3", "--results-dir", str(results))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("error: unknown run in") and "'tiny-s3' (did you mean 'tiny-s2'?)" in err
    code, _, err = cli(capsys, monkeypatch, "--results-dir", str(results), "--sort", "MGI")
    assert code == 2 and err.startswith("error: unknown sort column 'MGI' (did you mean 'MIG'?)")
    code, _, err = cli(capsys, monkeypatch, "--results-dir", str(results), "--format", "excel")
    assert code == 2 and "unknown format 'excel'; choose from: table, csv, markdown, json, latex" in err
    code, _, err = cli(capsys, monkeypatch, "--results-dir", str(results / "nope"))
    assert code == 2 and "nothing to compare" in err and "does not exist" in err


def test_no_match_is_a_message_not_an_error(results, capsys, monkeypatch):
    code, out, err = cli(capsys, monkeypatch, "--results-dir", str(results), "-f", "dataset=mnist,loss=btcvae")
    assert code == 0 and out == "" and "no run matches --filter dataset=mnist,loss=btcvae" in err
    code, out, _ = cli(capsys, monkeypatch, "--results-dir", str(results), "-f", "dataset=mnist,loss=btcvae",
                       "-F", "csv")
    assert code == 0 and out.startswith("name,dataset,loss,") and out.count("\n") == 1    # the header alone


def test_columns_named_runs_and_globs(results):
    table = compare_runs(["tiny-s2", "VAE_*"], results, columns="name,test.*,btcvae_B")
    assert names(table) == ["tiny-s2", "VAE_mnist"]            # in the order named
    assert table.keys[0] == "name" and table.keys[-1] == "btcvae_B"
    assert table.keys[1:-1] == ["test.loss", "test.recon_loss", "test.kl_loss"]     # the terms these runs have
    path = compare_runs([str(results / "factor_chairs")], "elsewhere")   # a run folder path
    assert names(path) == ["factor_chairs"]


def test_group_seeds_mean_and_std(results, capsys, monkeypatch):
    table = compare_runs(results_dir=results, group_seeds=True, filters=["dataset=sprites"])
    assert len(table.rows) == 1
    row = table.rows[0].values
    assert row["name"] == "tiny-s*" and row["runs"] == ["tiny-s1", "tiny-s2"] and row["n"] == 2
    assert row["seed"] == [1, 2] and row["epochs"] == 2 and row["loss"] == "btcvae"
    losses = [summarize_run(results / n).last_train["loss"] for n in ("tiny-s1", "tiny-s2")]
    assert row["train.loss"].mean == pytest.approx(statistics.mean(losses))
    assert row["train.loss"].std == pytest.approx(statistics.stdev(losses))
    assert row["MIG"] == Stat(pytest.approx(0.2), pytest.approx(statistics.stdev([0.1, 0.3])), 2)
    assert row["test.loss"].n == 1 and row["test.loss"].std is None     # only tiny-s1 has test losses

    everything = compare_runs(results_dir=results, group_seeds=True)
    assert len(everything.rows) == len(ALL) - 1                         # the reference runs stay alone

    code, out, _ = cli(capsys, monkeypatch, "--results-dir", str(results), "--group-seeds", "-f", "dataset=sprites",
                       "-F", "csv")
    assert code == 0
    (record,) = csv.DictReader(io.StringIO(out))
    assert float(record["MIG"]) == pytest.approx(0.2) and float(record["MIG.std"]) == pytest.approx(0.1414, 1e-3)
    assert record["runs"] == "tiny-s1;tiny-s2" and record["n"] == "2"
    markdown = render(table, "markdown")
    assert "0.2 ± 0.14" in markdown and "(n=1)" in markdown


def test_a_narrow_terminal_gets_the_table_transposed(results, capsys, monkeypatch):
    code, out, _ = cli(capsys, monkeypatch, "--results-dir", str(results), width=90)
    assert code == 0 and "transposed" in out
    assert max(len(line) for line in out.splitlines()) <= 90
    assert all(name in out for name in ALL) and "train.recon_loss" in out


# --------------------------------------------------------------------------- figures


def test_gif_grid_frames(results, tmp_path):
    table = compare_runs(["VAE_mnist", "btcvae_dsprites"], results)
    layout = gif_grid.write_traversal_grid(table.rows, tmp_path / "grid.gif", max_cell=None)
    assert layout is not None
    assert layout.row_labels == ["VAE", "btcvae"] and layout.column_labels == ["mnist", "dsprites"]
    assert layout.cell == (60, 50)                             # the widest GIF's width, the tallest scaled GIF
    assert layout.row_heights == (38, 60)                      # VAE_mnist (30x40) scaled to 50 wide: 38 tall
    frames = iio.imread(tmp_path / "grid.gif", index=None)
    assert frames.shape[0] == 20                               # the longest GIF
    assert frames.shape[1:3] == (layout.header_height + 2 * (layout.caption_height + gif_grid.PAD) + 38 + 60
                                 + gif_grid.PAD, layout.label_width + 2 * (50 + gif_grid.PAD) + gif_grid.PAD)
    assert (layout.height, layout.width) == frames.shape[1:3]
    # frame i of the grid shows frame i of VAE_mnist, filling its cell
    y, x = layout.origin(0, 0)
    y += layout.caption_height
    assert np.abs(frames[7, y + 30, x + 25].astype(int) - 70).max() <= 3
    assert np.abs(frames[7, y + 1, x + 1].astype(int) - 70).max() <= 3
    # btcvae_dsprites has 15 frames: grid frame 19 shows its frame 19 * 15 // 20 = 14
    y, x = layout.origin(1, 1)
    assert np.abs(frames[19, y + layout.caption_height + 30, x + 25].astype(int) - 140).max() <= 3

    small = gif_grid.write_traversal_grid(table.rows, tmp_path / "small.gif", max_cell=30)
    assert small is not None and small.cell == (30, 25)
    assert iio.imread(tmp_path / "small.gif", index=None).shape[1:3] == (small.height, small.width)


def _framed_gif(path: Path, height: int, width: int, top: int, right: int) -> None:
    """A GIF of black frames (H, W) under a red title band of `top` rows, left of a blue label margin of
    `right` columns, with the comment dvae writes to say so."""
    from dvae_cli.viz.grid import layout_comment, write_gif

    frame = np.zeros((top + height, width + right, 3), dtype=np.uint8)
    frame[:top] = (255, 0, 0)
    frame[:, width:] = (0, 0, 255)
    write_gif(path, [frame] * 3, 10, layout_comment(top, right))


def test_gif_grid_crops_titles_and_labels_and_gives_every_cell_one_width(tmp_path):
    for name in ("VAE_mnist", "btcvae_dsprites", "factor_chairs"):
        shutil.copytree(FIXTURES / name, tmp_path / name)
    _framed_gif(tmp_path / "VAE_mnist" / "posterior_traversals.gif", 30, 40, top=40, right=26)
    _framed_gif(tmp_path / "btcvae_dsprites" / "posterior_traversals.gif", 60, 50, top=22, right=90)
    _framed_gif(tmp_path / "factor_chairs" / "posterior_traversals.gif", 40, 80, top=0, right=0)
    table = compare_runs(["VAE_mnist", "btcvae_dsprites", "factor_chairs"], tmp_path)
    layout = gif_grid.write_traversal_grid(table.rows, tmp_path / "grid.gif", max_cell=None)
    assert layout is not None and layout.cell == (96, 80) and layout.row_heights == (60, 96, 40)
    frame = iio.imread(tmp_path / "grid.gif", index=None)[0].astype(int)
    red = (frame[..., 0] > 200) & (frame[..., 2] < 60)
    blue = (frame[..., 2] > 200) & (frame[..., 0] < 60)
    assert not red.any() and not blue.any()                    # no GIF's own title or labels: its caption only
    widths = set()
    for r, c in [(0, 0), (1, 1), (2, 2)]:                      # the cells: mnist, dsprites, chairs
        y, x = layout.origin(r, c)
        y += layout.caption_height
        cell = frame[y:y + layout.row_heights[r], x - gif_grid.PAD:x + layout.cell[1] + gif_grid.PAD]
        widths.add(int((cell.max(axis=(0, 2)) < 128).sum()))   # black columns: the GIF's width
    assert widths == {80}


def test_gif_grid_wraps_long_run_names_instead_of_cutting_them(tmp_path):
    shutil.copytree(FIXTURES / "VAE_mnist", tmp_path / "a_run_with_a_rather_long_name")
    _framed_gif(tmp_path / "a_run_with_a_rather_long_name" / "posterior_traversals.gif", 30, 40, top=0, right=0)
    table = compare_runs([], tmp_path)
    layout = gif_grid.write_traversal_grid(table.rows, tmp_path / "grid.gif", max_cell=None)
    assert layout is not None and layout.caption_height > gif_grid.CAPTION_HEIGHT


def test_metrics_suptitle_clears_every_panel(results, tmp_path):
    from dvae_cli.viz.compare_figures import draw_metric_bars

    scores = ("MIG", "MIG_discrete", "AAM", "SAP", "DCI_disentanglement", "DCI_completeness",
              "DCI_informativeness", "FactorVAE", "BetaVAE", "modularity")
    for k, name in enumerate(("tiny-s1", "tiny-s2")):         # 10 scores + active latents: 4 rows of panels
        shutil.copytree(results / name, tmp_path / name)
        (tmp_path / name / "metrics.log").write_text(json.dumps({key: 0.1 * (k + 1) for key in scores}))
    fig = draw_metric_bars(compare_runs([], tmp_path))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    gap = 6 / 72 * fig.dpi                                     # 6 points: clearly apart, not touching
    panels = [ax for ax in fig.axes if ax.axison]
    assert len(panels) == 11
    for ax in panels:
        assert ax.get_tightbbox(renderer).y1 + gap <= title.y0, ax.get_title()   # titles, dataset names included


def test_plot_writes_the_figures_and_draws_missing_gifs(results, sprites_data_dir, capsys, monkeypatch, tmp_path):
    out = tmp_path / "figures"
    code, stdout, err = cli(capsys, monkeypatch, "--results-dir", str(results), "--data-dir", str(sprites_data_dir),
                            "--plot", str(out), "--group-seeds", "--gif-cell", "120", "-F", "json")
    assert code == 0, err
    assert len(json.loads(stdout)) == len(ALL) - 1
    assert sorted(p.name for p in out.iterdir()) == ["grid_posteriors.gif", "loss_curves.png", "metrics.png"]
    for png in ("loss_curves.png", "metrics.png"):
        assert iio.imread(out / png).shape[0] > 300
    assert (results / "tiny-s1" / "posterior_traversals.gif").is_file()       # drawn from the sprites
    assert "betaB_celeba: cannot draw posterior_traversals.gif" in err.replace("\n", " ")   # no celeba here
    frames = iio.imread(out / "grid_posteriors.gif", index=None)
    assert frames.shape[0] == 20
    columns = 5        # mnist, celeba, dsprites, chairs, sprites
    label = gif_grid.label_width(["VAE", "betaB", "btcvae", "factor"])
    cell_w = (frames.shape[2] - label - gif_grid.PAD) / columns - gif_grid.PAD
    layout = gif_grid.write_traversal_grid(compare_runs([], results, group_seeds=True).rows, tmp_path / "g.gif",
                                           max_cell=120)
    assert layout is not None and cell_w == layout.cell[1] and max(layout.cell) == 120      # --gif-cell 120
    assert frames.shape[1:3] == (layout.height, layout.width)
