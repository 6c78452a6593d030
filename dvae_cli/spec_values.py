"""Values read from TOML and JSON, converted to a spec parameter's type strictly (standard library only)."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from dvae_cli.errors import ConfigError


def field_type(f: dataclasses.Field[Any]) -> type:
    """A field's value type (int, float, str, bool; ``object`` for the structured ones)."""
    annotation = str(f.type)
    for name, typ in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if annotation.startswith(name):
            return typ
    return object


def coerce(key: str, value: Any, typ: type) -> Any:
    """Convert a value read from TOML/JSON to the parameter's type, strictly.

    Raises:
        ConfigError: naming the key, the type and the value.
    """
    if value is None or typ is object:
        return value
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif typ is float:
        if isinstance(value, float):
            return value
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= sys.float_info.max:
            return float(value)
    elif typ is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"'{key}' must be {typ.__name__}, got {value!r}")
