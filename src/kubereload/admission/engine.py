"""Judging one ConfigMap or Secret: the verdict that ``admission`` and ``check`` both give.

Each key is decoded, parsed once by the library's own parse step (formats, limits, positions),
then checked by every rule that matches it; every check says what it checked. Problems are
:class:`ConfigError`\\ s in the library's vocabulary, which never quotes a value: a Secret's
refusal carries key, line, column, field path and rule, nothing of its content.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubereload.admission.rules import (
    ANNOTATION_RULE,
    OPT_IN_LABEL,
    Rule,
    Rules,
    RulesError,
    SchemaRef,
    annotation_rules,
)
from kubereload.config import DEFAULT_LIMITS, ConfigError, Limits, format_for, parse
from kubereload.config.model import validate_with
from kubereload.config.schema import JsonSchema, SchemaError
from kubereload.kube.data import DataKind, decode_data

SYNTAX_RULE = "syntax"
"""The rule name of the check every key of a known format gets, when no rule names the key."""


class SchemaUnavailable(Exception):
    """A referenced schema could not be fetched right now (the API did not answer): no verdict."""


class SchemaSource(Protocol):
    """Where schemas referenced as ConfigMap keys come from: the API, or the manifests."""

    def fetch(self, ref: SchemaRef) -> bytes | None:
        """The key's bytes; None when the ConfigMap or key does not exist."""


class NoSchemas:
    """A source that has no ConfigMaps at all."""

    def fetch(self, ref: SchemaRef) -> bytes | None:
        return None


