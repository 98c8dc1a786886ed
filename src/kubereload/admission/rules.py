"""The rule language: which ConfigMap/Secret keys are checked, and against what.

Rules come from two places, and are tried in this order:

- the object's own annotations (teams opt in without touching the server)::

      kubereload.io/format: "app.yaml=yaml, limits=json"
      kubereload.io/schema: "app.yaml=app-schema/schema.json"   # CONFIGMAP/KEY, same namespace

- a rules file given to ``admission`` and ``check``::

      rules:
        - name: app-config
          match: {namespaces: ["prod-*"], names: [app], labels: {team: web}, keys: ["*.yaml"]}
          format: yaml                    # else by the key's extension
          schema: {type: object}          # or schemaFile: app.schema.json, or
          model: myapp.settings:Settings  # the app's own pydantic model

An object is judged when it carries the opt-in label or a ``kubereload.io/format``/``schema``
annotation, or when a rule of the file matches it. In a judged object every key whose format is
known (from a rule, an annotation or its extension) is at least parsed.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubereload.config import FORMATS, ConfigError, parse
from kubereload.config.model import Validator
from kubereload.config.schema import JsonSchema, SchemaError

OPT_IN_LABEL = "kubereload.io/validate"
FORMAT_ANNOTATION = "kubereload.io/format"
SCHEMA_ANNOTATION = "kubereload.io/schema"
ANNOTATION_RULE = "annotations"
KINDS = ("ConfigMap", "Secret")
_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


class RulesError(ValueError):
    """The rules (file or annotations) cannot be understood; says where."""


@dataclass(frozen=True)
class SchemaRef:
    """A JSON Schema kept under ``key`` of the ConfigMap ``namespace/name``."""

    namespace: str
    name: str
    key: str

    def __str__(self) -> str:
        return f"ConfigMap {self.namespace}/{self.name} key {self.key}"


@dataclass(frozen=True)
class Match:
    """Empty fields match anything; names and keys are shell-style patterns (``app-*``)."""

    kinds: tuple[str, ...] = KINDS
    namespaces: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    keys: tuple[str, ...] = ()

    def object(self, kind: str, namespace: str, name: str, labels: Mapping[str, str]) -> bool:
        return (
            kind in self.kinds
            and _any(self.namespaces, namespace)
            and _any(self.names, name)
            and all(labels.get(k) == v for k, v in self.labels.items())
        )

    def key(self, key: str) -> bool:
        return _any(self.keys, key)


def _any(patterns: Sequence[str], value: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(value, p) for p in patterns)


@dataclass(frozen=True, eq=False)
class Rule:
    """One rule: for matching keys, a format and at most one of schema, schema ref or model.

    Compared by identity: a rules reload makes new rules, and cached verdicts of the old ones
    can never be mistaken for theirs."""

    name: str
    match: Match = field(default_factory=Match)
    format: str | None = None
    schema: JsonSchema | None = None
    schema_ref: SchemaRef | None = None
    model: Validator | None = None
    model_name: str | None = None

    def describe(self, format: str) -> str:
        """What this rule checks, in words: ``yaml syntax + JSON Schema app.schema.json``."""
        checked = f"{format} syntax"
        if self.schema is not None:
            checked += f" + JSON Schema {self.schema.source}"
        elif self.schema_ref is not None:
            checked += f" + JSON Schema from {self.schema_ref}"
        elif self.model_name is not None:
            checked += f" + model {self.model_name}"
        return checked


@dataclass(frozen=True)
class Rules:
    """The rules file's rules, in order. ``Rules()`` is the empty set (annotations only)."""

    rules: tuple[Rule, ...] = ()
    source: str = "<no rules file>"

    def matching(
        self, kind: str, namespace: str, name: str, labels: Mapping[str, str]
    ) -> list[Rule]:
        return [r for r in self.rules if r.match.object(kind, namespace, name, labels)]


# -- annotations -------------------------------------------------------------------------------


def annotation_rules(namespace: str, annotations: Mapping[str, str]) -> list[Rule]:
    """The rules an object's own annotations state (one per key named there)."""
    formats = _pairs(annotations.get(FORMAT_ANNOTATION, ""), FORMAT_ANNOTATION)
    schemas = _pairs(annotations.get(SCHEMA_ANNOTATION, ""), SCHEMA_ANNOTATION)
    rules = []
    for key in sorted(set(formats) | set(schemas)):
        fmt = formats.get(key)
        if fmt is not None and fmt not in FORMATS:
            raise RulesError(
                f"annotation {FORMAT_ANNOTATION}: unknown format {fmt!r} for key {key!r}; "
                f"known: {', '.join(sorted(FORMATS))}"
            )
        ref = None
        if key in schemas:
            if schemas[key].count("/") != 1:
                raise RulesError(
                    f"annotation {SCHEMA_ANNOTATION}: {schemas[key]!r} is not CONFIGMAP/KEY "
                    "(a schema is read from the object's own namespace only)"
                )
            ref = _schema_ref(schemas[key], namespace, SCHEMA_ANNOTATION)
        rules.append(Rule(ANNOTATION_RULE, Match(keys=(key,)), format=fmt, schema_ref=ref))
    return rules


def _pairs(text: str, where: str) -> dict[str, str]:
    """``"a.yaml=yaml, b=json"`` (commas or new lines) -> ``{"a.yaml": "yaml", "b": "json"}``."""
    found: dict[str, str] = {}
    for part in re.split(r"[,\n]", text):
        item = part.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.fullmatch(key) or not value:
            raise RulesError(f"annotation {where}: expected KEY=VALUE items, got {item!r}")
        found[key] = value
    return found


