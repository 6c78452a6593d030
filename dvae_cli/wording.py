"""How dvae words counts in messages (standard library only)."""

from __future__ import annotations


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 epoch``, ``2 epochs``, ``1,000 images``: the count with thousands separators and the right form."""
    form = noun if count == 1 else (plural_form or f"{noun}s")
    return f"{count:,} {form}"
