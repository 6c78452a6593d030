"""What `dvae compare` says about its scores: mixed protocols, estimated loss terms, scores that are null
with a reason, and folders written by ``dvae score`` (no training) listed beside trained runs.

The protocols are those `dvae eval --metrics` writes: two copies of the suite's tiny run are scored for
real (500 images, and 300 images with another seed); the other variants are their files with one entry
changed, as the writer would have written it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dvae_cli.cli.app import main
from dvae_cli.compare import compare_runs, render
from dvae_cli.compare.estimated import estimated_terms
from dvae_cli.compare.protocols import comparable_protocol, protocol_key
from dvae_cli.runs.layout import METRICS_DETAIL, METRICS_LOG, SCORED
from dvae_cli.runs.summary import scan_runs, summarize_run

from conftest import FIXTURES, run_dvae

NULL_REASON = "no active latent: every latent's std is under the prune threshold (0.05)"


def _edit_log(folder: Path, change) -> None:
    log = json.loads((folder / METRICS_LOG).read_text())
    change(log)
    (folder / METRICS_LOG).write_text(json.dumps(log))


def _reseed(log: dict, seed: int) -> None:
    """What ``dvae eval --seed SEED`` writes instead of the default seed (1234 for the tiny run)."""
    for protocol in log["protocols"].values():
        protocol["seed"] = seed
        if "image_selection" in protocol:
            protocol["image_selection"] = protocol["image_selection"].replace("(seed 1234)", f"(seed {seed})")


def write_scored(folder: Path, scores_from: Path, dataset: str = "sprites") -> Path:
    """A folder as ``dvae score`` writes it: metrics.log, metrics_detail.json, scored.json, no specs.json."""
    folder.mkdir()
    for name in (METRICS_LOG, METRICS_DETAIL):
        shutil.copy(scores_from / name, folder / name)
    (folder / SCORED).write_text(json.dumps({
        "encoder": "/models/jax_betavae.onnx", "format": "onnx", "dataset": dataset, "latent_dim": 3,
        "images": 500, "created": "2026-01-02T03:04:05+00:00", "dvae_version": "0.9.0"}))
    return folder


@pytest.fixture(scope="module")
def results(tmp_path_factory, tiny_run, sprites_data_dir) -> Path:
    """a-500 and c-300 scored for real; b-500 is a-500 scored with another seed; d-dsprites is a-500's
    scores said to be of another dataset; f-older is a-500 without the dataset entry (older dvae); e-null has FactorVAE null with its reason; scored-onnx is a
    ``dvae score`` folder; btcvae_dsprites and VAE_mnist are disentangling-vae's runs."""
    root = tmp_path_factory.mktemp("scores")
    for name in ("a-500", "c-300"):
        shutil.copytree(tiny_run, root / name)
    common = ["--metric", "mig,factorvae", "--fast", "--no-test", "--device", "cpu", "--results-dir", str(root),
              "--data-dir", str(sprites_data_dir)]
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda args: run_dvae("eval", *args, *common),
                             [["a-500", "--max-images", "500"], ["c-300", "--max-images", "300", "--seed", "7"]]))
    for result in done:
        assert result.returncode == 0, result.stderr
    for name, change in (("b-500", lambda log: _reseed(log, 7)),
                         ("d-dsprites", lambda log: log.update(dataset="dsprites")),
                         ("f-older", lambda log: log.pop("dataset")),
                         ("e-null", lambda log: (log.update(FactorVAE=None),
                                                 log["protocols"]["FactorVAE"].update(not_computed=NULL_REASON)))):
        shutil.copytree(root / "a-500", root / name)
        _edit_log(root / name, change)
    write_scored(root / "scored-onnx", root / "a-500")
    for name in ("btcvae_dsprites", "VAE_mnist"):
        shutil.copytree(FIXTURES / name, root / name)
    return root


def cli(capsys, monkeypatch, *args: str, width: int = 250) -> tuple[int, str, str]:
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.delenv("DVAE_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", *args])
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


# --------------------------------------------------------------------------- the rule


