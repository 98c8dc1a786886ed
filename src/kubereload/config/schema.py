"""JSON Schema validation of a parsed config, reported in kubereload's own words and positions.

The validator (jsonschema-rs) says *which* keyword of the schema failed (the schema path) and
*where* in the document (the instance path); its message text quotes the offending value, so it
is never used. Each problem becomes a :class:`ConfigError` built from the schema keyword, the
schema's own value at that keyword (a type name, a bound, a pattern) and the instance path,
with the line and column found by :func:`locate`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from typing import Any

from kubereload.config.errors import ConfigError
from kubereload.config.locate import locate

MAX_PROBLEMS = 20
"""More problems than this in one document are summed up as a count: a message stays short."""


class SchemaError(ValueError):
    """The schema itself is not a valid JSON Schema (a problem of the rules, not of the config)."""


def _compile(schema: Any, source: str) -> Any:
    try:
        import jsonschema_rs  # noqa: PLC0415 - only rules that name a schema pay for it
    except ImportError:
        raise SchemaError(
            "JSON Schema needs the jsonschema-rs package: pip install 'kubereload[admission]'"
        ) from None
    try:
        return jsonschema_rs.validator_for(schema)
    except Exception as exc:  # ValidationError, ReferencingError, ValueError: all ours to word
        where = "/".join(str(p) for p in getattr(exc, "instance_path", ()) or ())
        raise SchemaError(f"{source}: not a valid JSON Schema (at #/{where})") from None


class JsonSchema:
    """A compiled JSON Schema: build once per rule, then :meth:`problems` for each document."""

    def __init__(self, schema: Any, *, source: str) -> None:
        if not isinstance(schema, Mapping | bool):
            raise SchemaError(f"{source}: a JSON Schema is an object (or true/false)")
        self.source = source
        self.schema = schema
        self._validator = _compile(schema, source)

    def problems(self, value: Any, raw: bytes, *, file: str) -> list[ConfigError]:
        """Every way ``value`` (parsed from ``raw``) breaks the schema, in document order."""
        try:
            errors = list(self._validator.iter_errors(value))
        except ValueError:  # a YAML date, time or binary value: judged as JSON sees it
            value = _as_json(value)
            errors = list(self._validator.iter_errors(value))
        found = [_to_config_error(e, self.schema, value, raw, file) for e in errors[:MAX_PROBLEMS]]
        found.sort(key=lambda e: (e.line or 0, e.column or 0))
        if len(errors) > MAX_PROBLEMS:
            more = len(errors) - MAX_PROBLEMS
            found.append(ConfigError(f"and {more} more problem(s)", kind="validation", file=file))
        return found


def _as_json(value: Any) -> Any:
    """YAML's extra scalars as JSON would carry them: dates and times as ISO text, bytes as text."""
    if isinstance(value, Mapping):
        return {str(k): _as_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_as_json(v) for v in value]
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _walk(root: Any, path: Sequence[str | int]) -> Any:
    """The node at ``path``; a ``$ref`` step into the same document (pydantic's ``$defs``) is
    followed. None where the path cannot be followed."""
    node = root
    for step in path:
        ref = node.get("$ref") if isinstance(node, Mapping) else None
        if step == "$ref" and isinstance(ref, str) and ref.startswith("#"):
            node = _walk(root, [_unescape(p) for p in ref[1:].split("/") if p])
            continue
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _to_config_error(error: Any, schema: Any, value: Any, raw: bytes, file: str) -> ConfigError:
    path = list(error.instance_path)
    schema_path = list(error.schema_path)
    keyword = str(schema_path[-1]) if schema_path else "false"
    rule = _walk(schema, schema_path)
    instance = _walk(value, path)
    message = _describe(keyword, rule, instance)
    point_at: list[str | int] = []
    if keyword == "additionalProperties":
        point_at = _extra_keys(_walk(schema, schema_path[:-1]), instance)[:1]
    where = locate(raw, [*path, *point_at]) if raw else None
    return ConfigError(
        f"{message} (schema #/{'/'.join(str(p) for p in schema_path)})",
        kind="validation",
        path=path,
        file=file,
        line=where[0] if where else None,
        column=where[1] if where else None,
    )


def _describe(keyword: str, rule: Any, instance: Any) -> str:
    """Our words for a failed ``keyword`` whose schema value is ``rule``; the instance is only
    inspected for its keys, never quoted."""
    if keyword == "type" and rule is not None:
        kinds = rule if isinstance(rule, list) else [rule]
        return f"must be of type {' or '.join(str(k) for k in kinds)}"
    if keyword == "required" and isinstance(instance, Mapping):
        missing = [str(p) for p in rule if p not in instance]
        return f"missing required propert{'y' if len(missing) == 1 else 'ies'} " + ", ".join(
            repr(m) for m in missing
        )
    if keyword in ("additionalProperties", "unevaluatedProperties", "propertyNames"):
        return "has a property the schema does not allow"
    bounds = {
        "minimum": "must be >= {}",
        "maximum": "must be <= {}",
        "exclusiveMinimum": "must be > {}",
        "exclusiveMaximum": "must be < {}",
        "multipleOf": "must be a multiple of {}",
        "minLength": "must be at least {} characters long",
        "maxLength": "must be at most {} characters long",
        "minItems": "must have at least {} items",
        "maxItems": "must have at most {} items",
        "minProperties": "must have at least {} properties",
        "maxProperties": "must have at most {} properties",
        "pattern": "must match the pattern {!r}",
        "format": "must be a valid {}",
    }
    if keyword in bounds and rule is not None:
        return bounds[keyword].format(rule)
    fixed = {
        "enum": "must be one of the values the schema lists",
        "const": "must be the value the schema fixes",
        "uniqueItems": "must not repeat an item",
        "anyOf": "matches none of the allowed shapes (anyOf)",
        "oneOf": "must match exactly one of the allowed shapes (oneOf)",
        "not": "matches a shape the schema forbids (not)",
        "contains": "has no item the schema asks for (contains)",
        "dependentRequired": "lacks a property that another one requires",
        "false": "is not allowed here",
    }
    return fixed.get(keyword, f"breaks the schema's {keyword!r} rule")


def _extra_keys(schema: Any, instance: Any) -> list[str | int]:
    """The instance's keys that ``additionalProperties`` refused: where to point (not to quote)."""
    if not isinstance(schema, Mapping) or not isinstance(instance, Mapping):
        return []
    known = schema.get("properties") or {}
    patterns = list((schema.get("patternProperties") or {}).keys())
    return [
        str(k)
        for k in instance
        if k not in known and not any(re.search(p, str(k)) for p in patterns)
    ]