def _schema_ref(text: str, namespace: str, where: str) -> SchemaRef:
    """``name/key`` (same namespace) or ``namespace/name/key``."""
    parts = text.split("/")
    if len(parts) == 2:
        parts.insert(0, namespace)
    if (
        len(parts) != 3
        or not all(_NAME.fullmatch(p) for p in parts[:2])
        or not _KEY.fullmatch(parts[2])
    ):
        raise RulesError(f"{where}: {text!r} is not CONFIGMAP/KEY or NAMESPACE/CONFIGMAP/KEY")
    return SchemaRef(parts[0], parts[1], parts[2])


# -- the rules file ----------------------------------------------------------------------------

_RULE_FIELDS = {"name", "match", "format", "schema", "schemaFile", "schemaConfigMap", "model"}
_MATCH_FIELDS = {"kinds", "namespaces", "names", "labels", "keys"}


def load_rules(path: Path) -> Rules:
    """Read and check a rules file; every mistake is a :class:`RulesError` naming the rule."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules file ({exc.strerror})") from None
    return parse_rules(raw, source=str(path), base=path.parent)


def parse_rules(raw: bytes, *, source: str, base: Path) -> Rules:
    try:
        doc = parse(source, raw, "yaml")
    except ConfigError as exc:
        raise RulesError(str(exc)) from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("rules"), list):
        raise RulesError(f"{source}: expected a mapping with a 'rules:' list")
    rules = []
    seen: set[str] = set()
    for index, item in enumerate(doc["rules"]):
        where = f"{source}: rules[{index}]"
        rule = _parse_rule(item, where, base)
        if rule.name in seen:
            raise RulesError(f"{where}: a second rule named {rule.name!r}")
        seen.add(rule.name)
        rules.append(rule)
    return Rules(tuple(rules), source)


def _parse_rule(item: Any, where: str, base: Path) -> Rule:
    if not isinstance(item, Mapping):
        raise RulesError(f"{where}: a rule is a mapping")
    if unknown := sorted(set(map(str, item)) - _RULE_FIELDS):
        raise RulesError(f"{where}: unknown field(s) {', '.join(unknown)}")
    name = item.get("name")
    if not isinstance(name, str) or not name or name == ANNOTATION_RULE:
        raise RulesError(f"{where}: 'name' must be a non-empty string other than {ANNOTATION_RULE}")
    where = f"{where} ({name})"
    fmt = item.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise RulesError(f"{where}: unknown format {fmt!r}; known: {', '.join(sorted(FORMATS))}")
    targets = [k for k in ("schema", "schemaFile", "schemaConfigMap", "model") if k in item]
    if len(targets) > 1:
        raise RulesError(f"{where}: give one of schema, schemaFile, schemaConfigMap, model")
    rule = Rule(name, _parse_match(item.get("match") or {}, where), format=fmt)
    if "schema" in item:
        return _with_schema(rule, item["schema"], f"inline in rule {name}", where)
    if "schemaFile" in item:
        file = base / str(item["schemaFile"])
        try:
            schema = parse(str(file), file.read_bytes(), None)
        except OSError as exc:
            raise RulesError(f"{where}: cannot read schemaFile ({exc.strerror})") from None
        except ConfigError as exc:
            raise RulesError(f"{where}: schemaFile {exc}") from None
        return _with_schema(rule, schema, str(item["schemaFile"]), where)
    if "schemaConfigMap" in item:
        text = str(item["schemaConfigMap"])
        if text.count("/") != 2:
            raise RulesError(f"{where}: schemaConfigMap is NAMESPACE/CONFIGMAP/KEY")
        ref = _schema_ref(text, "", f"{where}: schemaConfigMap")
        return Rule(rule.name, rule.match, rule.format, schema_ref=ref)
    if "model" in item:
        spec = str(item["model"])
        try:
            model = import_model(spec)
        except ValueError as exc:
            raise RulesError(f"{where}: {exc}") from None
        return Rule(rule.name, rule.match, rule.format, model=model, model_name=spec)
    return rule


def _with_schema(rule: Rule, schema: Any, source: str, where: str) -> Rule:
    try:
        compiled = JsonSchema(schema, source=source)
    except SchemaError as exc:
        raise RulesError(f"{where}: {exc}") from None
    return Rule(rule.name, rule.match, rule.format, schema=compiled)


def _parse_match(item: Any, where: str) -> Match:
    if not isinstance(item, Mapping):
        raise RulesError(f"{where}: 'match' is a mapping")
    if unknown := sorted(set(map(str, item)) - _MATCH_FIELDS):
        raise RulesError(f"{where}: unknown match field(s) {', '.join(unknown)}")

    def strings(name: str) -> tuple[str, ...]:
        value = item.get(name) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RulesError(f"{where}: match.{name} is a list of strings")
        return tuple(value)

    labels = item.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise RulesError(f"{where}: match.labels is a mapping of label to value")
    kinds = strings("kinds") or KINDS
    if bad := [k for k in kinds if k not in KINDS]:
        raise RulesError(f"{where}: match.kinds can be ConfigMap and Secret, not {bad[0]!r}")
    return Match(
        kinds=kinds,
        namespaces=strings("namespaces"),
        names=strings("names"),
        labels={str(k): str(v) for k, v in labels.items()},
        keys=strings("keys"),
    )


def import_model(spec: str) -> Any:
    """``package.module:Class`` -> the class (the same one the app gives ``kubereload.watch``)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"model {spec!r} is not MODULE:CLASS (e.g. myapp.settings:Settings)")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"model {spec!r}: cannot import {module_name} ({exc})") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise ValueError(f"model {spec!r}: {module_name} has no {attr}")
    return target
