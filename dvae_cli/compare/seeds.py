"""Groups of runs that differ only by their seed, aggregated as mean +- std (``--group-seeds``).

Two runs belong to one group when their ``specs.json`` agree on every parameter
except the seed and what does not change the model trained: the run and
experiment names, the device, logging, checkpointing and evaluation settings.

Standard library only.
"""

from __future__ import annotations

import json
import os
from typing import Any

from dvae_cli.catalogue.params import ROLE_FREE
from dvae_cli.compare.table import Row, Stat
from dvae_cli.spec import field_keys

#: Spec keys that do not make two runs different experiments: the seed, what changes nothing trained
#: (`dvae_cli.spec.ROLE_FREE`: devices, logging, checkpoints, evaluation, trackers) and the run's labels.
IGNORED_KEYS = frozenset({"name", "seed", "dvae_version", "n_train", "n_test", "study", *field_keys(ROLE_FREE)})
#: Cells that describe the group rather than being aggregated.
_OWN = ("name", "runs", "n", "seed")
_NAME_SEPARATORS = "-_.+= "


def group_key(row: Row) -> str:
    """What must be equal for two runs to be one group (a run without a spec is alone)."""
    summary = row.runs[0]
    if summary.spec is None:
        return f"path:{summary.path}"
    spec = {k: v for k, v in summary.spec.to_dict().items() if k not in IGNORED_KEYS}
    return json.dumps(spec, sort_keys=True, default=str)


def group_seeds(rows: list[Row]) -> list[Row]:
    """One row per group of runs differing only by seed, in order of first appearance.

    Each group row has ``name`` (the runs' common name prefix followed by ``*``, or the
    run's own name for a group of one), ``runs`` (the run names), ``n`` and ``seed``
    (the seeds, sorted). A number equal in every run stays a number; other numbers
    become a `Stat` over the runs that have them. Texts that differ are joined by ``/``.
    """
    groups: dict[str, list[Row]] = {}
    for row in rows:
        groups.setdefault(group_key(row), []).append(row)
    return [_aggregate(members) for members in groups.values()]


def group_name(names: list[str]) -> str:
    """``["btcvae-s1", "btcvae-s2"]`` -> ``"btcvae-s*"``; a single name unchanged."""
    if len(names) == 1:
        return names[0]
    prefix = os.path.commonprefix(names).rstrip(_NAME_SEPARATORS)
    return f"{prefix}*" if prefix else f"{names[0]} (+{len(names) - 1})"


def _aggregate(members: list[Row]) -> Row:
    names = [str(row.values["name"]) for row in members]
    seeds = sorted({row.values["seed"] for row in members if row.values.get("seed") is not None})
    values: dict[str, Any] = {"name": group_name(names), "runs": names, "n": len(members),
                              "seed": seeds[0] if len(seeds) == 1 else (seeds or None)}
    keys: dict[str, None] = {}
    for row in members:
        keys.update(dict.fromkeys(row.values))
    for key in keys:
        if key not in _OWN:
            values[key] = _combine([row.values.get(key) for row in members])
    reasons = {key: "; ".join(f"{row.values.get('name')}: {row.not_computed[key]}" for row in members
                              if key in row.not_computed)
               for key in dict.fromkeys(key for row in members for key in row.not_computed)}
    return Row(values, [summary for row in members for summary in row.runs], reasons)


def _combine(cells: list[Any]) -> Any:
    present = [cell for cell in cells if cell is not None]
    if not present:
        return None
    if all(cell == present[0] for cell in present) and len(present) == len(cells):
        return present[0]
    if all(isinstance(cell, (int, float)) and not isinstance(cell, bool) for cell in present):
        return Stat.of([float(cell) for cell in present])
    texts = list(dict.fromkeys(str(cell) for cell in present))
    return "/".join(texts)
