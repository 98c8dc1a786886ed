"""The rules engine: what is judged, what each rule checks, and what a refusal says."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import BaseModel

from kubereload.admission import Engine, NoSchemas, RulesError
from kubereload.admission.engine import SchemaUnavailable
from kubereload.admission.rules import SchemaRef, annotation_rules, parse_rules

OPT_IN = {"kubereload.io/validate": "true"}
PORT_SCHEMA = b"""
rules:
  - name: app-config
    match: {namespaces: ["prod-*"], names: [app], keys: ["app.yaml"]}
    schema:
      type: object
      required: [server]
      properties:
        server:
          type: object
          properties: {port: {type: integer, maximum: 65535}}
"""


def configmap(data: dict[str, str], *, name: str = "app", ns: str = "prod-eu", **meta: object):
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": ns, **meta}, "data": data}


def secret(data: dict[str, bytes], **meta: object):
    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    return {
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "prod-eu", **meta},
        "data": encoded,
    }


def rules(text: bytes, base: Path = Path(".")):
    return parse_rules(text, source="rules.yaml", base=base)


class Schemas:
    def __init__(self, items: dict[SchemaRef, bytes]) -> None:
        self.items = items
        self.fetched: list[SchemaRef] = []

    def fetch(self, ref: SchemaRef) -> bytes | None:
        self.fetched.append(ref)
        return self.items.get(ref)


def test_schema_problem_names_key_line_column_and_rule() -> None:
    engine = Engine(rules(PORT_SCHEMA), NoSchemas())
    verdict = engine.judge(configmap({"app.yaml": "server:\n  port: eighty\n"}))
    assert not verdict.allowed
    (check,) = verdict.failed
    assert (check.key, check.rule) == ("app.yaml", "app-config")
    (problem,) = check.problems
    assert (problem.file, problem.line, problem.column) == ("app.yaml", 2, 9)
    assert "server.port: must be of type integer" in problem.message
    assert "eighty" not in verdict.message()
    assert verdict.message().startswith("ConfigMap prod-eu/app: app.yaml:2:9: server.port")
    assert (
        "[rule app-config: yaml syntax + JSON Schema inline in rule app-config]"
        in verdict.message()
    )


def test_good_config_passes_and_every_rule_reports_what_it_checked() -> None:
    engine = Engine(rules(PORT_SCHEMA), NoSchemas())
    verdict = engine.judge(
        configmap({"app.yaml": "server: {port: 80}\n", "x.json": "{}", "blob": "?"})
    )
    assert verdict.allowed and verdict.judged
    checked = {(c.key, c.rule, c.checked) for c in verdict.checks}
    assert checked == {
        ("app.yaml", "app-config", "yaml syntax + JSON Schema inline in rule app-config"),
        ("x.json", "syntax", "json syntax"),  # known format, no schema: syntax still checked
    }  # "blob": no known format and no rule, so nothing to check


def test_objects_not_opted_in_are_not_judged() -> None:
    engine = Engine(rules(PORT_SCHEMA), NoSchemas())
    for obj in (
        configmap({"x.json": "{"}, ns="dev"),  # rule's namespace does not match
        configmap({"x.json": "{"}, name="other"),
    ):
        verdict = engine.judge(obj)
        assert not verdict.judged and verdict.allowed


def test_opt_in_label_gives_syntax_checks_by_extension() -> None:
    engine = Engine(rules(b"rules: []"), NoSchemas())
    verdict = engine.judge(configmap({"a.toml": "x = = 1", "b.yaml": "ok: 1"}, labels=OPT_IN))
    assert [(c.key, c.ok) for c in verdict.checks] == [("a.toml", False), ("b.yaml", True)]
    assert verdict.failed[0].problems[0].line == 1


def test_annotations_name_format_and_a_schema_in_another_configmap() -> None:
    ref = SchemaRef("prod-eu", "app-schema", "schema.json")
    schemas = Schemas({ref: b'{"type": "object", "required": ["name"]}'})
    engine = Engine(rules(b"rules: []"), schemas)
    annotations = {
        "kubereload.io/format": "settings=json",
        "kubereload.io/schema": "settings=app-schema/schema.json",
    }
    bad = engine.judge(configmap({"settings": '{"other": 1}'}, annotations=annotations))
    assert [c.rule for c in bad.failed] == ["annotations"]
    assert "missing required property 'name'" in bad.message()
    good = engine.judge(configmap({"settings": '{"name": "x"}'}, annotations=annotations))
    assert good.allowed
    assert good.checks[0].checked == (
        "json syntax + JSON Schema from ConfigMap prod-eu/app-schema key schema.json"
    )
    assert schemas.fetched == [ref, ref]


def test_missing_schema_configmap_is_a_refusal_that_says_so() -> None:
    engine = Engine(rules(b"rules: []"), Schemas({}))
    annotations = {"kubereload.io/schema": "app.yaml=gone/schema.json"}
    verdict = engine.judge(configmap({"app.yaml": "a: 1"}, annotations=annotations))
    assert not verdict.allowed
    assert "the schema (ConfigMap prod-eu/gone key schema.json) does not exist" in verdict.message()


def test_unreachable_schema_source_gives_no_verdict() -> None:
    class Down:
        def fetch(self, ref: SchemaRef) -> bytes | None:
            raise SchemaUnavailable("API down")

    engine = Engine(rules(b"rules: []"), Down())
    annotations = {"kubereload.io/schema": "app.yaml=s/schema.json"}
    with pytest.raises(SchemaUnavailable):
        engine.judge(configmap({"app.yaml": "a: 1"}, annotations=annotations))


def test_bad_annotation_is_a_refusal_naming_the_annotation() -> None:
    engine = Engine(rules(b"rules: []"), NoSchemas())
    verdict = engine.judge(configmap({"a": "1"}, annotations={"kubereload.io/format": "a=yml"}))
    assert not verdict.allowed
    assert "unknown format 'yml'" in verdict.message()


def test_secret_refusal_never_quotes_the_value() -> None:
    engine = Engine(rules(b"rules: []"), NoSchemas())
    value = b"password: 'hunter2\n\tsecret: \x01zebra"
    verdict = engine.judge(secret({"creds.yaml": value}, labels=OPT_IN))
    assert not verdict.allowed
    message = verdict.message()
    assert "creds.yaml:2:10: a character YAML does not allow" in message
    for fragment in ("hunter2", "zebra", "secret", "\\x01", "'"):
        assert fragment not in message


def test_secret_undecodable_base64_is_named_by_key() -> None:
    engine = Engine(rules(b"rules: []"), NoSchemas())
    obj = {"kind": "Secret", "metadata": {"name": "s", "labels": OPT_IN}, "data": {"k.json": "%%%"}}
    verdict = engine.judge(obj)
    assert verdict.message() == "Secret default/s: k.json: not valid base64 [rule syntax: base64]"


class Settings(BaseModel):
    port: int
    name: str = "x"


def test_model_rule_uses_the_apps_pydantic_model(tmp_path: Path) -> None:
    text = f"""
