"""UDR of a study's models and how well it selects them, for ``dvae study report``.

Each model's UDR (`dvae_cli.metrics.udr`; Duan et al., ICLR 2020) compares its codes of the
shared sample (``udr_codes.npz``) with those of the other seeds of its setting, with the
study's ``udr_correlation`` and ``udr_weighting`` (disentanglement_lib's lasso and dlib by
default). The report says which, and how many models each UDR rests on: with 2 it is one
pair's score (the same for both seeds with spearman or pearson), so its spread over seeds
is not given, and a top-k agreement that a tie at the boundary, not the scores, would
decide is refused (None, with the reason).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from dvae_cli.runs.study_layout import UDR_CODES
from dvae_cli.study.plan import Cell, StudyPlan

__all__ = ["UDR", "ScoredCell", "add_udr", "udr_models", "udr_notes", "udr_selection"]

UDR = "UDR"


class ScoredCell(Protocol):
    """A finished cell's values as the report holds them (`dvae_cli.study.report.CellValues`)."""

    cell: Cell
    scores: dict[str, float | None]
    protocols: dict[str, str]
    udr_models: int | None


def add_udr(plan: StudyPlan, where: Path, cells: Sequence[ScoredCell]) -> dict[str, Any] | None:
    """Each cell's UDR from the ``udr_codes.npz`` of the cells of its setting, with the study's correlation
    and weighting, its protocol and how many models it compares (``udr_models``).

    Returns:
        `dvae_cli.metrics.udr.udr_protocol` of the scores (None: no cell has codes).
    """
    import numpy as np

    from dvae_cli.metrics.udr import NUM_POINTS, Representation, udr_protocol, udr_scores

    groups: dict[str, list[tuple[ScoredCell, Representation]]] = {}
    for values in cells:
        path = where / values.cell.name / UDR_CODES
        if not path.is_file():
            continue
        with np.load(path) as codes:
            groups.setdefault(values.cell.setting, []).append(
                (values, Representation(codes["means"].astype(np.float64), codes["kl"].astype(np.float64))))
    if not groups:
        return None
    protocol = udr_protocol(plan.udr_correlation, plan.udr_weighting)
    shown = json.dumps({**protocol, "images": NUM_POINTS}, sort_keys=True)
    ordered = list(groups.values())
    scored = udr_scores([[rep for _, rep in group] for group in ordered], correlation=plan.udr_correlation,
                        weighting=plan.udr_weighting)
    for members, scores in zip(ordered, scored):
        for (values, _), score in zip(members, scores):
            if score is not None:
                values.scores[UDR] = float(score)
                values.protocols[UDR] = shown
                values.udr_models = len(members)
    return protocol


def _boundary_tie(values: list[float], k: int) -> tuple[float, int] | None:
    """(value, how many share it) when the k-th and (k+1)-th largest of `values` are equal (the top k is
    then chosen by the order of the cells), else None."""
    ordered = sorted(values, reverse=True)
    if k < len(ordered) and ordered[k - 1] == ordered[k]:
        return ordered[k], ordered.count(ordered[k])
    return None


def udr_selection(cells: Sequence[ScoredCell], supervised: Sequence[str]) -> list[dict[str, Any]]:
    """For each supervised score: Spearman's rho with UDR over the models that have both, and the
    share of the top 10% of models by that score (at least 1) that UDR's top 10% also holds.

    The share is None, with the reason in ``note``, when UDR or the score ties at the top-k
    boundary (two seeds of one setting share their UDR when it rests on 2 models with a
    symmetric correlation): the tie-break, not the scores, would choose the top models."""
    from dvae_cli.viz.study_figures import spearman_matrix

    found = []
    for metric in supervised:
        pairs = [(u, s) for c in cells if (u := c.scores.get(UDR)) is not None
                 and (s := c.scores.get(metric)) is not None]
        if len(pairs) < 3:
            continue
        udr, score = [p[0] for p in pairs], [p[1] for p in pairs]
        _, matrix = spearman_matrix({UDR: list(udr), metric: list(score)})
        rho = round(float(matrix[0, 1]), 12) + 0.0   # no -5e-17 or -0.0 for a correlation of zero
        k = max(1, round(0.1 * len(pairs)))
        top_udr = set(sorted(range(len(pairs)), key=lambda i: -udr[i])[:k])
        top_score = set(sorted(range(len(pairs)), key=lambda i: -score[i])[:k])
        ties = [f"{name} ties at the top-{k} boundary ({count} models share {value:.6g})"
                for name, values in ((UDR, udr), (metric, score)) if (tie := _boundary_tie(values, k))
                for value, count in [tie]]
        note = "; ".join(ties) + ": the order of the cells, not the scores, would choose the top models" \
            if ties else None
        found.append({"score": metric, "spearman_rho": rho if math.isfinite(rho) else None, "top_k": k,
                      "top_k_agreement": None if ties else len(top_udr & top_score) / k, "models": len(pairs),
                      "note": note})
    return found


def udr_models(metric: str, members: Sequence[ScoredCell]) -> tuple[int | None, str | None]:
    """The models a setting's UDR rests on (UDR's rows only), and why its std is None (2 models), if so."""
    counts = {c.udr_models for c in members if c.scores.get(UDR) is not None and c.udr_models}
    if metric != UDR or not counts:
        return None, None
    models = max(counts)
    return models, ("UDR of 2 models: one pair's score, not a spread over seeds (3 seeds or more give a "
                    "median over pairs)" if models == 2 else None)


def udr_notes(protocol: dict[str, Any] | None, settings: Sequence[str], cells: Sequence[ScoredCell],
              selection: Sequence[dict[str, Any]]) -> list[str]:
    """The report's notes on UDR: its protocol (`add_udr`), the models each UDR rests on per setting,
    and the agreements `udr_selection` refused."""
    if protocol is None or not any(c.scores.get(UDR) is not None for c in cells):
        return []
    by_count: dict[int, list[str]] = {}
    for setting in settings:
        counts = {c.udr_models for c in cells if c.cell.setting == setting and c.udr_models}
        if counts:
            by_count.setdefault(max(counts), []).append(setting)
    rests = "; ".join(f"{count} models in {len(names)} setting{'s' if len(names) > 1 else ''} "
                      f"({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
                      for count, names in sorted(by_count.items()))
    notes = [f"UDR: correlation {protocol['correlation']}, weighting {protocol['weighting']} "
             f"({protocol['matrix']}; pair score {protocol['pair_score']}; latents of KL <= "
             f"{protocol['kl_threshold']} nats left out); a model's UDR is the median over the other models of "
             f"its setting, resting on {rests}"]
    if 2 in by_count:
        same = ("both seeds get the same score" if protocol["correlation"] != "lasso"
                else "the two seeds get the pair's two Lasso directions")
        notes.append(f"UDR of the settings with 2 models is one pair's score ({same}): its std is not given, "
                     "ties it makes refuse top-k agreements; 3 seeds or more give a median over pairs")
    notes += [f"UDR selection of {entry['score']}: top_k_agreement not given: {entry['note']}"
              for entry in selection if entry.get("top_k_agreement") is None and entry.get("note")]
    return notes
