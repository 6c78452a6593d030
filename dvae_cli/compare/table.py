"""The comparison table: one row per run (or per group of seeds), named columns.

A cell holds None (missing: the run has no such file or term), a str, an int, a
float, a `Stat` (mean +- std over seeds), a dict (the loss's key parameters) or a
list (the runs or seeds of a group). Rendering is `dvae_cli.compare.formats`.

Column keys are what ``--sort``, ``--columns`` and ``--filter`` take:

- ``name``, ``dataset``, ``loss``, ``params`` (the loss's key hyper-parameters),
  ``seed``, ``epochs`` (epochs logged), ``active`` (latents with KL > 0.1 nats);
- ``train.<term>``: the last logged epoch of every term of ``train_losses.log``;
- ``test.<term>``: ``test_losses.log``;
- each score of ``metrics.log`` under its own name (``MIG``, ``AAM``, ...);
- not shown unless named: ``origin``, ``status``, ``latent_dim``, ``epochs_planned``,
  ``trackers`` (each tracker's link) and each key parameter on its own (``btcvae_B``, ...).

Standard library only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dvae_cli.catalogue.losses import LOSSES
from dvae_cli.runs.layout import TEST_LOG_BACKUP
from dvae_cli.runs.logs import is_kl_key
from dvae_cli.runs.summary import RunSummary

#: Columns shown by default, in this order, around the train/test/metric columns.
LEADING = ("name", "runs", "n", "dataset", "loss", "params", "seed", "epochs")
TRAILING = ("active",)
#: Columns shown only when asked for with ``--columns``.
OPTIONAL = ("origin", "status", "latent_dim", "epochs_planned", "trackers")
def param_keys() -> tuple[str, ...]:
    """Key parameters of every registered loss, in a stable order."""
    return tuple(key for info in LOSSES.values() for key in info.key_params)


#: Terms listed first, in this order; the others follow in order of appearance.
TERM_ORDER = ("loss", "recon_loss", "kl_loss")
TEXT_KEYS = frozenset({"name", "runs", "dataset", "loss", "params", "origin", "status", "trackers"})


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
    """One row: its cells by column key and the runs it stands for."""

    values: dict[str, Any]
    runs: list[RunSummary]


@dataclass(frozen=True)
class Column:
    """A column: its key and whether its cells are numbers (right-aligned)."""

    key: str
    numeric: bool

    @property
    def header(self) -> str:
        """``train.recon_loss`` -> ``train\\nrecon`` (two short lines in the terminal)."""
        group, dot, term = self.key.partition(".")
        if not (dot and group in ("train", "test")):
            return self.key
        return f"{group}\n{term[:-5] if term.endswith('_loss') and term != 'loss' else term}"


@dataclass
class CompareTable:
    """The columns and rows of a comparison.

    Attributes:
        columns: The columns shown, in order.
        rows: The rows, in order.
        grouped: Whether rows are groups of runs differing only by seed.
        available: Every column key the rows have (what ``--columns`` accepts).
    """

    columns: list[Column]
    rows: list[Row]
    grouped: bool = False
    available: list[str] = field(default_factory=list)

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
    values: dict[str, Any] = {"name": summary.name, "origin": summary.origin if spec else None,
                              "status": summary.status}
    if spec is not None:
        values.update(dataset=spec.dataset, loss=spec.loss, params=spec.key_params(), seed=spec.seed,
                      epochs=summary.epochs_done, epochs_planned=summary.epochs_planned,
                      latent_dim=spec.latent_dim)
        values.update(spec.key_params())
    for prefix, terms in (("train.", summary.last_train), ("test.", summary.test_losses or {})):
        for term in ordered_terms(terms):
            values[prefix + term] = terms[term]
    for metric, score in (summary.metrics or {}).items():
        values[metric if metric not in values else "metric." + metric] = score
    values["active"] = summary.active_latents
    values["trackers"] = "; ".join(f"{name}: {link}" for name, link in summary.trackers.items()) or None
    return Row(values, [summary])


def ordered_terms(terms: dict[str, float] | list[str]) -> list[str]:
    """Loss terms, total first, then reconstruction, KL and the rest; no ``kl_loss_<j>``."""
    names = [t for t in terms if not is_term_kl_per_latent(t)]
    return [t for t in TERM_ORDER if t in names] + [t for t in names if t not in TERM_ORDER]


def all_keys(rows: list[Row]) -> list[str]:
    """Every column key present in `rows`, in display order, then the optional ones."""
    present: dict[str, None] = {}
    for row in rows:
        present.update(dict.fromkeys(k for k, v in row.values.items() if v is not None))
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
