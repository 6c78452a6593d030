"""``dvae study report``: every metric by setting over seeds, the figures, and unsupervised model selection.

Read from the cells' run folders only (``metrics.log``, ``test_losses.log``,
``udr_codes.npz``), with no model loaded:

- the summary: one row per setting and score, with the mean, median, sample standard
  deviation and number of seeds (the finished cells that have the score), in any of
  ``dvae compare``'s formats; ``cells.csv`` holds every cell's own values;
- UDR (Duan et al., ICLR 2020; `dvae_cli.metrics.udr`) of each model against the other
  seeds of its setting, with the study's ``udr_correlation`` and ``udr_weighting``
  (disentanglement_lib's lasso and dlib by default), named in the notes and the protocol
  of every cell's UDR; how many models each UDR rests on (``udr_models`` in the summary,
  ``UDR_models`` in ``cells.csv``; with 2 it is one pair's score and its std is not
  given); and how well it selects: its Spearman rank correlation with each supervised
  score over all models, and the overlap of the top models by UDR and by that score,
  refused (None, with the reason in ``note``) where a tie at the top-k boundary, not the
  scores, would decide it;
- figures in ``<study>/report/``: a box plot per score over seeds per setting, the rank
  correlation between scores, each score against the reconstruction loss, and UDR against
  the supervised scores.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dvae_cli.compare.table import Column, CompareTable, Row
from dvae_cli.errors import DvaeError
from dvae_cli.runs.jsonfile import read_json
from dvae_cli.runs.layout import METRICS_LOG
from dvae_cli.runs.study_layout import (
    CELLS_CSV,
    RANK_CORRELATION_PNG,
    REPORT_MD,
    SUMMARY_CSV,
    UDR_SELECTION_CSV,
    UDR_SELECTION_PNG,
    box_plot_name,
    tradeoff_plot_name,
)
from dvae_cli.study.model_selection import UDR, add_udr, udr_models, udr_notes, udr_selection
from dvae_cli.study.plan import Cell, StudyPlan
from dvae_cli.study.state import StudyRecord, cell_status, study_dir

__all__ = ["RECONSTRUCTION", "UDR", "UNSUPERVISED", "CellValues", "StudyReport", "build_report",
           "describe", "read_scores", "report_notes", "udr_selection", "write_figures", "write_report_folder"]

RECONSTRUCTION = "test.recon_loss"
#: Scores that are not disentanglement metrics of the supervised kind (left out of UDR's selection).
UNSUPERVISED = ("UDR", RECONSTRUCTION, "gaussian_total_correlation", "gaussian_wasserstein_correlation",
                "gaussian_wasserstein_correlation_norm", "mutual_info_score")


@dataclass
class CellValues:
    """One finished cell's scores (metric name -> value; None: not computed) and how each was computed."""

    cell: Cell
    scores: dict[str, float | None] = field(default_factory=dict)
    protocols: dict[str, str] = field(default_factory=dict)
    #: The models of its setting its UDR compares (itself included; None: no UDR).
    udr_models: int | None = None


@dataclass
class StudyReport:
    """What ``dvae study report`` shows and writes."""

    plan: StudyPlan
    cells: list[CellValues]
    states: dict[str, str]
    metrics: list[str]
    selection: list[dict[str, Any]] = field(default_factory=list)
    #: `dvae_cli.metrics.udr.udr_protocol` of the UDR computed (None: no UDR).
    udr_protocol: dict[str, Any] | None = None

    def summary_table(self) -> CompareTable:
        """One row per setting and score: mean, median, std and n over the seeds."""
        axes = list(dict.fromkeys(key for c in self.cells for key in c.cell.axes))
        rows = []
        for setting in self.plan.settings():
            members = [c for c in self.cells if c.cell.setting == setting]
            if not members:
                continue
            for metric in self.metrics:
                values = [v for c in members if (v := c.scores.get(metric)) is not None and math.isfinite(v)]
                cells: dict[str, Any] = {"setting": setting, **{k: members[0].cell.axes.get(k) for k in axes},
                                         "score": metric, **describe(values)}
                reasons = {}
                if UDR in self.metrics:
                    cells["udr_models"], reason = udr_models(metric, members)
                    if reason is not None:
                        cells["std"], reasons["std"] = None, reason
                rows.append(Row({**cells, "name": f"{setting} {metric}"}, [], reasons))
        keys = ["setting", *axes, "score", "mean", "median", "std", "n"]
        keys += ["udr_models"] if UDR in self.metrics else []
        numeric = {"mean", "median", "std", "n", "udr_models"}
        return CompareTable([Column(key, key in numeric) for key in keys], rows)

    def cells_table(self) -> CompareTable:
        """One row per finished cell: its setting, grid values, seed and every score."""
        axes = list(dict.fromkeys(key for c in self.cells for key in c.cell.axes))
        columns = [part for m in self.metrics for part in ((m, f"{UDR}_models") if m == UDR else (m,))]
        rows = [Row({"cell": c.cell.name, "setting": c.cell.setting, **c.cell.axes, "seed": c.cell.seed,
                     **{m: c.scores.get(m) for m in self.metrics}, f"{UDR}_models": c.udr_models}, [])
                for c in self.cells]
        keys = ["cell", "setting", *axes, "seed", *columns]
        return CompareTable([Column(key, key in columns or key == "seed") for key in keys], rows)

    def selection_table(self) -> CompareTable:
        """UDR's model selection per supervised score: Spearman rho, top-k agreement (None: why, in
        ``top_k_agreement.not_computed``), models."""
        keys = ["score", "spearman_rho", "top_k", "top_k_agreement", "models"]
        rows = [Row({**entry, "name": entry["score"]}, [],
                    {"top_k_agreement": entry["note"]} if entry.get("note") else {}) for entry in self.selection]
        return CompareTable([Column(key, key != "score") for key in keys], rows)


