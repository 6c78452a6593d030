"""TOML on every Python dvae supports: the standard library's `tomllib` from 3.11, `tomli` (its source) on 3.10.

Modules read TOML through this one, never `tomllib` directly, so ``dvae`` starts on
Python 3.10 (mypy, checked at ``python_version = "3.10"``, flags a direct import).
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from tomllib import TOMLDecodeError, loads
else:  # pragma: no cover - exercised on Python 3.10 only
    from tomli import TOMLDecodeError, loads

__all__ = ["TOMLDecodeError", "loads"]
