"""The one reader of ``metrics_detail.json`` and its mutual-information matrices (standard library only).

``dvae eval --metrics`` writes the file (`dvae_cli.engine.disentanglement.MetricsWriter`):
one entry per metric (``mig``, ``mig_discrete``, ``factorvae``, ``dci``, ...) plus
``latent_names`` and ``dataset``. The factors x latents mutual information of the
``mig`` entry (Chen et al.'s estimator), else of ``mig_discrete`` (disentanglement_lib's),
is what ``dvae plot NAME mutual-info`` draws and ``dvae browse`` shows; both read it
here, so they agree on which matrix a run has and on what counts as well-formed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dvae_cli.errors import CorruptFileError, DvaeError
from dvae_cli.runs.jsonfile import as_float, read_json

#: The entries that hold a mutual-information matrix, in the order they are preferred.
MATRIX_SOURCES = ("mig", "mig_discrete")


@dataclass(frozen=True)
class MutualInfo:
    """A factors x latents mutual-information matrix of ``metrics_detail.json``.

    Attributes:
        source: The entry it comes from (``mig`` or ``mig_discrete``).
        factors: K factor names (``v0``, ``v1``, ... when the file names none that fit).
        latents: D latent names (``z0``, ``z1``, ... likewise).
        values: K x D mutual informations (nats); may hold small negative estimates.
        gap: MIG of each factor (None where not recorded).
    """

    source: str
    factors: list[str]
    latents: list[str]
    values: list[list[float]]
    gap: list[float | None]


def read_metrics_detail(path: Path) -> dict[str, Any] | None:
    """The ``metrics_detail.json`` content, or None if missing or unreadable."""
    try:
        data = read_json(path)
    except (OSError, DvaeError):
        return None
    return data if isinstance(data, dict) else None


def mutual_info(detail: Mapping[str, Any] | None) -> MutualInfo | None:
    """The first well-formed matrix of `MATRIX_SOURCES` in a ``metrics_detail.json`` content, or None.

    Never raises: a malformed entry is passed over.
    """
    if not detail:
        return None
    for source in MATRIX_SOURCES:
        entry = detail.get(source)
        if isinstance(entry, dict):
            found = _matrix(source, entry, detail.get("latent_names"))
            if found is not None:
                return found
    return None


def read_mutual_info(path: Path) -> MutualInfo | None:
    """The mutual-information matrix of the ``metrics_detail.json`` at `path`, or None if it has none.

    Raises:
        CorruptFileError: if the file has a `MATRIX_SOURCES` entry whose matrix is not a
            non-empty factors x latents table of numbers.
    """
    detail = read_metrics_detail(path)
    found = mutual_info(detail)
    if found is None and detail is not None:
        for source in MATRIX_SOURCES:
            if isinstance(detail.get(source), dict):
                raise CorruptFileError(f"{path}: the '{source}' mutual-information matrix is not a non-empty "
                                       "factors x latents table of numbers")
    return found


def _matrix(source: str, entry: Mapping[str, Any], latent_names: Any) -> MutualInfo | None:
    matrix = entry.get("mutual_information")
    if not isinstance(matrix, list) or not matrix or not all(isinstance(row, list) for row in matrix):
        return None
    try:
        values = [[float(v) for v in row] for row in matrix]
    except (TypeError, ValueError, OverflowError):   # a cell that is not a number
        return None
    width = len(values[0])
    if width == 0 or any(len(row) != width for row in values):
        return None
    factors = [str(f) for f in _names(entry.get("factors"), len(values), "v")]
    latents = [str(z) for z in _names(latent_names, width, "z")]
    per_factor = entry.get("mig_per_factor")
    gap: list[float | None] = [None] * len(factors)
    if isinstance(per_factor, dict):
        gap = [as_float(per_factor.get(f)) for f in factors]
    return MutualInfo(source, factors, latents, values, gap)


def _names(given: Any, count: int, prefix: str) -> list[Any]:
    """`given` if it is a list of `count` names, else ``<prefix>0``, ``<prefix>1``, ..."""
    return given if isinstance(given, list) and len(given) == count else [f"{prefix}{k}" for k in range(count)]
