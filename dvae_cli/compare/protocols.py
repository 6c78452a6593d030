"""When two values of a score were computed alike: the one rule `dvae compare` flags mixed columns by.

Every score of ``metrics.log`` has a protocol (its ``protocols`` entry, written by
`dvae_cli.metrics`: images scored, image selection, sample sizes, estimator, factors...),
and the file names the dataset scored (its ``dataset``). Two values of one score are
comparable when their `comparable_protocol` are equal: every entry and the dataset agree,
except

- the seed (``seed``, and the ``(seed N)`` inside ``image_selection``): it draws the
  points scored and starts the classifiers, so a value computed with another seed is
  another draw of the same estimator, with the same expected value. Its difference is
  noise, measured by the spread over seeds (``--group-seeds``, a study's seeds), not a
  bias; flagging it would flag every study, whose cells each score with their own seed;
- `OUTCOME_KEYS`: what the evaluation found about the model (``active_dims``) or why a
  score is null (``not_computed``), not how it was computed;
- `DERIVED_KEYS`: statements computed from the other entries (the mutual-information
  noise floor of the images and samples scored), which differ only where those do.

Everything else counts, including entries this module does not know: an entry a new
protocol adds makes scores that differ in it incomparable until it is listed here as
an outcome. A value without a protocol (disentangling-vae's ``metrics.log``) is
comparable only with others without one.

``dvae study report`` notes scores computed with other protocols
(`dvae_cli.study.report.report_notes`); `protocol_key` is this rule as the one string
per protocol that it compares. Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["DATASET", "DERIVED_KEYS", "NOISE_KEYS", "NOT_RECORDED", "OUTCOME_KEYS", "ProtocolGroup", "ProtocolMix",
           "comparable_protocol", "describe_values", "protocol_key", "protocol_mix"]

#: Entries that only change the draw of the noise (see the module docstring).
NOISE_KEYS = frozenset({"seed"})
#: Entries that record an outcome of the evaluation, not a choice of it.
OUTCOME_KEYS = frozenset({"not_computed", "active_dims", "active_latents", "train_accuracy"})
#: Entries computed from the others (see the module docstring).
DERIVED_KEYS = frozenset({"noise_floor", "noise_floor_nats"})
#: The pseudo-entry of the dataset scored (``metrics.log``'s ``dataset``).
DATASET = "dataset"
#: The value shown for an entry a protocol does not have, or for a score without a protocol.
NOT_RECORDED = "-"
#: The protocol of a score that has none (``metrics.log`` without ``protocols``).
_NO_PROTOCOL = "protocol"
_SEED = re.compile(r"\s*\(seed -?\d+\)")


def comparable_protocol(protocol: Mapping[str, Any] | None, dataset: str | None = None) -> dict[str, Any]:
    """The entries of a score's protocol that decide whether its values are comparable.

    Args:
        protocol: The score's ``protocols`` entry of ``metrics.log`` (None: not recorded).
        dataset: The dataset scored (``metrics.log``'s ``dataset``; None: not recorded).

    Returns:
        Entry -> value (JSON values as written; seeds removed from texts), with
        ``dataset`` when known; ``{"protocol": "-"}`` for a score without a protocol.
    """
    if not isinstance(protocol, Mapping):
        kept: dict[str, Any] = {_NO_PROTOCOL: NOT_RECORDED}
    else:
        kept = {str(k): _without_seed(v) for k, v in protocol.items()
                if k not in NOISE_KEYS and k not in OUTCOME_KEYS and k not in DERIVED_KEYS}
    if dataset is not None:
        kept[DATASET] = dataset
    return kept


def protocol_key(protocol: Mapping[str, Any] | None, dataset: str | None = None) -> str:
    """`comparable_protocol` as one string: equal strings, comparable values."""
    return json.dumps(comparable_protocol(protocol, dataset), sort_keys=True, default=str)


@dataclass(frozen=True)
class ProtocolGroup:
    """The runs whose values of a score share one protocol.

    Attributes:
        values: Each differing entry's value in this protocol (`NOT_RECORDED` where it has none).
        runs: The runs, in the order given.
    """

    values: dict[str, Any]
    runs: tuple[str, ...]


@dataclass(frozen=True)
class ProtocolMix:
    """A score whose values were computed with more than one protocol.

    Attributes:
        score: The score (a column key of ``dvae compare``).
        keys: The entries in which the protocols differ, sorted.
        groups: One per protocol, the most runs first (then in the order of first appearance).
    """

    score: str
    keys: tuple[str, ...]
    groups: tuple[ProtocolGroup, ...]

    def group_of(self, run: str) -> ProtocolGroup | None:
        """The group that holds `run` (None if it has no value of the score)."""
        return next((group for group in self.groups if run in group.runs), None)

    def describe(self, most: int = 4) -> str:
        """``2 protocols differing in images: images=500: a, b; images=300: c`` (at most `most` runs each)."""
        parts = []
        for group in self.groups:
            names = ", ".join(group.runs[:most]) + (f" (+{len(group.runs) - most})" if len(group.runs) > most else "")
            parts.append(f"{describe_values(group.values)}: {names}")
        return f"{len(self.groups)} protocols differing in {', '.join(self.keys)}: " + "; ".join(parts)


def protocol_mix(score: str, protocols: Mapping[str, dict[str, Any]]) -> ProtocolMix | None:
    """Whether the runs' values of `score` mix protocols, and how.

    Args:
        score: The score's name (kept in the result).
        protocols: Run name -> `comparable_protocol` of its value of `score` (runs without a value left out).

    Returns:
        The mix, or None when every run has the same protocol (or fewer than two runs are given).
    """
    by_key: dict[str, list[str]] = {}
    shown: dict[str, dict[str, Any]] = {}
    for run, protocol in protocols.items():
        key = json.dumps(protocol, sort_keys=True, default=str)
        by_key.setdefault(key, []).append(run)
        shown.setdefault(key, protocol)
    if len(by_key) < 2:
        return None
    every = sorted({entry for protocol in shown.values() for entry in protocol})
    keys = tuple(entry for entry in every
                 if len({json.dumps(p.get(entry, NOT_RECORDED), sort_keys=True, default=str)
                         for p in shown.values()}) > 1)
    groups = [ProtocolGroup({entry: shown[key].get(entry, NOT_RECORDED) for entry in keys}, tuple(runs))
              for key, runs in by_key.items()]
    groups.sort(key=lambda group: -len(group.runs))   # stable: first appearance among equals
    return ProtocolMix(score, keys, tuple(groups))


def describe_values(values: Mapping[str, Any], sep: str = ", ") -> str:
    """``images=500, num_train=1000`` (texts as they are, lists joined by ``/``)."""
    return sep.join(f"{key}={_text(value)}" for key, value in values.items())


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "/".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _without_seed(value: Any) -> Any:
    return _SEED.sub("", value) if isinstance(value, str) else value