def report_notes(report: StudyReport) -> list[str]:
    """What a reader of the tables must know: scores computed with other protocols, UDR not computable."""
    notes = []
    for metric in report.metrics:
        kinds: dict[str, list[str]] = {}
        for values in report.cells:
            if metric in values.protocols:
                kinds.setdefault(values.protocols[metric], []).append(values.cell.name)
        if len(kinds) > 1:
            groups = sorted(kinds.values(), key=len)
            notes.append(f"{metric} was computed with {len(kinds)} different protocols (image counts, sample "
                         f"sizes): e.g. {', '.join(groups[0][:3])} differ from the others; dvae eval CELL "
                         "--metric ... with the study's settings makes them alike")
    if report.plan.udr and UDR not in report.metrics:
        notes.append("no UDR: it compares each model with the other seeds of its setting, and needs 2 seeds "
                     "or more with UDR codes (with 2, a UDR is one pair's score; 3 or more give a median)")
    notes += udr_notes(report.udr_protocol, report.plan.settings(), report.cells, report.selection)
    unfinished = {state: n for state in ("failed", "conflict", "running", "left")
                  if (n := list(report.states.values()).count(state))}
    if unfinished:
        notes.append("not in the tables: " + ", ".join(f"{n} {state}" for state, n in unfinished.items())
                     + " cells")
    return notes


def describe(values: list[float]) -> dict[str, Any]:
    """mean, median, sample std (None for fewer than 2) and n of `values` (None for all if empty)."""
    if not values:
        return {"mean": None, "median": None, "std": None, "n": 0}
    return {"mean": math.fsum(values) / len(values), "median": statistics.median(values),
            "std": statistics.stdev(values) if len(values) > 1 else None, "n": len(values)}


def build_report(plan: StudyPlan, results_dir: Path, record: StudyRecord | None = None) -> StudyReport:
    """Read every finished cell of the study and compute UDR and its selection scores."""
    where = study_dir(plan, results_dir)
    states: dict[str, str] = {}
    cells: list[CellValues] = []
    for cell in plan.cells:
        state = cell_status(plan, cell, results_dir, record).state
        states[cell.name] = state
        if state in ("done", "trained", "extend"):
            scores, protocols = read_scores(where / cell.name)
            cells.append(CellValues(cell, scores, protocols))
    protocol = add_udr(plan, where, cells)
    metrics = list(dict.fromkeys(key for c in cells for key in c.scores))
    report = StudyReport(plan, cells, states, metrics, udr_protocol=protocol)
    report.selection = udr_selection(cells, [m for m in metrics if m not in UNSUPERVISED])
    return report


def read_scores(folder: Path) -> tuple[dict[str, float | None], dict[str, str]]:
    """A run's ``metrics.log`` scores and its test reconstruction loss (``test.recon_loss``), and each
    score's protocol without its seed (to tell scores computed alike from others)."""
    from dvae_cli.catalogue.metrics import METRICS
    from dvae_cli.runs.folder import RunFolder

    scores: dict[str, float | None] = {}
    try:
        logged = read_json(folder / METRICS_LOG) if (folder / METRICS_LOG).is_file() else {}
    except DvaeError:
        logged = {}
    if isinstance(logged, dict):   # its scores: numbers, or null for a score that could not be computed
        known = {key for info in METRICS.values() for key in info.scores}
        scores.update({k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None
                       for k, v in logged.items()
                       if k in known or (isinstance(v, (int, float)) and not isinstance(v, bool))})
    try:
        test = RunFolder(folder).test_losses()
    except DvaeError:
        test = None
    if test and "recon_loss" in test:
        scores[RECONSTRUCTION] = float(test["recon_loss"])
    from dvae_cli.compare.protocols import protocol_key

    protocols = logged.get("protocols") if isinstance(logged, dict) else None
    dataset = logged.get("dataset") if isinstance(logged, dict) and isinstance(logged.get("dataset"), str) else None
    shown = {}   # compare's rule: every protocol entry but the seed and the model's outcomes (active latents)
    for key, protocol in (protocols.items() if isinstance(protocols, dict) else ()):
        if isinstance(protocol, dict):
            shown[key] = protocol_key(protocol, dataset)
    return scores, shown