@dataclass(frozen=True)
class Check:
    """What one rule checked on one key, and the problems found (none: it passed)."""

    key: str
    rule: str
    checked: str
    problems: tuple[ConfigError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Verdict:
    kind: str
    namespace: str
    name: str
    judged: bool
    checks: tuple[Check, ...] = ()

    @property
    def allowed(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def message(self) -> str:
        """The refusal text: for each problem, key:line:column, what is wrong, which rule."""
        parts = []
        for check in self.failed:
            for problem in check.problems:
                parts.append(f"{problem} [rule {check.rule}: {check.checked}]")
        return f"{self.kind} {self.namespace}/{self.name}: " + "; ".join(parts)


class SchemaCache:
    """Compiled schemas by the digest of their bytes, so each is compiled once (bounded LRU)."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._items: OrderedDict[bytes, JsonSchema] = OrderedDict()
        self._lock = threading.Lock()

    def compile(self, raw: bytes, source: str) -> JsonSchema:
        digest = hashlib.blake2b(raw + b"\0" + source.encode(), digest_size=16).digest()
        with self._lock:
            found = self._items.get(digest)
            if found is not None:
                self._items.move_to_end(digest)
                return found
        schema = JsonSchema(parse(source, raw, "yaml"), source=source)  # our limits apply
        with self._lock:
            self._items[digest] = schema
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return schema


class VerdictCache:
    """The checks of one key, by what decides them: kind, key, format, the bytes' digest and
    each rule's target (model, compiled schema, or the schema's error). An object applied again,
    or updated in its labels or other keys only, is not parsed again (bounded LRU)."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Any, ...], list[Check]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, identity: tuple[Any, ...]) -> list[Check] | None:
        with self._lock:
            found = self._items.get(identity)
            if found is not None:
                self._items.move_to_end(identity)
            return found

    def put(self, identity: tuple[Any, ...], checks: list[Check]) -> None:
        with self._lock:
            self._items[identity] = checks
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Engine:
    """Rules + where referenced schemas come from -> :meth:`judge` for any object."""

    def __init__(
        self,
        rules: Rules,
        schemas: SchemaSource,
        cache: SchemaCache | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._rules = rules
        self.schemas = schemas
        self.cache = cache or SchemaCache()
        self.limits = limits
        self.verdicts = VerdictCache()

    @property
    def rules(self) -> Rules:
        return self._rules

    @rules.setter
    def rules(self, rules: Rules) -> None:
        self._rules = rules
        self.verdicts.clear()

    def judge(self, obj: Mapping[str, Any], namespace: str | None = None) -> Verdict:
        """The verdict on ``obj``; ``namespace`` overrides the object's (the request's)."""
        kind = str(obj.get("kind") or "")
        meta = obj.get("metadata") or {}
        ns = namespace or str(meta.get("namespace") or "default")
        name = str(meta.get("name") or meta.get("generateName") or "")
        labels = {str(k): str(v) for k, v in (meta.get("labels") or {}).items()}
        annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
        checks: list[Check] = []
        try:
            own = annotation_rules(ns, annotations)
        except RulesError as exc:
            own = []
            problem = ConfigError(str(exc), kind="validation")
            checks.append(Check("-", ANNOTATION_RULE, "annotations", (problem,)))
        from_file = self.rules.matching(kind, ns, name, labels)
        judged = labels.get(OPT_IN_LABEL) == "true" or bool(own) or bool(from_file) or bool(checks)
        if not judged or kind not in ("ConfigMap", "Secret"):
            return Verdict(kind, ns, name, judged=False)
        decoded = decode_data(DataKind(kind), obj)
        files = decoded.values
        for key in decoded.invalid:
            problem = ConfigError("not valid base64", kind="encoding", file=key)
            checks.append(Check(key, SYNTAX_RULE, "base64", (problem,)))
        rules = [*own, *from_file]
        for key in sorted(files):
            checks.extend(
                self._check_key(kind, key, files[key], [r for r in rules if r.match.key(key)])
            )
        return Verdict(kind, ns, name, judged=True, checks=tuple(checks))

    def _check_key(self, kind: str, key: str, raw: bytes, rules: Sequence[Rule]) -> list[Check]:
        validating = [r for r in rules if r.schema or r.schema_ref or r.model]
        fmt = next((r.format for r in rules if r.format), None) or format_for(key)
        if fmt == "auto":
            if not validating:
                return []  # no known format and nothing to check it against
            fmt = "yaml"  # a schema or model needs structure: YAML reads JSON too
        first = rules[0].name if rules else SYNTAX_RULE
        # Referenced schemas first: what they hold now is part of the verdict's identity.
        targets = [(r, self._target(r)) for r in validating]
        identity = (kind, key, fmt, first, hashlib.blake2b(raw, digest_size=16).digest(), *targets)
        cached = self.verdicts.get(identity)
        if cached is not None:
            return cached
        try:
            value = parse(key, raw, fmt, limits=self.limits)
        except ConfigError as exc:
            checks = [Check(key, first, f"{fmt} syntax", (exc,))]
        else:
            if not validating:
                checks = [Check(key, first, f"{fmt} syntax")]
            else:
                checks = [self._validate(key, raw, value, fmt, r, target=t) for r, t in targets]
        self.verdicts.put(identity, checks)
        return checks

    def _target(self, rule: Rule) -> Any:
        """What a validating rule checks against: the model, a compiled schema, or the error
        that stands for a referenced schema that cannot be used."""
        if rule.model is not None:
            return rule.model
        if rule.schema is not None:
            return rule.schema
        assert rule.schema_ref is not None
        return self._referenced(rule.schema_ref)

    def _validate(
        self, key: str, raw: bytes, value: Any, fmt: str, rule: Rule, *, target: Any
    ) -> Check:
        checked = rule.describe(fmt)
        position_raw = raw if fmt in ("yaml", "json") else b""
        if isinstance(target, ConfigError):
            return Check(key, rule.name, checked, (target.in_file(key),))
        if isinstance(target, JsonSchema):
            problems = target.problems(value, position_raw, file=key)
            return Check(key, rule.name, checked, tuple(problems))
        try:
            validate_with(target, value, {key: position_raw}, directory=False)
        except ConfigError as exc:
            return Check(key, rule.name, checked, (exc,))
        return Check(key, rule.name, checked)

    def _referenced(self, ref: SchemaRef) -> JsonSchema | ConfigError:
        raw = self.schemas.fetch(ref)  # SchemaUnavailable propagates: no verdict without it
        if raw is None:
            return ConfigError(f"the schema ({ref}) does not exist", kind="validation")
        try:
            return self.cache.compile(raw, f"{ref.namespace}/{ref.name}/{ref.key}")
        except (ConfigError, SchemaError) as exc:
            return ConfigError(f"the schema ({ref}) is unusable: {exc}", kind="validation")