def test_the_seed_and_outcomes_do_not_make_scores_incomparable(results):
    logs = {name: json.loads((results / name / METRICS_LOG).read_text()) for name in ("a-500", "b-500", "c-300")}
    a, b, c = (logs[name]["protocols"]["MIG"] for name in ("a-500", "b-500", "c-300"))
    assert a["seed"] != b["seed"] and a["image_selection"] != b["image_selection"]   # the files differ...
    assert protocol_key(a, "sprites") == protocol_key(b, "sprites")                 # ...in the seed only
    assert protocol_key(a, "sprites") != protocol_key(c, "sprites")                 # 300 images, not 500
    assert protocol_key(a, "sprites") != protocol_key(a, "dsprites")
    assert comparable_protocol({**a, "active_dims": 2, "not_computed": "x"}, "sprites") == \
        comparable_protocol(a, "sprites")
    assert comparable_protocol(a, "sprites")["images"] == 500 and "seed" not in comparable_protocol(a, "sprites")


# --------------------------------------------------------------------------- mixed protocols


def test_runs_differing_only_by_the_seed_are_not_flagged(results, capsys, monkeypatch):
    table = compare_runs(["a-500", "b-500"], results)
    assert table.protocol_mixes == {}
    code, out, _ = cli(capsys, monkeypatch, "a-500", "b-500", "--results-dir", str(results), "-F", "markdown")
    assert code == 0 and "†" not in out and "protocol" not in out


def test_mixed_protocols_are_flagged_in_every_format(results, capsys, monkeypatch):
    table = compare_runs(["a-500", "b-500", "c-300"], results)
    assert set(table.protocol_mixes) == {"MIG", "FactorVAE"}
    mix = table.protocol_mixes["MIG"]
    assert mix.keys == ("image_selection", "images")
    assert [group.runs for group in mix.groups] == [("a-500", "b-500"), ("c-300",)]

    text = render(table, "table")
    assert "MIG †" in text and "FactorVAE †" in text
    flat = " ".join(text.split())
    assert "† MIG: 2 protocols differing in image_selection, images" in flat
    assert "images=300: c-300" in flat and "images=500: a-500, b-500" in flat

    markdown = render(table, "markdown")
    header = markdown.splitlines()[0]
    assert "| MIG † |" in header and "| FactorVAE † |" in header
    assert "† MIG: 2 protocols differing in image_selection, images" in markdown

    records = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    by_name = {r["name"]: r for r in records}
    assert by_name["c-300"]["MIG.protocol"].startswith("image_selection=300 of 737,280 images")
    assert "images=300" in by_name["c-300"]["MIG.protocol"] and "images=500" in by_name["a-500"]["MIG.protocol"]
    assert by_name["a-500"]["mixed_protocols"] == "FactorVAE;MIG"          # in the order of the columns
    assert float(by_name["c-300"]["MIG"]) == summarize_run(results / "c-300").metrics["MIG"]   # the number stays

    records = json.loads(render(table, "json"))
    by_name = {r["name"]: r for r in records}
    assert by_name["c-300"]["MIG.protocol"]["images"] == 300 and by_name["b-500"]["MIG.protocol"]["images"] == 500
    assert "seed" not in by_name["b-500"]["MIG.protocol"]
    assert by_name["a-500"]["mixed_protocols"] == ["FactorVAE", "MIG"]

    latex = render(table, "latex")
    assert r"MIG \dag" in latex and "% \\dag MIG: 2 protocols" in latex

    code, out, _ = cli(capsys, monkeypatch, "a-500", "c-300", "--results-dir", str(results))
    assert code == 0 and "MIG †" in out and "differing in image_selection, images" in " ".join(out.split())


def test_another_dataset_is_another_protocol(results):
    mix = compare_runs(["a-500", "d-dsprites"], results).protocol_mixes["MIG"]
    assert mix.keys == ("dataset",)
    assert {group.values["dataset"]: group.runs for group in mix.groups} == {"sprites": ("a-500",),
                                                                            "dsprites": ("d-dsprites",)}
    assert compare_runs(["a-500", "f-older"], results).protocol_mixes == {}     # no dataset entry: the run's own


def test_grouped_seeds_of_mixed_protocols_are_flagged(results):
    table = compare_runs(["a-500", "b-500", "c-300"], results, group_seeds=True)
    assert len(table.rows) == 1 and "MIG" in table.protocol_mixes
    assert len(json.loads(render(table, "json"))[0]["MIG.protocol"]) == 2    # one per protocol in the group


# --------------------------------------------------------------------------- estimated terms


