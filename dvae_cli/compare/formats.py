"""A `CompareTable` as a rich table, CSV, Markdown, JSON or LaTeX.

Table, Markdown and LaTeX show numbers with 4 significant digits (standard
deviations with 2) and missing cells as ``-``; CSV and JSON keep full precision,
leave missing cells empty (CSV) or null (JSON), and split a mean +- std cell into
two columns, ``<key>`` (the mean) and ``<key>.std``.

Flagged columns (`dvae_cli.compare.flags`) are marked in the headers of the table,
Markdown and LaTeX (``~`` an estimated loss term, ``†`` a score computed with mixed
protocols) and explained in notes below them (LaTeX: in comments). CSV and JSON keep
the column keys and add fields: ``<score>.protocol`` after a mixed score (the entries
of the run's protocol that differ between runs), ``<score>.not_computed`` after a
score some run has null (why), and, in every record, ``estimated`` and
``mixed_protocols`` (the column keys flagged).

Standard library and rich only.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import TYPE_CHECKING, Any

from dvae_cli.catalogue.losses import loss_names
from dvae_cli.compare.flags import protocol_cell, score_notes
from dvae_cli.compare.protocols import describe_values
from dvae_cli.compare.table import CompareTable, Stat, has_reference_test_losses
from dvae_cli.errors import UnknownNameError

if TYPE_CHECKING:
    from rich.table import Table

FORMATS: tuple[str, ...] = ("table", "csv", "markdown", "json", "latex")
#: File suffix -> format, for ``--output FILE`` without ``--format``.
SUFFIXES = {".csv": "csv", ".md": "markdown", ".markdown": "markdown", ".json": "json", ".tex": "latex",
            ".txt": "table"}
MISSING = "-"
STATUS_STYLES = {"interrupted": "yellow", "training": "cyan", "diverged": "red", "crashed": "red", "broken": "red"}


def check_format(name: str) -> str:
    """`name` if it is a format; raises `UnknownNameError` otherwise."""
    if name not in FORMATS:
        raise UnknownNameError("format", name, FORMATS)
    return name


def render(table: CompareTable, fmt: str, width: int = 400) -> str:
    """The table as text in format `fmt` (``table`` is the rich table without colours)."""
    check_format(fmt)
    if fmt == "table":
        from rich.console import Console

        buffer = io.StringIO()
        Console(file=buffer, width=width, color_system=None, highlight=False).print(rich_table(table))
        return buffer.getvalue()
    return {"csv": to_csv, "markdown": to_markdown, "json": to_json, "latex": to_latex}[fmt](table)


# --------------------------------------------------------------------------- cells


def format_number(value: float, digits: int = 4) -> str:
    """`digits` significant digits; integers unchanged; large numbers without exponent."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if 10 ** digits <= abs(value) < 1e15:
        return f"{value:.0f}"
    if digits < 4:  # a standard deviation: keep its trailing zeros (2.0, not 2)
        return f"{value:#.{digits}g}".rstrip(".").replace(".e", "e")
    return f"{value:.{digits}g}"


def format_cell(cell: Any, pm: str = "±", sep: str = " ") -> str:
    """A cell as short text: numbers rounded, ``mean ± std``, parameters as ``B=6 A=1`` (joined by `sep`)."""
    if cell is None:
        return MISSING
    if isinstance(cell, bool):
        return "yes" if cell else "no"
    if isinstance(cell, Stat):
        if cell.std is None:
            return f"{format_number(cell.mean)} (n=1)"
        return f"{format_number(cell.mean)} {pm} {format_number(cell.std, 2)}"
    if isinstance(cell, (int, float)):
        return format_number(cell)
    if isinstance(cell, dict):
        return sep.join(f"{_short_param(k)}={_param_value(v)}" for k, v in cell.items()) or MISSING
    if isinstance(cell, list):
        return ", ".join(format_cell(item) for item in cell)
    return str(cell)


def _short_param(key: str) -> str:
    """``btcvae_B`` -> ``B`` (the loss is in its own column); ``lr_disc`` unchanged."""
    prefix, _, rest = key.partition("_")
    return rest if prefix in loss_names() and rest else key


def _param_value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- machine-readable


PROTOCOL_SUFFIX = ".protocol"
NOT_COMPUTED_SUFFIX = ".not_computed"
#: The fields of every record listing the flagged columns.
ESTIMATED_FIELD, MIXED_FIELD = "estimated", "mixed_protocols"


