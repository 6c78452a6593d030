"""The comparison table: one row per run (or per group of seeds), named columns.

A cell holds None (missing: the run has no such file or term), a str, an int, a
float, a `Stat` (mean +- std over seeds), a dict (the loss's key parameters) or a
list (the runs or seeds of a group). Rendering is `dvae_cli.compare.formats`.

Column keys are what ``--sort``, ``--columns`` and ``--filter`` take:

- ``name``, ``kind`` (``trained``, or ``scored`` for a folder of ``dvae score``; shown when
  a row is scored), ``dataset``, ``loss``, ``params`` (the loss's key hyper-parameters),
  ``seed``, ``epochs`` (epochs logged), ``active`` (latents with KL > 0.1 nats);
- ``train.<term>``: the last logged epoch of every term of ``train_losses.log``;
- ``test.<term>``: ``test_losses.log``;
- each score of ``metrics.log`` under its own name (``MIG``, ``AAM``, ...);
- not shown unless named: ``origin``, ``status``, ``latent_dim``, ``epochs_planned``,
  ``trackers`` (each tracker's link), ``encoder`` (a scored folder's) and each key
  parameter on its own (``btcvae_B``, ...).

A column may be flagged: `Column.estimated` (a loss term that is a minibatch estimate,
`dvae_cli.compare.estimated`) and `Column.mixed` (a score computed with more than one
protocol, `dvae_cli.compare.protocols`; the mix is in `CompareTable.protocol_mixes`).

Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dvae_cli.catalogue.losses import LOSSES
from dvae_cli.compare.estimated import MARK as ESTIMATED_MARK
from dvae_cli.compare.protocols import ProtocolMix
from dvae_cli.runs.layout import TEST_LOG_BACKUP
from dvae_cli.runs.logs import is_kl_key
from dvae_cli.runs.summary import RunSummary

#: Columns shown by default, in this order, around the train/test/metric columns.
LEADING = ("name", "runs", "n", "kind", "dataset", "loss", "params", "seed", "epochs")
TRAILING = ("active",)
#: Columns shown only when asked for with ``--columns``.
OPTIONAL = ("origin", "status", "latent_dim", "epochs_planned", "trackers", "encoder")
def param_keys() -> tuple[str, ...]:
    """Key parameters of every registered loss, in a stable order."""
    return tuple(key for info in LOSSES.values() for key in info.key_params)


#: The flag of a score column whose values mix protocols.
MIXED_MARK = "†"
#: Terms listed first, in this order; the others follow in order of appearance.
TERM_ORDER = ("loss", "recon_loss", "kl_loss")
TEXT_KEYS = frozenset({"name", "runs", "kind", "dataset", "loss", "params", "origin", "status", "trackers",
                       "encoder"})


@dataclass(frozen=True)
class Stat:
    """A number aggregated over the runs of a group.

    Attributes:
        mean: The mean of the values present.
        std: Their sample standard deviation (None with a single value).
        n: How many runs had a value.
    """

    mean: float
    std: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        """The mean and sample standard deviation of `values` (at least one)."""
        n = len(values)
        mean = math.fsum(values) / n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
        return cls(mean, std, n)


@dataclass
class Row:
    """One row: its cells by column key and the runs it stands for.

    Attributes:
        values: The cells by column key.
        runs: The runs it stands for.
        not_computed: Score column key -> why the score is null (of a group: ``run: reason``, joined by ``; ``).
    """

    values: dict[str, Any]
    runs: list[RunSummary]
    not_computed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Column:
    """A column: its key, whether its cells are numbers (right-aligned) and its flags.

    Attributes:
        key: The column key.
        numeric: Whether every cell is a number.
        estimated: A loss term that is a minibatch estimate (`dvae_cli.compare.estimated`).
        mixed: A score whose values were computed with more than one protocol.
    """

    key: str
    numeric: bool
    estimated: bool = False
    mixed: bool = False

    @property
    def label(self) -> str:
        """The key with its flags: ``~train.tc_loss`` (estimated), ``MIG †`` (mixed protocols)."""
        return self._marked(self.key)

    @property
    def header(self) -> str:
        """``train.recon_loss`` -> ``train\\nrecon`` (two short lines in the terminal), flagged as `label`."""
        group, dot, term = self.key.partition(".")
        if not (dot and group in ("train", "test")):
            return self.label
        return f"{group}\n" + self._marked(term[:-5] if term.endswith('_loss') and term != 'loss' else term)

    def _marked(self, text: str) -> str:
        return (ESTIMATED_MARK if self.estimated else "") + text + (f" {MIXED_MARK}" if self.mixed else "")


@dataclass
class CompareTable:
    """The columns and rows of a comparison.

    Attributes:
        columns: The columns shown, in order.
        rows: The rows, in order.
        grouped: Whether rows are groups of runs differing only by seed.
        available: Every column key the rows have (what ``--columns`` accepts).
        protocol_mixes: Each score column shown whose values mix protocols, and how.
    """

    columns: list[Column]
    rows: list[Row]
    grouped: bool = False
    available: list[str] = field(default_factory=list)
    protocol_mixes: dict[str, ProtocolMix] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [column.key for column in self.columns]

    def records(self) -> list[dict[str, Any]]:
        """The rows as ``{key: cell}`` dicts restricted to the columns shown, in order."""
        return [{key: row.values.get(key) for key in self.keys} for row in self.rows]


def is_term_kl_per_latent(term: str) -> bool:
    """``kl_loss_<j>`` terms (summarised by the ``active`` column instead; `dvae_cli.runs.logs.is_kl_key`)."""
    return is_kl_key(term)


def has_reference_test_losses(summary: RunSummary) -> bool:
    """Whether the run's ``test_losses.log`` is disentangling-vae's own (computed on its first
    training batch, not the test set); ``dvae eval`` replaces it and keeps it as ``.bak``."""
    return (summary.origin == "disentangling-vae" and summary.test_losses is not None
            and not (summary.path / TEST_LOG_BACKUP).exists())


def run_row(summary: RunSummary) -> Row:
    """The cells of one run; a run with an unreadable spec keeps only its name and status."""
    spec = summary.spec
    values: dict[str, Any] = {"name": summary.name, "kind": summary.kind,
                              "origin": summary.origin if spec or summary.scored else None, "status": summary.status}
    if summary.scored:
        values.update(dataset=summary.dataset, latent_dim=summary.scored.get("latent_dim"),
                      encoder=f"{summary.scored.get('format')}: {summary.scored.get('encoder')}")
    if spec is not None:
        values.update(dataset=spec.dataset, loss=spec.loss, params=spec.key_params(), seed=spec.seed,
                      epochs=summary.epochs_done, epochs_planned=summary.epochs_planned,
                      latent_dim=spec.latent_dim)
        values.update(spec.key_params())
    for prefix, terms in (("train.", summary.last_train), ("test.", summary.test_losses or {})):
        for term in ordered_terms(terms):
            values[prefix + term] = terms[term]
    not_computed = {}
    for metric in [*(summary.metrics or {}), *summary.not_computed]:
        key = score_column(metric, values)
        values[key] = (summary.metrics or {}).get(metric)
        if metric in summary.not_computed:
            not_computed[key] = summary.not_computed[metric]
    values["active"] = summary.active_latents
    values["trackers"] = "; ".join(f"{name}: {link}" for name, link in summary.trackers.items()) or None
    return Row(values, [summary], not_computed)


#: Cells of a run that are not its scores (a score of the same name gets the column ``metric.<name>``).
_OWN_CELLS = frozenset({"name", "kind", "origin", "status", "dataset", "loss", "params", "seed", "epochs",
                        "epochs_planned", "latent_dim", "encoder", "active", "trackers", "runs", "n"})


def score_column(metric: str, values: dict[str, Any] | None = None) -> str:
    """The column key of score `metric`: its name, or ``metric.<name>`` if a run's own cell has that name."""
    taken = _OWN_CELLS | set(param_keys()) | set(values or ())
    return "metric." + metric if metric in taken or metric.startswith(("train.", "test.")) else metric


