"""The rapidyaml reading gives exactly PyYAML's safe-loader values, or leaves the document to it.

PyYAML (YAML 1.1) is the reference: the library, ``check`` and the webhook agree whether or not
rapidyaml is installed. Every document the fast path answers must load in PyYAML to the same
values of the same types; a document PyYAML refuses must never be answered by the fast path.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kubereload.config import ConfigError, Limits, fastyaml, parse

pytestmark = pytest.mark.skipif(not fastyaml.available(), reason="rapidyaml is not installed")


def typed(value: Any) -> Any:
    """The value with every scalar's type made part of it (True != 1, 1.0 != 1, nan == nan)."""
    if isinstance(value, dict):
        return ("map", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("seq", [typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def reference(data: bytes) -> Any:
    """PyYAML's reading, or the exception class when it refuses the document."""
    try:
        return typed(yaml.load(data, Loader=yaml.CSafeLoader))
    except yaml.YAMLError as exc:
        return type(exc)


def assert_agrees(data: bytes) -> Any:
    fast = fastyaml.load(data, Limits().max_depth)
    if fast is fastyaml.UNSURE:
        return fast
    expected = reference(data)
    assert not isinstance(expected, type), f"PyYAML refuses what the fast path read: {data!r}"
    assert typed(fast) == expected, data
    return fast


# Plain and quoted scalars, chosen where YAML 1.1 and 1.2 (or the two parsers) part ways.
HOSTILE_SCALARS = [
    *[
        "yes",
        "Yes",
        "YES",
        "no",
        "No",
        "NO",
        "on",
        "On",
        "ON",
        "off",
        "Off",
        "OFF",
        "y",
        "n",
        "true",
        "True",
        "TRUE",
        "false",
        "False",
        "FALSE",
    ],
    *[
        "null",
        "Null",
        "NULL",
        "~",
        "0",
        "-0",
        "+0",
        "00",
        "010",
        "0777",
        "08",
        "0o10",
        "0x1F",
        "0b101",
        "1_000",
        "+5",
        "-5",
        "1024",
    ],
    *[
        "1e3",
        "1E3",
        "1e+3",
        "1.5e3",
        "1.5e+3",
        "1.5E-3",
        ".5",
        "-.5",
        "+.5",
        "1.",
        "0.",
        "-0.0",
        "3.14_15",
        "1.5.3",
        ".inf",
        "-.Inf",
        ".NaN",
    ],
    *[
        "12:30",
        "1:20",
        "190:20:30",
        "-1:30",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "=",
        "<<",
        "@x",
        "`x",
    ],
    "2001-12-14 21:59:43.10 -5",
    "'1024'",
    '"yes"',
    "'true'",
    '"null"',
    "''",
    '""',
    "'it''s'",
    '"a\\tb"',
    '"\\x41\\u00e9"',
    "a #c",
    "a#c",
    "x: y",
    "- z",
    "[a, b]",
    "{a: 1, b: [2, 3]}",
    "[]",
    "{}",
    "|\n  lit\n  x",
    ">-\n  fold\n\n  x",
    "|+\n  x\n",
    "héllo",
    "a\x85b",
    "a\u2028b",
    "tab\there",
    "!!str 5",
    "&a 1",
    "*a",
    "%x",
    "a\\b",
    "",
]
KEYS = ["a", "b", "port", "1", "yes", "~", "'x'", '"1"', "? k", "null", "-", "1.5", "=", "a b"]


def flat_document() -> st.SearchStrategy[str]:
    line = st.tuples(
        st.sampled_from(["", "  ", "    ", "- ", "  - "]),
        st.sampled_from(KEYS),
        st.sampled_from([": ", ":", " : ", ""]),
        st.sampled_from(HOSTILE_SCALARS),
    ).map("".join)
    return st.lists(line, max_size=8).map(
        lambda lines: "".join(f"{line}\n" for line in lines)
    ) | st.builds(lambda head, body: head + body, st.sampled_from(["", "---\n", "--- "]), line)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=flat_document())
@example(document="k: 010\n")
@example(document="a: 1\na: 2\n")
@example(document="? \n: v\n")
@example(document="---\na: 1\n---\nb: 2\n")
@example(document="a: |\n  lit\n  x")
def test_hostile_lines_read_as_pyyaml_reads_them(document: str) -> None:
    assert_agrees(document.encode())


text = st.text(max_size=12)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    value=values,
    flow=st.sampled_from([False, True, None]),
    style=st.sampled_from([None, '"', "'", "|"]),
    width=st.sampled_from([4, 80]),
)
def test_documents_pyyaml_writes_read_back_the_same(
    value: Any, flow: bool | None, style: str | None, width: int
) -> None:
    """Documents as tools write them, in every style PyYAML's emitter has."""
    document = yaml.safe_dump(
        value, default_flow_style=flow, default_style=style, width=width, allow_unicode=True
    )
    assert_agrees(document.encode())


TOKENS = [
    *HOSTILE_SCALARS,
    *KEYS,
    *[": ", "\n", "  ", "- ", "[", "]", "{", "}", ", ", "#", "'", '"', "|", ">", "?", " ", "x"],
    *["---\n", "...\n", "\n  "],
]


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(TOKENS), max_size=25))
@example(parts=["...\n"])
@example(parts=["]"])
@example(parts=["|", "\n", "yes", "\n"])
def test_token_soup_reads_as_pyyaml_reads_it(parts: list[str]) -> None:
    """Fragments in any order: where the two parsers part on malformed or odd YAML."""
    assert_agrees("".join(parts).encode())