def flat_records(table: CompareTable) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows with full-precision values: a `Stat` becomes ``key`` and ``key.std``; the flags'
    fields follow (see the module docstring)."""
    split = {c.key for c in table.columns if any(isinstance(r.values.get(c.key), Stat) for r in table.rows)}
    reasons = {key for row in table.rows for key in row.not_computed}
    estimated = [c.key for c in table.columns if c.estimated]
    mixed = [c.key for c in table.columns if c.mixed]

    def fields(key: str) -> tuple[str, ...]:
        return (key, *((f"{key}.std",) if key in split else ()),
                *((key + PROTOCOL_SUFFIX,) if key in mixed else ()),
                *((key + NOT_COMPUTED_SUFFIX,) if key in reasons else ()))

    header = [name for key in table.keys for name in fields(key)]
    header += [name for name, keys in ((ESTIMATED_FIELD, estimated), (MIXED_FIELD, mixed)) if keys]
    records = []
    for row, record in zip(table.rows, table.records(), strict=True):
        flat: dict[str, Any] = {}
        for key, cell in record.items():
            if key in split:
                mean, std = (cell.mean, cell.std) if isinstance(cell, Stat) else (cell, 0.0 if cell is not None
                                                                                   else None)
                flat[key], flat[f"{key}.std"] = mean, std
            else:
                flat[key] = cell
            if key in mixed:
                flat[key + PROTOCOL_SUFFIX] = protocol_cell(row, table.protocol_mixes[key])
            if key in reasons:
                flat[key + NOT_COMPUTED_SUFFIX] = row.not_computed.get(key)
        if estimated:
            flat[ESTIMATED_FIELD] = list(estimated)
        if mixed:
            flat[MIXED_FIELD] = list(mixed)
        records.append(flat)
    return header, records


def to_csv(table: CompareTable) -> str:
    """CSV with a header of column keys; parameters as ``btcvae_B=6 ...``, lists joined by ``;``."""
    header, records = flat_records(table)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        writer.writerow([_protocol_text(record[key]) if key.endswith(PROTOCOL_SUFFIX) else _csv_cell(record[key])
                         for key in header])
    return buffer.getvalue()


def _protocol_text(cell: Any) -> str:
    """A `protocol_cell` in CSV: ``images=500; num_train=1000``, several joined by `` | ``."""
    if cell is None:
        return ""
    return " | ".join(describe_values(values, sep="; ") for values in (cell if isinstance(cell, list) else [cell]))


def _csv_cell(cell: Any) -> Any:
    if cell is None:
        return ""
    if isinstance(cell, dict):
        return " ".join(f"{k}={_param_value(v)}" for k, v in cell.items())
    if isinstance(cell, list):
        return ";".join(str(item) for item in cell)
    if isinstance(cell, float):
        return repr(cell)
    return cell


def to_json(table: CompareTable) -> str:
    """A JSON list of records (``pandas.DataFrame(json.load(f))`` reads it); NaN and inf become null."""
    _, records = flat_records(table)
    return json.dumps([{k: _json_cell(v) for k, v in record.items()} for record in records], indent=2,
                      allow_nan=False) + "\n"


def _json_cell(cell: Any) -> Any:
    if isinstance(cell, float) and not math.isfinite(cell):
        return None
    return cell


# --------------------------------------------------------------------------- for people


def to_markdown(table: CompareTable) -> str:
    """A GitHub-flavoured Markdown table (numbers right-aligned)."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    lines = [line([c.label for c in table.columns]),   # a lone ~ is no strikethrough: each cell is its own span
             "| " + " | ".join("---:" if c.numeric else "---" for c in table.columns) + " |"]
    lines += [line([format_cell(cell) for cell in record.values()]) for record in table.records()]
    notes = score_notes(table)
    return "\n".join(lines) + "\n" + ("\n" + "\n".join(f"{note}  " for note in notes) + "\n" if notes else "")


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """`text` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(char, char) for char in text)


def to_latex(table: CompareTable) -> str:
    """A booktabs ``tabular`` (``\\usepackage{booktabs}``); mean +- std as ``$\\pm$``."""
    spec = "".join("r" if c.numeric else "l" for c in table.columns)
    lines = [r"% dvae compare; needs \usepackage{booktabs}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(_latex_label(column.label) for column in table.columns) + r" \\", r"\midrule"]
    for record in table.records():
        cells = [latex_escape(format_cell(cell, pm="PLUSMINUS")).replace("PLUSMINUS", r"$\pm$")
                 for cell in record.values()]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    lines += [f"% {_latex_label(note)}" for note in score_notes(table)]
    return "\n".join(lines) + "\n"


def _latex_label(text: str) -> str:
    return latex_escape(text).replace("†", r"\dag")


def rich_table(table: CompareTable, title: str | None = None) -> Table:
    """A rich `Table`, one row per run: runs that are not finished are coloured and explained below."""
    from rich.table import Table
    from rich.text import Text

    view = Table(title=title, title_justify="left", caption_justify="left")
    for column in table.columns:
        view.add_column(column.header, justify="right" if column.numeric else "left",
                        no_wrap=column.numeric or column.key in ("name", "dataset", "loss"), overflow="fold")
    for row, record in zip(table.rows, table.records(), strict=True):
        cells = [Text(format_cell(cell), style="dim" if cell is None else "") for cell in record.values()]
        unfinished = [s for s in row.runs if s.status not in ("finished", "scored")]
        if unfinished and "name" in record:
            cells[table.keys.index("name")].stylize(STATUS_STYLES.get(unfinished[0].status, ""))
        view.add_row(*cells)
    view.caption = "\n".join(table_notes(table)) or None
    return view


def transposed_tables(table: CompareTable, width: int, title: str | None = None) -> list[Table]:
    """The table turned on its side (one column per run), split into blocks no wider than `width`."""
    from rich.table import Table
    from rich.text import Text

    records = table.records()
    keys = [key for key in table.keys if key != "name"]
    names = [format_cell(row.values.get("name")) for row in table.rows]

    def block(indices: list[int], last: bool) -> Table:
        view = Table(title=title if indices[0] == 0 else None, title_justify="left", caption_justify="left")
        view.add_column("column", style="bold")
        for i in indices:
            status = next((s.status for s in table.rows[i].runs if s.status not in ("finished", "scored")), "")
            view.add_column(Text(names[i], style=STATUS_STYLES.get(status, "")), justify="right", no_wrap=True,
                            overflow="fold")
        labels = {column.key: column.label for column in table.columns}
        for key in keys:
            view.add_row(labels[key], *(Text(format_cell(records[i][key], sep="\n"),
                                     style="dim" if records[i][key] is None else "") for i in indices))
        view.caption = "\n".join(table_notes(table)) if last else None
        return view

    blocks: list[list[int]] = [[]]
    for i in range(len(records)):
        if blocks[-1] and _width(block([*blocks[-1], i], False)) > width:
            blocks.append([])
        blocks[-1].append(i)
    return [block(indices, n == len(blocks) - 1) for n, indices in enumerate(blocks)]


def terminal_tables(table: CompareTable, width: int, title: str | None = None) -> list[Table]:
    """One table per run if it fits in `width` columns, else the table transposed, in blocks."""
    view = rich_table(table, title)
    if _width(view) <= width or len(table.rows) == 0:
        return [view]
    return transposed_tables(table, width, f"{title} (transposed to fit the terminal)" if title else None)


def table_notes(table: CompareTable) -> list[str]:
    """Why runs are not finished, what was changed when they were resumed, whose test losses are
    disentangling-vae's own, and `score_notes` (flagged columns, null scores)."""
    notes = [f"{s.name}: {s.status}" + (f" ({s.reason})" if s.reason else "")
             for row in table.rows for s in row.runs if s.status not in ("finished", "scored")]
    for row in table.rows:
        for s in row.runs:
            for change in (s.spec.changes if s.spec is not None else []):
                order = ("lr", "lr_disc", "clip_grad")
                keys = sorted((k for k, v in change.items() if isinstance(v, list) and len(v) == 2),
                              key=lambda k: (order.index(k) if k in order else len(order), k))
                changed = ", ".join(f"{key} {change[key][0]} -> {change[key][1]}" for key in keys)
                notes.append(f"{s.name}: resumed at step {change.get('step', '?')} with {changed}")
    reference = [s.name for row in table.rows for s in row.runs if has_reference_test_losses(s)]
    if reference and any(key.startswith("test.") for key in table.keys):
        notes.append(f"test.* of {', '.join(reference)}: disentangling-vae's numbers, not over the test set "
                     "(dvae eval NAME recomputes them)")
    return notes + score_notes(table)


def _width(view: Table) -> int:
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=100_000)
    return Measurement.get(console, console.options, view).maximum