def score_name(key: str) -> str:
    """The score a column key `score_column` gave stands for."""
    return key.removeprefix("metric.")


def ordered_terms(terms: dict[str, float] | list[str]) -> list[str]:
    """Loss terms, total first, then reconstruction, KL and the rest; no ``kl_loss_<j>``."""
    names = [t for t in terms if not is_term_kl_per_latent(t)]
    return [t for t in TERM_ORDER if t in names] + [t for t in names if t not in TERM_ORDER]


def all_keys(rows: list[Row]) -> list[str]:
    """Every column key present in `rows`, in display order, then the optional ones."""
    present: dict[str, None] = {}
    for row in rows:
        present.update(dict.fromkeys(k for k, v in row.values.items() if v is not None or k in row.not_computed))
    leading = [k for k in LEADING if k in present]
    train = [k for k in present if k.startswith("train.")]
    test = [k for k in present if k.startswith("test.")]
    fixed = set(LEADING) | set(TRAILING) | set(OPTIONAL) | set(param_keys())
    metrics = [k for k in present if k not in fixed and not k.startswith(("train.", "test."))]
    trailing = [k for k in TRAILING if k in present]
    optional = [k for k in (*OPTIONAL, *param_keys()) if k in present]
    return [*leading, *_order_group(train), *_order_group(test), *metrics, *trailing, *optional]


def default_keys(rows: list[Row]) -> list[str]:
    """The columns shown when ``--columns`` is not given."""
    hidden = set(OPTIONAL) | set(param_keys())
    if not any(row.values.get("kind") == "scored" for row in rows):
        hidden.add("kind")   # only trained runs: nothing to tell apart
    return [k for k in all_keys(rows) if k not in hidden]


def make_columns(rows: list[Row], keys: list[str]) -> list[Column]:
    """Columns for `keys`; a column is numeric if every cell it has is a number."""
    columns = []
    for key in keys:
        cells = [row.values.get(key) for row in rows]
        numeric = key not in TEXT_KEYS and all(
            v is None or (isinstance(v, (int, float, Stat)) and not isinstance(v, bool)) for v in cells)
        columns.append(Column(key, numeric))
    return columns


def _order_group(keys: list[str]) -> list[str]:
    prefix = keys[0].split(".", 1)[0] + "." if keys else ""
    return [prefix + term for term in ordered_terms([k[len(prefix):] for k in keys])]
