"""Property: ``check`` on a manifest and ``admission`` on the AdmissionReview of the same object
reach the same verdict, problem for problem (key, rule, what was checked, line, column, words)."""

from __future__ import annotations

import base64
import json
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from hypothesis import find, given, settings
from hypothesis import strategies as st

from kubereload.admission.check import check
from kubereload.admission.engine import Engine
from kubereload.admission.manifests import ManifestSchemas, read_manifests
from kubereload.admission.review import answer
from kubereload.admission.rules import parse_rules
from support.admission import review

RULES = parse_rules(
    b"""
rules:
  - name: app
    match: {names: [app], keys: [app.yaml]}
    schema:
      type: object
      properties:
        port: {type: integer, minimum: 1}
        tags: {type: array, items: {type: string}}
  - name: any-json
    match: {kinds: [Secret], keys: ["*.json"]}
    schema: {type: [object, array]}
""",
    source="rules.yaml",
    base=Path("."),
)
SCHEMA_CM = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "schemas", "namespace": "ns"},
    "data": {"s.json": '{"type": "object", "required": ["name"]}'},
}

KEYS = ["app.yaml", "b.json", "c.toml", "d.ini", "e.env", "f", "g.properties", "h.yml"]
TEXT = st.text(alphabet="abc xyz019:-,[]{}\"'=#\n\t.", max_size=60)
VALUES = st.dictionaries(
    st.sampled_from(["port", "name", "tags", "x"]),
    st.one_of(
        st.integers(-5, 5), st.text("abc", max_size=3), st.lists(st.integers(0, 2), max_size=2)
    ),
    max_size=4,
)


@st.composite
def contents(draw: st.DrawFn) -> str:
    how = draw(st.sampled_from(["yaml", "json", "text"]))
    if how == "yaml":
        return yaml.safe_dump(draw(VALUES), default_flow_style=draw(st.booleans()))
    if how == "json":
        return json.dumps(draw(VALUES))
    return draw(TEXT)


@st.composite
def objects(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["ConfigMap", "Secret"]))
    data = draw(st.dictionaries(st.sampled_from(KEYS), contents(), min_size=1, max_size=4))
    meta: dict[str, Any] = {"name": draw(st.sampled_from(["app", "other"])), "namespace": "ns"}
    if draw(st.booleans()):
        meta["labels"] = {"kubereload.io/validate": "true"}
    annotations = {}
    if draw(st.booleans()):
        annotations["kubereload.io/format"] = draw(st.sampled_from(["f=yaml", "f=json", "f=yml"]))
    if draw(st.booleans()):
        annotations["kubereload.io/schema"] = draw(
            st.sampled_from(["h.yml=schemas/s.json", "h.yml=missing/s.json"])
        )
    if annotations:
        meta["annotations"] = annotations
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": kind, "metadata": meta}
    if kind == "ConfigMap":
        obj["data"] = data
    else:
        obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    return obj


def by_admission(obj: dict[str, Any]) -> tuple[bool, set[tuple[Any, ...]]]:
    engine = Engine(
        RULES, ManifestSchemas(list(read_manifests(yaml.safe_dump(SCHEMA_CM).encode(), "s")), "ns")
    )
    result = answer(json.dumps(review(obj)).encode(), engine)
    assert result.status == 200
    verdict = result.outcome.verdict
    allowed = json.loads(result.body)["response"]["allowed"]
    found = set()
    for c in verdict.checks if verdict else ():
        found |= {(c.key, c.rule, c.checked, p.line, p.column, p.message) for p in c.problems}
        if c.ok:
            found.add((c.key, c.rule, c.checked, None, None, ""))
    return allowed, found


def by_check(obj: dict[str, Any]) -> tuple[bool, set[tuple[Any, ...]]]:
    text = yaml.safe_dump_all([SCHEMA_CM, obj])
    report = check(list(read_manifests(text.encode(), "m.yaml")), RULES, "default")
    found = {
        (f.key, f.rule, f.checked, f.key_line, f.key_column, f.message) for f in report.findings
    }
    return report.ok, found


@settings(max_examples=200, deadline=None)
@given(objects())
def test_check_and_admission_agree(obj: dict[str, Any]) -> None:
    assert by_check(obj) == by_admission(obj)


def refused_with(needle: str, obj: dict[str, Any]) -> bool:
    """Whether ``check`` refuses ``obj`` with a problem whose words include ``needle``."""
    return any(needle in problem[5] for problem in by_check(obj)[1])


def test_the_objects_drawn_include_refusals_of_each_kind() -> None:
    """The property is not vacuous: the strategy reaches schema, syntax and annotation refusals."""
    for needle in ("must be of type", "did not find", "unknown format", "does not exist"):
        found = find(objects(), partial(refused_with, needle))
        assert not by_admission(found)[0]
