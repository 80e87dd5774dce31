"""Reading a TOML table into a frozen dataclass, with every problem named by its key.

Unknown keys, missing keys, wrong types and values outside a ``Literal`` are collected into
``problems`` (nothing is raised), so a configuration is reported in one pass.
"""

from __future__ import annotations

import typing
from dataclasses import MISSING, fields
from typing import Any, Literal


def read_dataclass(cls: type, raw: Any, prefix: str, problems: list[str],
           skip: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(raw, dict):
        problems.append(f"{prefix.rstrip('.') or 'top level'}: expected a table")
        return {}
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name not in (skip or set())}
    for key in raw:
        if key not in known:
            problems.append(f"unknown key '{prefix}{key}'")
    values: dict[str, Any] = {}
    for name, f in known.items():
        key = prefix + name
        if name not in raw:
            if f.default is MISSING and f.default_factory is MISSING:
                problems.append(f"missing key '{key}'")
            continue
        hint = hints[name]
        if _is_dataclass(hint):
            values[name] = _read_table(hint, raw[name], key, problems)
        elif typing.get_origin(hint) is dict and _is_dataclass(typing.get_args(hint)[1]):
            values[name] = _read_tables(typing.get_args(hint)[1], raw[name], key, problems)
        elif _type_ok(raw[name], hint, key, problems):
            values[name] = raw[name]
    return values


def _is_dataclass(hint: Any) -> bool:
    return isinstance(hint, type) and hasattr(hint, "__dataclass_fields__")


def _read_table(cls: type, raw: Any, key: str, problems: list[str]) -> Any:
    sub = read_dataclass(cls, raw, key + ".", problems)
    try:
        return cls(**sub)
    except TypeError:  # a missing key was already reported
        return None


def _read_tables(cls: type, raw: Any, key: str, problems: list[str]) -> dict[str, Any]:
    """A table of named tables (``[idps.partner]``), each read as ``cls``."""
    if not isinstance(raw, dict):
        problems.append(f"'{key}': expected a table of tables ([{key}.<name>])")
        return {}
    return {name: _read_table(cls, table, f"{key}.{name}", problems)
            for name, table in raw.items()}


def _type_ok(value: Any, hint: Any, key: str, problems: list[str]) -> bool:
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            allowed = ", ".join(repr(a) for a in typing.get_args(hint))
            problems.append(f"'{key}': {value!r} is not one of {allowed}")
            return False
        return True
    if origin is list:
        (item,) = typing.get_args(hint)
        ok = isinstance(value, list) and all(isinstance(v, item) for v in value)
        expected = f"a list of {_type_name(item)}"
    elif origin is dict:
        item = typing.get_args(hint)[1]
        if typing.get_origin(item) is list:  # dict[str, list[str]]
            ok = isinstance(value, dict) and all(
                isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values())
            expected = "a table of lists of strings"
        else:
            ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
            expected = "a table of strings"
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        expected = "a number"
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        expected = "an integer"
    else:
        ok = isinstance(value, hint)
        expected = _type_name(hint)
    if not ok:
        problems.append(f"'{key}': expected {expected}, got {type(value).__name__} {value!r}")
    return ok


def _type_name(t: Any) -> str:
    return {str: "a string", bool: "true or false", int: "an integer"}.get(t, str(t))
