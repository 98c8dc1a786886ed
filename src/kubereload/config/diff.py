"""Which top-level keys differ between two config values, for callbacks that act per key."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


def _fields(value: Any) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    model_fields = getattr(type(value), "model_fields", None)  # pydantic v2
    if isinstance(model_fields, Mapping):
        return {name: getattr(value, name) for name in model_fields}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return None


def changed_keys(old: Any, new: Any) -> frozenset[str]:
    """The top-level keys (or model fields) added, removed or changed from ``old`` to ``new``.

    Works on mappings (a directory's ``{file name: parsed}``, a parsed YAML/JSON document),
    pydantic models and dataclasses. ``None`` counts as empty, so the first load reports every key.
    """
    before = {} if old is None else _fields(old)
    after = {} if new is None else _fields(new)
    if before is None or after is None:
        raise TypeError(
            "changed_keys() compares mappings, pydantic models or dataclasses; "
            f"got {type(old).__name__} and {type(new).__name__}"
        )
    keys = set(before) | set(after)
    missing = object()
    return frozenset(str(k) for k in keys if before.get(k, missing) != after.get(k, missing))
