"""What a reader must know about a comparison's columns: estimated terms, mixed protocols, null scores.

`flagged_columns` gives each column shown its flags (`Column.estimated`, `Column.mixed`)
and the protocol mix of each flagged score; `score_notes` says it in words (the legend
of the marks, which runs were scored how, why a score is null); `protocol_cell` is a
row's protocol of a mixed score, for the machine-readable formats. Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dvae_cli.compare.estimated import LEGEND, is_estimated
from dvae_cli.compare.protocols import ProtocolMix, comparable_protocol, protocol_mix
from dvae_cli.compare.table import MIXED_MARK, Column, CompareTable, Row, make_columns, score_column, score_name

__all__ = ["MIXED_LEGEND", "flagged_columns", "protocol_cell", "score_notes"]

#: The line that explains `MIXED_MARK`.
MIXED_LEGEND = (f"{MIXED_MARK}: computed with different protocols (other images, sample sizes, estimator or "
                "dataset; the seed does not count): rank only within one protocol, or score the runs again "
                "alike (dvae eval RUN --metric ... with the same options)")


def flagged_columns(rows: Sequence[Row], keys: Sequence[str]) -> tuple[list[Column], dict[str, ProtocolMix]]:
    """The columns of `keys` with their flags, and each mixed score's `ProtocolMix` by column key."""
    mixes = {}
    for key in keys:
        if _is_score(key):
            mix = protocol_mix(key, {run: protocol for row in rows for run, protocol in _protocols(row, key).items()})
            if mix is not None:
                mixes[key] = mix
    columns = [Column(c.key, c.numeric, estimated=_estimated(rows, c.key), mixed=c.key in mixes)
               for c in make_columns(list(rows), list(keys))]
    return columns, mixes


def protocol_cell(row: Row, mix: ProtocolMix) -> dict[str, Any] | list[dict[str, Any]] | None:
    """The row's protocol of the mixed score, restricted to the entries that differ (a list for a group
    of runs scored with several), or None where the row has no value."""
    found: list[dict[str, Any]] = []
    for summary in row.runs:
        group = mix.group_of(summary.name)
        if group is not None and group.values not in found:
            found.append(group.values)
    return None if not found else found[0] if len(found) == 1 else found


def score_notes(table: CompareTable) -> list[str]:
    """The legend of the marks shown, each mixed score's protocols and runs, and each null score's reason."""
    notes = []
    if any(column.estimated for column in table.columns):
        notes.append(LEGEND)
    if table.protocol_mixes:
        notes.append(MIXED_LEGEND)
        notes += [f"{MIXED_MARK} {key}: {mix.describe()}" for key, mix in table.protocol_mixes.items()]
    for row in table.rows:
        for key, reason in row.not_computed.items():
            if key in table.keys:
                notes.append(f"{key} of {row.values.get('name')}: not computed ({reason})")
    return notes


def _is_score(key: str) -> bool:
    return score_column(score_name(key)) == key


def _protocols(row: Row, key: str) -> dict[str, dict[str, Any]]:
    """Run name -> comparable protocol of its value of score `key`, for the row's runs that have one."""
    name = score_name(key)
    return {summary.name: comparable_protocol(summary.protocols.get(name), summary.scores_dataset)
            for summary in row.runs if name in (summary.metrics or {})}


def _estimated(rows: Sequence[Row], key: str) -> bool:
    """Whether `key` is a loss term that is an estimate in a run that has it."""
    if not key.startswith(("train.", "test.")):
        return False
    return any(is_estimated(key, summary.loss) for row in rows if row.values.get(key) is not None
               for summary in row.runs)