rules:
  - name: by-model
    match: {{keys: [settings.yaml]}}
    model: {__name__}:Settings
""".encode()
    engine = Engine(rules(text), NoSchemas())
    verdict = engine.judge(configmap({"settings.yaml": "name: a\nport: x\n"}))
    (problem,) = verdict.failed[0].problems
    assert (problem.line, problem.column) == (2, 7)
    assert problem.message.startswith("port: ")
    assert verdict.checks[0].checked == f"yaml syntax + model {__name__}:Settings"
    assert engine.judge(configmap({"settings.yaml": "port: 80\n"})).allowed


def test_schema_file_is_read_relative_to_the_rules_file(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text('{"type": "array"}')
    text = b"rules: [{name: r, match: {keys: [a.json]}, schemaFile: s.json}]"
    engine = Engine(rules(text, tmp_path), NoSchemas())
    verdict = engine.judge(configmap({"a.json": "{}"}))
    assert "must be of type array" in verdict.message()
    assert verdict.checks[0].checked == "json syntax + JSON Schema s.json"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"rules: [{match: {}}]", "'name' must be a non-empty string"),
        (b"rules: [{name: a, format: yml}]", "unknown format 'yml'"),
        (b"rules: [{name: a, typo: 1}]", "unknown field(s) typo"),
        (b"rules: [{name: a, match: {kinds: [Pod]}}]", "ConfigMap and Secret, not 'Pod'"),
        (b"rules: [{name: a, schema: {type: 12}}]", "not a valid JSON Schema"),
        (b"rules: [{name: a}, {name: a}]", "a second rule named 'a'"),
        (b"rules: [{name: a, model: nosuchmodule:X}]", "cannot import nosuchmodule"),
        (b"rules: [{name: a, schema: {}, model: m:X}]", "give one of"),
        (b"rules: [a: b", "rules.yaml:2:1: "),
    ],
)
def test_rules_file_mistakes_are_explained(text: bytes, expected: str) -> None:
    with pytest.raises(RulesError) as caught:
        rules(text)
    assert expected in str(caught.value)


def test_annotation_values_are_parsed_strictly() -> None:
    (rule,) = annotation_rules("ns", {"kubereload.io/schema": "a.yaml=cm/key.json"})
    assert rule.schema_ref == SchemaRef("ns", "cm", "key.json")
    with pytest.raises(RulesError, match="own namespace only"):  # no reading other namespaces
        annotation_rules("ns", {"kubereload.io/schema": "a.yaml=other/cm/key.json"})
    with pytest.raises(RulesError):
        annotation_rules("ns", {"kubereload.io/schema": "a.yaml=../x"})
    with pytest.raises(RulesError):
        annotation_rules("ns", {"kubereload.io/format": "just-a-key"})


class Server(BaseModel):
    port: int


class Nested(BaseModel):
    server: Server


def test_schema_from_a_pydantic_model_follows_its_refs() -> None:
    """``kubereload schema`` output ($defs and $ref) as a rule's schema: bounds and types are
    found through the reference."""
    import json

    text = json.dumps({"rules": [{"name": "m", "schema": Nested.model_json_schema()}]}).encode()
    engine = Engine(rules(text), NoSchemas())
    verdict = engine.judge(configmap({"app.yaml": "server:\n  port: x\n"}))
    (problem,) = verdict.failed[0].problems
    assert problem.message.startswith("server.port: must be of type integer (schema #/")
    assert (problem.line, problem.column) == (2, 9)


def test_a_changed_schema_configmap_changes_the_verdict_of_the_same_bytes() -> None:
    """Verdicts are reused for the same bytes, but never across a change of what judges them."""
    ref = SchemaRef("prod-eu", "s", "schema.json")
    schemas = Schemas({ref: b'{"type": "object"}'})
    engine = Engine(rules(b"rules: []"), schemas)
    obj = configmap(
        {"app.yaml": "port: 1\n"}, annotations={"kubereload.io/schema": "app.yaml=s/schema.json"}
    )
    assert engine.judge(obj).allowed
    assert engine.judge(obj).allowed
    schemas.items[ref] = b'{"type": "object", "required": ["name"]}'
    assert "missing required property 'name'" in engine.judge(obj).message()
    engine.rules = rules(b"rules: [{name: r, match: {keys: [app.yaml]}, schema: {type: array}}]")
    assert "must be of type array" in engine.judge(obj).message()
