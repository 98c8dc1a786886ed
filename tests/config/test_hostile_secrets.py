"""A property of the whole library surface: a Secret's value never reaches any output.

A value is planted in every format, in every way of breaking it, and behind every kind of
validator, custom parser and callback; then everything a user or operator can see is searched
for it: the log at DEBUG, ``config.error``, the exception raised and its whole
``__cause__``/``__context__`` chain, and the reprs.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_validator

import kubereload
from kubereload import ConfigError
from kubereload.testing import SimulatedVolume, wait_for_version

# Upper-case letters only: no run of them appears in our own words, paths or version ids.
SECRETS = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=12, max_size=24)

# (file name, good content, content with the secret that must be rejected)
BROKEN: dict[str, tuple[str, str, Callable[[str], str]]] = {
    "yaml-unknown-tag": ("a.yaml", "a: 1\n", lambda s: f"password: !{s} x\n"),
    "yaml-int-tag": ("a.yaml", "a: 1\n", lambda s: f"password: !!int {s}\n"),
    "yaml-float-tag": ("a.yaml", "a: 1\n", lambda s: f"password: !!float {s}\n"),
    "yaml-timestamp-tag": ("a.yaml", "a: 1\n", lambda s: f"password: !!timestamp 2024-{s}\n"),
    "yaml-undefined-alias": ("a.yaml", "a: 1\n", lambda s: f"password: *{s}\n"),
    "yaml-duplicate-anchor": ("a.yaml", "a: 1\n", lambda s: f"a: &{s} 1\nb: &{s} 2\n"),
    "yaml-syntax": ("a.yaml", "a: 1\n", lambda s: f"password: {s}\n  bad: [x\n"),
    "yaml-bad-char": ("a.yaml", "a: 1\n", lambda s: f"password: {s}\nb: @{s}\n"),
    "yaml-tab": ("a.yaml", "a: 1\n", lambda s: f"a:\n\t- {s}\n"),
    "yaml-bomb": (
        "a.yaml",
        "a: 1\n",
        lambda s: (
            f"a: &a [{s}, {s}]\n"
            + "".join(
                f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}]\n"
                for p, c in zip("abcdefghijklmnopq", "bcdefghijklmnopqr", strict=True)
            )
        ),
    ),
    "yaml-deep": ("a.yaml", "a: 1\n", lambda s: "[" * 200 + s + "]" * 200),
    "json-syntax": ("a.json", '{"a": 1}', lambda s: f'{{"password": "{s}" "x"}}'),
    "json-bare": ("a.json", '{"a": 1}', lambda s: f'{{"password": {s}}}'),
    "json-deep": ("a.json", '{"a": 1}', lambda s: "[" * 5000 + f'"{s}"' + "]" * 5000),
    "json-control": ("a.json", '{"a": 1}', lambda s: f'{{"password": "{s}\x01"}}'),
    "toml-bare": ("a.toml", "a = 1\n", lambda s: f"password = {s}\n"),
    "toml-duplicate": ("a.toml", "a = 1\n", lambda s: f"{s} = 1\n{s} = 2\n"),
    "toml-table-twice": ("a.toml", "a = 1\n", lambda s: f"[{s}]\n[{s}]\n"),
    "toml-unterminated": ("a.toml", "a = 1\n", lambda s: f'password = "{s}\n'),
    "toml-bad-char": ("a.toml", "a = 1\n", lambda s: f'password = "{s}\x07"\n'),
    "toml-deep": ("a.toml", "a = 1\n", lambda s: "a = " + "[" * 200 + f'"{s}"' + "]" * 200),
    "ini-duplicate-key": ("a.ini", "[s]\na = 1\n", lambda s: f"[s]\n{s} = 1\n{s} = 2\n"),
    "ini-duplicate-section": ("a.ini", "[s]\na = 1\n", lambda s: f"[{s}]\na = 1\n[{s}]\n"),
    "ini-no-section": ("a.ini", "[s]\na = 1\n", lambda s: f"password = {s}\n"),
    "ini-not-a-pair": ("a.ini", "[s]\na = 1\n", lambda s: f"[s]\n{s}\n"),
    "properties-escape": ("a.properties", "a=1\n", lambda s: f"password={s}\\u{s[:3]}\n"),
    "dotenv-not-a-pair": (".env", "A=1\n", lambda s: f"PASSWORD {s}\n"),
    "dotenv-unterminated": (".env", "A=1\n", lambda s: f'PASSWORD="{s}\n'),
    "dotenv-after-quote": (".env", "A=1\n", lambda s: f'PASSWORD="x" {s}\n'),
    "text-not-utf8": ("a.txt", "ok\n", lambda s: f"{s}\udcff{s}"),
}


class Typed(BaseModel):
    port: int = 1


class Checked(BaseModel):
    password: str = "x"

    @field_validator("password")
    @classmethod
    def _weak(cls, value: str) -> str:
        raise ValueError(f"too weak: {value}")


@dataclasses.dataclass
class Pair:
    first: Any
    second: Any = None

    def __post_init__(self) -> None:
        if self.first != {"ok": True}:
            raise ValueError(f"invalid {self.first}")


def _key_error(data: Any) -> Any:
    if data != {"ok": True}:
        raise KeyError(data)
    return data


def _lookup_error(data: Any) -> Any:
    if data != {"ok": True}:
        raise LookupError(f"bad config {data!r}")
    return data


def _parser_error(data: bytes) -> Any:
    raise ValueError(data.decode())


# name -> (model, good YAML, YAML with the secret that the model rejects)
VALIDATED: dict[str, tuple[Any, str, Callable[[str], str]]] = {
    "pydantic-type": (Typed, "port: 2\n", lambda s: f"port: {s}\n"),
    "pydantic-validator": (Checked, "{}\n", lambda s: f"password: {s}\n"),
    "int": (int, "3\n", lambda s: f"{s}\n"),
    "dataclass": (Pair, "ok: true\n", lambda s: f"password: {s}\n"),
    "key-error": (_key_error, "ok: true\n", lambda s: f"password: {s}\n"),
    "lookup-error": (_lookup_error, "ok: true\n", lambda s: f"password: {s}\n"),
}


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything kubereload logs, at DEBUG, with tracebacks, while the block runs."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    logger = logging.getLogger("kubereload")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def visible(exc: BaseException | None) -> str:
    """The text of an exception and of everything chained to it."""
    parts = []
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        parts += [str(exc), repr(exc), repr(exc.args)]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def _write(path: Path, text: str) -> None:
    path.write_bytes(text.encode("utf-8", "surrogateescape"))


def _exercise(tmp: Path, name: str, good: str, bad: str, secret: str, **options: Any) -> str:
    """Every way the library can report ``bad``; returns all the text it showed."""
    shown = []
    with captured_logs() as logs:
        # 1. the first load, no default: an exception
        (tmp / "first").mkdir()
        _write(tmp / "first" / name, bad)
        try:
            kubereload.watch(tmp / "first" / name, **options).close()
        except ConfigError as exc:
            shown.append(visible(exc))
        else:
            raise AssertionError("the bad content was accepted")
        # 2. the first load with a default: config.error and the log
        with kubereload.watch(tmp / "first" / name, default=None, **options) as config:
            assert config.error is not None
            shown += [visible(config.error), repr(config)]
        # 3. an update to a running watch: rejected, the last good kept
        volume = SimulatedVolume(tmp / "vol", {name: good.encode("utf-8", "surrogateescape")})
        with kubereload.watch(volume.path / name, **options) as config:
            before = config.get()
            version = volume.set(name, bad.encode("utf-8", "surrogateescape"))
            assert not wait_for_version(config, version, timeout=20)
            assert config.get() == before
            shown += [visible(config.error), repr(config), repr(config.snapshot)]
        shown.append(logs.getvalue())
    text = "\n".join(shown)
    assert secret not in text, text
    return text


@pytest.mark.parametrize("case", sorted(BROKEN))
@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(secret=SECRETS)
def test_no_broken_format_shows_the_secret(case: str, secret: str) -> None:
    name, good, broken = BROKEN[case]
    with tempfile.TemporaryDirectory() as tmp:
        _exercise(Path(tmp), name, good, broken(secret), secret)


@pytest.mark.parametrize("case", sorted(VALIDATED))
@settings(max_examples=3, deadline=None)
@given(secret=SECRETS)
def test_no_validator_shows_the_secret(case: str, secret: str) -> None:
    model, good, bad = VALIDATED[case]
    with tempfile.TemporaryDirectory() as tmp:
        _exercise(Path(tmp), "a.yaml", good, bad(secret), secret, model=model)


@settings(max_examples=5, deadline=None)
@given(secret=SECRETS)
def test_a_custom_parser_and_a_callback_never_show_the_secret(secret: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _exercise(Path(tmp), "a.csv", "x", f"{secret},y", secret, parser=_picky_parser)
        volume = SimulatedVolume(Path(tmp) / "cb", {"a.yaml": "a: 1\n"})
        with captured_logs() as logs, kubereload.watch(volume.path / "a.yaml") as config:

            @config.on_change
            def leaky(old: Any, new: Any) -> None:
                raise RuntimeError(f"cannot apply {new}")

            assert wait_for_version(config, volume.set("a.yaml", f"password: {secret}\n"))
        assert "leaky raised RuntimeError" in logs.getvalue()
        assert secret not in logs.getvalue()


def _picky_parser(data: bytes) -> Any:
    if data == b"x":
        return "x"
    return _parser_error(data)
