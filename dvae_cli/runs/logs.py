"""The loss logs of a run folder, in disentangling-vae's formats.

``train_losses.log`` is CSV in long format, one row per term per epoch::

    Epoch,Loss,Value
    0,recon_loss,114.49
    0,kl_loss,23.28

``test_losses.log`` is a JSON object mapping each term to its mean over the test set.

Both name each latent's KL to the prior ``kl_loss_<d>`` (``kl_loss_0``, ``kl_loss_1``, ...,
disentangling-vae's keys, beside the total ``kl_loss``): `kl_key`, `parse_kl_key`,
`is_kl_key` and `kl_per_latent` are that grammar's only home.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from dvae_cli.errors import CorruptFileError
from dvae_cli.runs.atomic import write_json, write_text
from dvae_cli.runs.jsonfile import as_float, read_json

TRAIN_LOG_HEADER = ("Epoch", "Loss", "Value")
#: The total KL to the prior, summed over the latents.
KL_TOTAL = "kl_loss"
#: What precedes the latent's index in a per-latent KL key (``kl_loss_<d>``).
KL_PREFIX = KL_TOTAL + "_"
_KL_KEY = re.compile(re.escape(KL_PREFIX) + r"([0-9]+)")

#: term -> [(epoch, value), ...] in epoch order
LossHistory = dict[str, list[tuple[int, float]]]


def format_train_log(history: LossHistory) -> str:
    """Render a loss history as the CSV text of ``train_losses.log`` (epoch-major)."""
    rows: dict[int, list[tuple[str, float]]] = {}
    for term, points in history.items():
        for epoch, value in points:
            rows.setdefault(epoch, []).append((term, value))
    out = io.StringIO()
    out.write(",".join(TRAIN_LOG_HEADER) + "\n")
    for epoch in sorted(rows):
        for term, value in rows[epoch]:
            out.write(f"{epoch},{term},{value!r}\n")
    return out.getvalue()


def write_train_log(path: Path, history: LossHistory) -> None:
    """Write the whole history to `path` atomically."""
    write_text(path, format_train_log(history))


def read_train_log(path: Path) -> LossHistory:
    """Read a ``train_losses.log``.

    A last line cut short by a writer that is still running is ignored.

    Raises:
        CorruptFileError: if the file cannot be read or is not in the format above.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise CorruptFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    lines = text.splitlines()
    if not lines or tuple(part.strip() for part in lines[0].split(",")) != TRAIN_LOG_HEADER:
        raise CorruptFileError(f"{path}: expected the header 'Epoch,Loss,Value'")
    history: LossHistory = {}
    complete = text.endswith("\n")
    rows = csv.reader(lines[1:])
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CorruptFileError(f"{path}: line {rows.line_num + 1} is not CSV ({exc})") from None
        number = rows.line_num + 1
        if not row:
            continue
        try:
            epoch, term, value = int(row[0]), row[1], float(row[2])
            if len(row) != 3 or not term:
                raise ValueError
        except (ValueError, IndexError):
            if number == len(lines) and not complete:
                break  # a row being written right now
            shown = ",".join(row)
            shown = shown if len(shown) <= 80 else shown[:80] + "..."
            raise CorruptFileError(f"{path}: line {number} is not 'epoch,term,value': {shown!r}") from None
        history.setdefault(term, []).append((epoch, value))
    return history


def write_test_log(path: Path, losses: Mapping[str, float]) -> None:
    """Write the test losses as strict JSON, atomically (a non-finite value is written as null)."""
    write_json(path, {key: float(value) if math.isfinite(float(value)) else None for key, value in losses.items()})


def read_test_log(path: Path) -> dict[str, float]:
    """Read a ``test_losses.log``.

    Raises:
        CorruptFileError: if it is not a JSON object of numbers.
    """
    try:
        data = read_json(path)
    except FileNotFoundError:
        raise CorruptFileError(f"{path} is missing") from None
    if not isinstance(data, dict):
        raise CorruptFileError(f"{path}: expected a JSON object mapping loss names to numbers")
    present = {str(k): v for k, v in data.items() if v is not None}   # null: a value that was not finite
    losses = {k: as_float(v) for k, v in present.items()}
    if any(v is None for v in losses.values()):
        raise CorruptFileError(f"{path}: expected a JSON object mapping loss names to numbers")
    return {k: v for k, v in losses.items() if v is not None}


def last_epoch_values(history: LossHistory) -> dict[str, float]:
    """The value of every term at its last logged epoch."""
    return {term: points[-1][1] for term, points in history.items() if points}


def is_finite_history(history: LossHistory) -> bool:
    """Whether every logged value is finite."""
    return all(math.isfinite(v) for points in history.values() for _, v in points)


def kl_key(d: int) -> str:
    """``kl_loss_<d>``: the key of latent `d`'s KL to the prior (latents count from 0)."""
    return f"{KL_PREFIX}{d}"


def parse_kl_key(name: str) -> int | None:
    """The latent index of a per-latent KL key (``kl_loss_3`` -> 3), or None if `name` is not one."""
    match = _KL_KEY.fullmatch(name)
    return int(match.group(1)) if match else None


def is_kl_key(name: str) -> bool:
    """Whether `name` is a per-latent KL key ``kl_loss_<d>`` (not the total ``kl_loss``)."""
    return parse_kl_key(name) is not None


def kl_keys(names: Iterable[str]) -> list[str]:
    """The per-latent KL keys among `names`, by latent index."""
    found = [(index, name) for name in names if (index := parse_kl_key(name)) is not None]
    return [name for _, name in sorted(found)]


def kl_per_latent(values: Mapping[str, float]) -> list[float]:
    """The ``kl_loss_<d>`` entries of `values`, by latent index (a gap in the indices is closed up)."""
    return [values[name] for name in kl_keys(values)]
