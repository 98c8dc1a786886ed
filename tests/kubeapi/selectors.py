"""Label and field selectors, parsed and matched with the real server's rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from kubeapi.resources import Resource
from kubeapi.status import ApiError, bad_request

Predicate = Callable[[dict[str, Any]], bool]

_KEY = r"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_VALUE = r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")
_EQUALS = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s*\(([^()]*)\)$")
_CMP = re.compile(rf"^({_KEY})\s*(>|<)\s*(-?[0-9]+)$")


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses (`a in (x,y),b` is two terms)."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            terms.append(text[start:i].strip())
            start = i + 1
    terms.append(text[start:].strip())
    return terms


def _label_term(term: str) -> Callable[[dict[str, str]], bool]:
    if m := _EXISTS.match(term):
        negate, key = m.group(1) == "!", m.group(2)
        return lambda labels: (key in labels) != negate
    if m := _EQUALS.match(term):
        key, op, value = m.group(1), m.group(2), m.group(3)
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _SET.match(term):
        key, op = m.group(1), m.group(2)
        values = {v.strip() for v in m.group(3).split(",")}
        if not all(re.fullmatch(_VALUE, v) for v in values):
            raise bad_request(f"unable to parse requirement: invalid value in {term!r}")
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _CMP.match(term):
        key, op, bound = m.group(1), m.group(2), int(m.group(3))

        def compare(labels: dict[str, str]) -> bool:
            raw = labels.get(key)
            if raw is None or not re.fullmatch(r"-?[0-9]+", raw):
                return False
            return int(raw) > bound if op == ">" else int(raw) < bound

        return compare
    raise bad_request(f"unable to parse requirement: found '{term}', expected a valid requirement")


def label_selector(text: str) -> Predicate | None:
    """A predicate on objects, or None for the empty selector (everything)."""
    if not text.strip():
        return None
    tests = [_label_term(t) for t in _split_terms(text)]

    def match(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(t(labels) for t in tests)

    return match


# Fields each type can be selected on, beyond metadata.name and metadata.namespace.
_EXTRA_FIELDS: dict[str, tuple[str, ...]] = {
    "Secret": ("type",),
    "Namespace": ("status.phase",),
    "Pod": ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "status.phase"),
    "Event": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
}


def _field_value(obj: dict[str, Any], field: str) -> str:
    if field == "source":
        return str((obj.get("source") or {}).get("component", ""))
    value: Any = obj
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_selector(text: str, res: Resource) -> Predicate | None:
    if not text.strip():
        return None
    allowed = ("metadata.name", "metadata.namespace", *_EXTRA_FIELDS.get(res.kind, ()))
    tests: list[tuple[str, bool, str]] = []
    for term in text.split(","):
        m = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*([^,]*?)\s*", term)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, value = m.group(1), m.group(2), m.group(3)
        if field not in allowed:
            raise ApiError(400, f"field label not supported: {field}")
        tests.append((field, op == "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, f) == v) != neg for f, neg, v in tests)

    return match


def combine(*predicates: Predicate | None) -> Predicate | None:
    present = [p for p in predicates if p is not None]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    return lambda obj: all(p(obj) for p in present)