@settings(max_examples=1000, deadline=None)
@given(document=flat_document())
def test_parse_gives_pyyaml_values_or_an_error_where_pyyaml_refuses(document: str) -> None:
    """The one parse step: the fast path, the fallback and the limits together."""
    expected = reference(document.encode())
    try:
        value = parse("a.yaml", document.encode())
    except ConfigError:
        assert isinstance(expected, type), document
        return
    assert typed(value) == expected


def test_the_common_shapes_take_the_fast_path() -> None:
    """A config of mappings, lists, numbers, booleans and quoted strings is read by rapidyaml."""
    document = b"""\
# an app's config
server:
  port: 8080
  host: "0.0.0.0"
  tls: true
  timeout: 2.5
  version: "1.10"
limits: {cpu: 2, memory: 512}
features:
  - name: search
    enabled: false
  - name: export
    enabled: null
message: "Hello, world."
"""
    assert assert_agrees(document) is not fastyaml.UNSURE


@pytest.mark.parametrize(
    "document",
    [
        "a: yes\n",
        "a: ~\n",
        "a: 010\n",
        "a: 1e3\n",
        "1: a\n",
        "a: &b 1\nc: *b\n",
        "a: -.5\n",
        "a: 12:30\n",
    ],
)
def test_a_scalar_whose_type_hinges_on_yaml_1_1_goes_to_pyyaml(document: str) -> None:
    assert fastyaml.load(document.encode(), 100) is fastyaml.UNSURE
    assert parse("a.yaml", document.encode()) == yaml.safe_load(document)


def test_nesting_over_the_limit_is_refused_with_pyyaml_s_position() -> None:
    document = b"a: " + b"[" * 30 + b"]" * 30 + b"\n"
    assert fastyaml.load(document, 29) is fastyaml.UNSURE
    with pytest.raises(ConfigError) as info:
        parse("a.yaml", document, limits=Limits(max_depth=29))
    assert info.value.kind == "too-deep"
    assert parse("a.yaml", document, limits=Limits(max_depth=31)) == yaml.safe_load(document)


SECRET = "S3CR3T-hunter2-VALUE"


@pytest.mark.parametrize(
    "document",
    [
        f"password: {SECRET}: x\n",
        f"password: '{SECRET}\n",
        f"- a\n-{SECRET}\n",
        f"  a: {SECRET}\n b: 2\n",
        f'password: "{SECRET}\n',
        f"[{SECRET}]: x\n",
    ],
)
def test_a_document_rapidyaml_refuses_leaves_nothing_on_stderr(document: str) -> None:
    """rapidyaml prints its errors on the C stderr; not one byte of a refusal may reach it
    (a Secret's pod log), and the stream works as before afterwards."""
    program = f"""
import sys, os
from kubereload.config import parse, ConfigError, fastyaml
assert fastyaml.available()
try:
    parse("a.yaml", {document.encode()!r})
except ConfigError as exc:
    print(exc.line, exc.column)
assert parse("a.yaml", b"a: 1\\n") == {{"a": 1}}
os.write(2, b"after\\n")
"""
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, timeout=60, check=True
    )
    assert done.stderr == b"after\n"
    assert SECRET.encode() not in done.stdout


def test_without_rapidyaml_every_document_goes_to_pyyaml() -> None:
    """The library works where rapidyaml is not installed (the sidecar image, an app)."""
    program = """
import sys
sys.modules["ryml"] = None
from kubereload.config import parse, fastyaml
assert not fastyaml.available()
print(parse("a.yaml", b"a: [1, yes, '2']\\n"))
"""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, timeout=60, check=True, env=env
    )
    assert done.stdout == b"{'a': [1, True, '2']}\n"
