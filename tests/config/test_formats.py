"""Each format parses what real ConfigMaps hold, and errors say where, never what."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubereload.config import ConfigError, format_for, parse


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app.yaml", "yaml"),
        ("app.YML", "yaml"),
        ("a.json", "json"),
        ("a.toml", "toml"),
        ("a.ini", "ini"),
        ("a.cfg", "ini"),
        ("a.properties", "properties"),
        (".env", "dotenv"),
        ("prod.env", "dotenv"),
        ("notes.txt", "text"),
        ("LOG_LEVEL", "auto"),
        ("nginx.conf", "auto"),
        ("dir/app.yaml", "yaml"),
    ],
)
def test_format_is_chosen_by_name(name: str, expected: str) -> None:
    assert format_for(name) == expected


def test_yaml_json_toml() -> None:
    assert parse("a.yaml", b"server:\n  port: 8080\n") == {"server": {"port": 8080}}
    assert parse("a.json", b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert parse("a.toml", b'[db]\nhost = "x"\n') == {"db": {"host": "x"}}


def test_ini_keeps_key_case_and_sections() -> None:
    text = b"[DEFAULT]\nTimeout = 5\n[server]\nPort = 80\n"
    assert parse("a.ini", text) == {
        "DEFAULT": {"Timeout": "5"},
        "server": {"Port": "80", "Timeout": "5"},
    }


def test_java_properties() -> None:
    text = (
        b"# comment\n! also a comment\n"
        b"a=1\nb : two words\nc three\n"
        b"long = first \\\n    second\n"
        b"path=C:\\\\dir\nuni=\\u00e9t\\u00e9\nkey\\ with\\ space = v\n"
    )
    assert parse("a.properties", text) == {
        "a": "1",
        "b": "two words",
        "c": "three",
        "long": "first second",
        "path": "C:\\dir",
        "uni": "été",
        "key with space": "v",
    }


def test_dotenv() -> None:
    text = (
        b"# comment\nA=1\nexport B=two\nC='single $NOT #x'\n"
        b'D="line\\nbreak"\nE=value # trailing comment\nF="multi\nline"\nG=\n'
    )
    assert parse(".env", text) == {
        "A": "1",
        "B": "two",
        "C": "single $NOT #x",
        "D": "line\nbreak",
        "E": "value",
        "F": "multi\nline",
        "G": "",
    }


def test_text_bytes_and_auto() -> None:
    assert parse("a.txt", "héllo".encode()) == "héllo"
    assert parse("x", b"\xff\x00", format="bytes") == b"\xff\x00"
    assert parse("keystore", b"\xff\xfe\x00") == b"\xff\xfe\x00"  # not UTF-8: kept as bytes
    assert parse("LEVEL", b"debug") == "debug"


def test_custom_parser_and_its_failure() -> None:
    assert parse("x", b"a,b", parser=lambda b: b.decode().split(",")) == ["a", "b"]

    def broken(data: bytes) -> object:
        raise ValueError("nope")

    with pytest.raises(ConfigError, match="the parser broken raised ValueError") as info:
        parse("x.csv", b"a", parser=broken)
    assert info.value.file == "x.csv"
    assert "nope" not in str(info.value)  # its text may quote the data


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"unknown format 'xml'.*known formats"):
        parse("a", b"", format="xml")


@pytest.mark.parametrize(
    ("name", "data", "line", "column"),
    [
        ("a.yaml", b"a: 1\nb: [1,\nc: 3\n", 4, 1),
        ("a.json", b'{\n  "a": 1,\n  "b": \n}', 4, 1),
        ("a.toml", b'a = 1\nb = "x\n', 2, 7),
        ("a.ini", b"[s]\na = 1\nnot a pair\n", 3, None),
        ("a.ini", b"a = 1\n", 1, None),
        (".env", b"A=1\nnot a pair\n", 2, 1),
        ("a.yaml", b"a: 1\nb: \xff\n", 2, 4),
        ("a.txt", b"ok\n\xc3(", 2, 1),
    ],
)
def test_errors_carry_file_line_and_column(
    name: str, data: bytes, line: int, column: int | None
) -> None:
    with pytest.raises(ConfigError) as info:
        parse(name, data)
    error = info.value
    assert (error.file, error.line, error.column) == (name, line, column)
    assert str(error).startswith(f"{name}:{line}")


SECRET = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=12, max_size=24)


@settings(max_examples=60, deadline=None)
@given(secret=SECRET, fmt=st.sampled_from(["a.yaml", "a.json", "a.toml", "a.ini", ".env"]))
def test_parse_errors_never_echo_the_content(secret: str, fmt: str) -> None:
    """A broken Secret must not leak its value through the error message."""
    broken = {
        "a.yaml": f"password: {secret}\n  bad: [indent\n",
        "a.json": f'{{"password": "{secret}" "x"}}',
        "a.toml": f'password = "{secret}\n',
        "a.ini": f"password = {secret}\n",
        ".env": f"password {secret}\n",
    }[fmt]
    with pytest.raises(ConfigError) as info:
        parse(fmt, broken.encode())
    assert secret not in str(info.value)
    assert secret not in repr(info.value)