def test_estimated_terms_are_declared_once_and_marked(results, capsys, monkeypatch):
    assert {"mi_loss", "tc_loss", "dw_kl_loss"} <= estimated_terms("btcvae")
    assert estimated_terms("factor") == {"tc_loss"} and estimated_terms("VAE") == frozenset()
    table = compare_runs(["btcvae_dsprites", "VAE_mnist"], results)
    marked = {c.key for c in table.columns if c.estimated}
    assert marked == {f"{split}.{term}" for split in ("train", "test") for term in ("mi_loss", "tc_loss",
                                                                                     "dw_kl_loss")}
    text = render(table, "table")
    assert "~tc" in text and "~: an estimate" in text
    markdown = render(table, "markdown")
    assert "| ~train.tc_loss |" in markdown and "| train.kl_loss |" in markdown and "~: an estimate" in markdown
    (record, _) = csv.DictReader(io.StringIO(render(table, "csv")))
    assert set(record["estimated"].split(";")) == marked
    assert set(json.loads(render(table, "json"))[0]["estimated"]) == marked
    assert r"\textasciitilde{}train.tc\_loss" in render(table, "latex")

    plain = compare_runs(["VAE_mnist"], results)          # nothing estimated: no field, no legend
    assert "estimated" not in json.loads(render(plain, "json"))[0] and "~" not in render(plain, "markdown")


# --------------------------------------------------------------------------- null scores


def test_a_null_score_is_blank_last_and_says_why(results, capsys, monkeypatch):
    up = compare_runs(["e-null", "a-500", "c-300"], results, sort="FactorVAE")
    down = compare_runs(["e-null", "a-500", "c-300"], results, sort="-FactorVAE")
    for table in (up, down):
        assert table.rows[-1].values["name"] == "e-null" and table.rows[-1].values.get("FactorVAE") is None
    assert up.rows[0].values["FactorVAE"] is not None
    text = " ".join(render(up, "table").split())
    assert f"FactorVAE of e-null: not computed ({NULL_REASON})" in text
    records = {r["name"]: r for r in json.loads(render(up, "json"))}
    assert records["e-null"]["FactorVAE"] is None and records["e-null"]["FactorVAE.not_computed"] == NULL_REASON
    assert records["a-500"]["FactorVAE.not_computed"] is None
    alone = compare_runs(["e-null"], results)              # a column of nulls is still shown
    assert "FactorVAE" in alone.keys and "not computed" in render(alone, "markdown")


def test_the_study_ranking_leaves_null_scores_out():
    from dvae_cli.study.plan import Cell
    from dvae_cli.study.report import CellValues, udr_selection

    cells = [CellValues(Cell(f"s{i}", "s", {}, i), {"UDR": 0.1 * i, "FactorVAE": None if i == 0 else 0.2 * i})
             for i in range(5)]
    (selection,) = udr_selection(cells, ["FactorVAE"])
    assert selection["models"] == 4 and selection["spearman_rho"] == 1.0


# --------------------------------------------------------------------------- scored folders


def test_a_scored_folder_is_listed_beside_trained_runs(results, capsys, monkeypatch):
    summary = summarize_run(results / "scored-onnx")
    assert (summary.kind, summary.status, summary.reason) == ("scored", "scored", "")
    assert summary.dataset == "sprites" and summary.metrics == summarize_run(results / "a-500").metrics
    assert summary.scored["format"] == "onnx" and summary.history == {} and summary.loss == "-"
    assert "scored-onnx" in [s.name for s in scan_runs(results)]

    table = compare_runs(results_dir=results)
    rows = {row.values["name"]: row.values for row in table.rows}
    assert rows["scored-onnx"]["kind"] == "scored" and rows["a-500"]["kind"] == "trained"
    assert rows["scored-onnx"]["dataset"] == "sprites" and rows["scored-onnx"]["MIG"] == rows["a-500"]["MIG"]
    assert rows["scored-onnx"].get("loss") is None and rows["scored-onnx"].get("epochs") is None
    assert "kind" in table.keys
    assert "scored-onnx: " not in render(table, "table")      # not listed as unfinished or broken
    only = compare_runs(["scored-onnx", str(results / "a-500")], results)
    assert [row.values["name"] for row in only.rows] == ["scored-onnx", "a-500"]
    assert compare_runs([str(results / "scored-onnx")], "elsewhere").rows[0].values["kind"] == "scored"
    trained = compare_runs(["a-500"], results)
    assert "kind" not in trained.keys                        # only trained runs: no kind column


def test_a_scored_folder_with_a_bad_scored_json_is_broken(tmp_path, results):
    folder = write_scored(tmp_path / "bad", results / "a-500")
    (folder / SCORED).write_text("[1, 2")
    summary = summarize_run(folder)
    assert summary.status == "broken" and "scored.json" in summary.reason and summary.kind == "scored"
