"""`compare_runs`: runs -> filtered, grouped, sorted `CompareTable` (what ``dvae compare`` prints).

Usable from Python::

    from dvae_cli.compare import compare_runs, render
    table = compare_runs(results_dir="results", filters=["dataset=sprites"], sort="test.loss")
    print(render(table, "markdown"))

Standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dvae_cli.compare import seeds
from dvae_cli.compare.flags import flagged_columns
from dvae_cli.compare.select import apply_filters, choose_columns, find_runs, parse_filters, parse_keys, sort_rows
from dvae_cli.compare.table import CompareTable, all_keys, default_keys, run_row
from dvae_cli.runs.summary import RunSummary


def compare_runs(runs: Sequence[str] = (), results_dir: Path | str = "results", *,
                 filters: Sequence[str] = (), sort: str | Sequence[str] | None = None, reverse: bool = False,
                 columns: str | Sequence[str] | None = None, group_seeds: bool = False,
                 summaries: Sequence[RunSummary] | None = None) -> CompareTable:
    """Tabulate runs side by side.

    Args:
        runs: Run names, glob patterns or run folder paths; empty: every run under `results_dir`.
        results_dir: Where the runs are.
        filters: Conditions such as ``"dataset=sprites,loss=btcvae|factor"`` or ``"MIG>0.1"``
            (all must hold); keys are columns or ``specs.json`` fields.
        sort: Column keys, comma-separated or a list; ``-key`` sorts descending. Default:
            the order the runs were named in, or by name.
        reverse: Reverse every sort key.
        columns: Column keys or glob patterns (``test.*``) to show, in order (default: all
            but ``origin``, ``status``, ``latent_dim``, ``epochs_planned`` and the single
            key parameters).
        group_seeds: One row per group of runs differing only by seed (mean +- std).
        summaries: Already read runs (then `runs` and `results_dir` are not used).

    Returns:
        The table; its `available` lists every column key it accepts. Its columns are
        flagged (`dvae_cli.compare.flags`): loss terms that are minibatch estimates, and
        scores whose values were computed with different protocols (`protocol_mixes`).

    Raises:
        RunNotFoundError, UnknownNameError, ConfigError: bad run names, keys or values.
    """
    found = list(summaries) if summaries is not None else find_runs(list(runs), Path(results_dir))
    every_row = [run_row(summary) for summary in found]
    every_key = all_keys(every_row)
    rows = apply_filters(every_row, parse_filters(filters), every_key)
    if group_seeds:
        rows = seeds.group_seeds(rows)
    available = all_keys(rows) or every_key
    sortable = list(dict.fromkeys([*available, *every_key]))
    rows = sort_rows(rows, parse_keys(sort), sortable, reverse=reverse)
    requested = parse_keys(columns)
    keys = choose_columns(requested, sortable) if requested else (default_keys(rows) or default_keys(every_row))
    shown, mixes = flagged_columns(rows, keys)
    return CompareTable(columns=shown, rows=rows, grouped=group_seeds, available=sortable, protocol_mixes=mixes)