def write_figures(report: StudyReport, out_dir: Path, log: Callable[[str], None]) -> list[Path]:
    """The report's figures (see the module docstring) into `out_dir`; returns the files written."""
    from dvae_cli.viz.study_figures import (
        metric_boxes_figure,
        rank_correlation_figure,
        spearman_matrix,
        tradeoff_figure,
        udr_selection_figure,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    settings = report.plan.settings()
    name = report.plan.name

    def keep(path: Path, drawn: bool) -> None:
        if drawn:
            written.append(path)
            log(f"wrote {path}")

    for metric in report.metrics:
        values = [[v for c in report.cells if c.cell.setting == s and (v := c.scores.get(metric)) is not None]
                  for s in settings]
        shown = [(s, v) for s, v in zip(settings, values) if v]
        path = out_dir / box_plot_name(metric)
        keep(path, metric_boxes_figure(path, metric, [s for s, _ in shown], [v for _, v in shown],
                                       title=f"{name}: {metric} over seeds"))
    columns = {m: [c.scores.get(m) for c in report.cells] for m in report.metrics}
    names, matrix = spearman_matrix(columns)
    path = out_dir / RANK_CORRELATION_PNG
    keep(path, rank_correlation_figure(path, names, matrix, title=f"{name}: Spearman rank correlation of scores"))
    for metric in report.metrics:
        if metric == RECONSTRUCTION:
            continue
        both = [c for c in report.cells if c.scores.get(metric) is not None and c.scores.get(RECONSTRUCTION)
                is not None]
        path = out_dir / tradeoff_plot_name(metric)
        keep(path, tradeoff_figure(path, metric, [c.scores[RECONSTRUCTION] for c in both],  # type: ignore[misc]
                                   [c.scores[metric] for c in both],  # type: ignore[misc]
                                   [str(c.cell.axes.get("loss", c.cell.setting)) for c in both],
                                   title=f"{name}: {metric} vs. reconstruction"))
    with_udr = [c for c in report.cells if c.scores.get(UDR) is not None]
    supervised = [m for m in report.metrics if m not in UNSUPERVISED]
    path = out_dir / UDR_SELECTION_PNG
    protocol = report.udr_protocol or {}
    keep(path, udr_selection_figure(path, [c.scores[UDR] for c in with_udr],  # type: ignore[misc]
                                    {m: [c.scores.get(m) for c in with_udr] for m in supervised},
                                    [str(c.cell.axes.get("loss", c.cell.setting)) for c in with_udr],
                                    title=f"{name}: UDR against the supervised scores",
                                    protocol=(f"{protocol['correlation']}, {protocol['weighting']} weighting"
                                              if protocol else None)))
    return written


def write_report_folder(report: StudyReport, out_dir: Path, figures: bool = True) -> list[Path]:
    """``report.md``, ``summary.csv``, ``cells.csv``, ``udr_selection.csv`` and the figures into
    `out_dir`; returns the figures written."""
    from dvae_cli.compare.formats import render
    from dvae_cli.runs.atomic import write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    summary = report.summary_table()
    write_text(out_dir / SUMMARY_CSV, render(summary, "csv"))
    write_text(out_dir / CELLS_CSV, render(report.cells_table(), "csv"))
    if report.selection:
        write_text(out_dir / UDR_SELECTION_CSV, render(report.selection_table(), "csv"))
    drawn = write_figures(report, out_dir, lambda line: None) if figures else []
    plan = report.plan
    counts = ", ".join(f"{n} {state}" for state in dict.fromkeys(report.states.values())
                       if (n := list(report.states.values()).count(state)))
    lines = [f"# Study {plan.name}", ""] + ([plan.description, ""] if plan.description else [])
    lines += [f"{len(report.cells)} of {len(plan.cells)} cells in the tables ({counts}).", ""]
    lines += [f"Note: {note}" for note in report_notes(report)] + [""] if report_notes(report) else []
    lines += ["## Scores by setting (over seeds)", "", render(summary, "markdown")]
    if report.selection:
        lines += ["## Unsupervised model selection (UDR)", ""]
        if report.udr_protocol:
            lines += [f"UDR with correlation {report.udr_protocol['correlation']}, weighting "
                      f"{report.udr_protocol['weighting']} (see the notes).", ""]
        lines += [render(report.selection_table(), "markdown")]
    lines += [f"![{path.stem}]({path.name})\n" for path in drawn]
    write_text(out_dir / REPORT_MD, "\n".join(lines).rstrip("\n") + "\n")
    return drawn

