"""JSON Schema validation of a parsed config, reported in kubereload's own words and positions.

The validator (python-jsonschema) says *which* rule of the schema failed and *where* in the
document; its message text quotes the offending value, so it is never used. Each problem becomes
a :class:`ConfigError` built from the schema keyword, the schema's own values (a type name, a
bound, a pattern) and the instance path, with the line and column found by :func:`locate`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from kubereload.config.errors import ConfigError
from kubereload.config.locate import locate

MAX_PROBLEMS = 20
"""More problems than this in one document are summed up as a count: a message stays short."""


class SchemaError(ValueError):
    """The schema itself is not a valid JSON Schema (a problem of the rules, not of the config)."""


def _validator_class(schema: Mapping[str, Any]) -> Any:
    try:
        import jsonschema  # noqa: PLC0415 - only rules that name a schema pay for it
    except ImportError:
        raise SchemaError(
            "JSON Schema needs the jsonschema package: pip install 'kubereload[admission]'"
        ) from None

    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)


class JsonSchema:
    """A compiled JSON Schema: build once per rule, then :meth:`problems` for each document."""

    def __init__(self, schema: Any, *, source: str) -> None:
        if not isinstance(schema, Mapping) and not isinstance(schema, bool):
            raise SchemaError(f"{source}: a JSON Schema is an object (or true/false)")
        cls = _validator_class(schema if isinstance(schema, Mapping) else {})
        try:
            cls.check_schema(schema)
        except Exception as exc:  # jsonschema.SchemaError; its text quotes only the schema
            path = "/".join(str(p) for p in getattr(exc, "absolute_path", ()))
            raise SchemaError(
                f"{source}: not a valid JSON Schema (at #/{path})"
                f" [{getattr(exc, 'validator', 'invalid')}]"
            ) from None
        self.source = source
        self._validator = cls(schema)

    def problems(self, value: Any, raw: bytes, *, file: str) -> list[ConfigError]:
        """Every way ``value`` (parsed from ``raw``) breaks the schema, in document order."""
        found: list[ConfigError] = []
        errors = self._validator.iter_errors(value)
        for count, error in enumerate(errors):
            if count == MAX_PROBLEMS:
                rest = sum(1 for _ in errors) + 1
                found.append(
                    ConfigError(f"and {rest} more problem(s)", kind="validation", file=file)
                )
                break
            found.append(_to_config_error(error, value, raw, file))
        found.sort(key=lambda e: (e.line or 0, e.column or 0))
        return found


def _to_config_error(error: Any, value: Any, raw: bytes, file: str) -> ConfigError:
    path = list(error.absolute_path)
    keyword = str(error.validator)
    message, point_at = _describe(keyword, error.validator_value, error.instance)
    if keyword == "additionalProperties":
        point_at = _extra_keys(error.schema, error.instance)[:1]
    where = locate(raw, [*path, *point_at]) if raw else None
    schema_path = "/".join(str(p) for p in error.absolute_schema_path)
    return ConfigError(
        f"{message} (schema #/{schema_path})",
        kind="validation",
        path=path,
        file=file,
        line=where[0] if where else None,
        column=where[1] if where else None,
    )


def _describe(keyword: str, rule: Any, instance: Any) -> tuple[str, list[str | int]]:
    """Our words for a failed ``keyword`` whose schema value is ``rule``; the instance is only
    inspected for its keys, never quoted. Returns the message and a sub-path to point at."""
    if keyword == "type":
        kinds = rule if isinstance(rule, list) else [rule]
        return f"must be of type {' or '.join(str(k) for k in kinds)}", []
    if keyword == "required" and isinstance(instance, Mapping):
        missing = [str(p) for p in rule if p not in instance]
        return f"missing required propert{'y' if len(missing) == 1 else 'ies'} " + ", ".join(
            repr(m) for m in missing
        ), []
    if keyword in ("additionalProperties", "unevaluatedProperties", "propertyNames"):
        return "has a property the schema does not allow", []
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
    if keyword in bounds:
        return bounds[keyword].format(rule), []
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
    return fixed.get(keyword, f"breaks the schema's {keyword!r} rule"), []


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
