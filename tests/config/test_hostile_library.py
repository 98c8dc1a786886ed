"""The library against hostile and unlucky input (issue 9): secrets, bombs, first loads, links.

Each test states what a user relies on when the volume is not trusted: an error in our own
words with a position, bounded time and memory, nothing read outside the volume, no leaked
descriptor or thread, and the last good config kept.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, JsonValue

import kubereload
import kubereload.config
from kubereload import ConfigError, Limits
from kubereload.config import parse
from kubereload.testing import SimulatedVolume, wait_for_version
from kubereload.volume import DATA_DIR_NAME

SECRET = "hunter2-Zq8xV3"

# 9 levels of 9 aliases each: 414 bytes (the was 422) that expand to 387 million strings
ALIAS_BOMB = (
    "a: &a ["
    + ", ".join(['"lol"'] * 9)
    + "]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n"
        for i in range(8)
    )
)


class Anything(BaseModel):
    data: JsonValue = None


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _chain(exc: BaseException | None) -> list[BaseException]:
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


# -- secrets never reach output ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.yaml", f"password: !{SECRET} x\n"),
        ("a.yaml", f"password: !!int {SECRET}\n"),
        ("a.yaml", f"password: !!timestamp 2024-99-{SECRET}\n"),
        ("a.yaml", f"password: *{SECRET}\n"),
        ("a.yaml", f"a: &{SECRET} 1\nb: &{SECRET} 2\n"),
        ("a.ini", f"[s]\n{SECRET} = 1\n{SECRET} = 2\n"),
        ("a.ini", f"[{SECRET}]\na = 1\n[{SECRET}]\n"),
        ("a.toml", f"{SECRET} = 1\n{SECRET} = 2\n"),
        ("a.toml", f"a = {SECRET}\n"),
        ("a.toml", f"[a]\nb = 1\n[a]\n{SECRET} = 1\n"),
        ("a.json", f'{{"a": {SECRET}}}'),
    ],
)
def test_parse_errors_are_our_words_and_positions_only(name: str, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(name, text.encode())
    error = info.value
    assert error.file == name and error.line is not None
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert error.__cause__ is None and error.__context__ is None


@pytest.mark.parametrize("name", ["a.json", "a.yaml", "a.toml"])
def test_a_number_too_long_to_convert_is_a_config_error(name: str) -> None:
    text = {"a.json": "[{}]", "a.yaml": "a: {}", "a.toml": "a = {}"}[name].format("1" * 5000)
    with pytest.raises(ConfigError) as info:
        parse(name, text.encode())
    assert info.value.file == name
    assert info.value.__context__ is None


def test_a_yaml_tag_on_the_first_load_serves_the_default(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(f"password: !!int {SECRET}\n")
    with kubereload.watch(tmp_path / "a.yaml", default={"d": 1}) as config:
        assert config.get() == {"d": 1}
        assert config.error is not None
        assert (config.error.kind, config.error.line, config.error.column) == ("tag", 1, 11)
        assert SECRET not in str(config.error)


@dataclasses.dataclass
class Pair:
    first: Any
    second: Any


def _picky(data: Any) -> Any:
    raise KeyError(data["password"])


@pytest.mark.parametrize("model", [int, Pair, _picky])
def test_a_plain_callable_validator_is_named_never_echoed(
    tmp_path: Path, model: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (tmp_path / "a.yaml").write_text(f"password: {SECRET}\n")
    with pytest.raises(ConfigError) as info:
        kubereload.watch(tmp_path / "a.yaml", model=model)
    assert info.value.kind == "validation"
    assert info.value.message == f"rejected by {model.__name__} ({_raised_by(model)})"
    for exc in _chain(info.value):
        assert SECRET not in repr(exc)
    assert SECRET not in caplog.text


def _raised_by(model: Any) -> str:
    try:
        model({"password": SECRET})
    except Exception as exc:
        return type(exc).__name__
    raise AssertionError("the model accepted it")


class Strict(BaseModel):
    port: int
    mode: str = "a"


def test_pydantic_errors_keep_the_field_path_not_the_input(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(f"port: {SECRET}\n")
    with pytest.raises(ConfigError) as info:
        kubereload.watch(tmp_path / "a.yaml", model=Strict)
    error = info.value
    assert str(error) == "a.yaml:1:7: port: must be an integer"
    assert error.path == ("port",)
    assert SECRET not in repr(error)


# -- resource bombs ------------------------------------------------------------------------------


def test_a_yaml_alias_bomb_is_refused_before_anything_expands_it(tmp_path: Path) -> None:
    assert len(ALIAS_BOMB) < 500
    volume = SimulatedVolume(tmp_path, {"a.yaml": "data: 1\n"})
    with kubereload.watch(tmp_path / "a.yaml", model=Anything) as config:
        assert not wait_for_version(config, volume.set("a.yaml", ALIAS_BOMB), timeout=30)
        assert config.error is not None and config.error.kind == "too-many-aliases"
        assert config.error.line is not None
        assert config.get() == Anything(data=1)
        fixed = volume.set("a.yaml", "data: [1, 2]\n")
        assert wait_for_version(config, fixed)
        assert config.get() == Anything(data=[1, 2])


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse("a.yaml", b"a: &x [1, *x]\n")
    assert info.value.kind == "too-many-aliases"


def test_ordinary_anchors_and_merges_are_fine() -> None:
    text = b"base: &b {x: 1, y: 2}\none: {<<: *b, z: 3}\ntwo: *b\n"
    assert parse("a.yaml", text) == {
        "base": {"x": 1, "y": 2},
        "one": {"x": 1, "y": 2, "z": 3},
        "two": {"x": 1, "y": 2},
    }


def test_the_alias_limit_is_configurable() -> None:
    text = b"a: &a [1, 2, 3, 4]\nb: [*a, *a]\n"
    assert parse("a.yaml", text)["b"] == [[1, 2, 3, 4]] * 2
    with pytest.raises(ConfigError, match="max_yaml_alias_nodes"):
        parse("a.yaml", text, limits=Limits(max_yaml_alias_nodes=5))


@pytest.mark.parametrize(
    ("name", "deep"),
    [
        ("a.yaml", "[" * 150 + "]" * 150),
        ("a.yaml", "".join("  " * i + f"k{i}:\n" for i in range(150)) + "  " * 150 + "v\n"),
        ("a.json", "[" * 100_000 + "]" * 100_000),
        ("a.json", '{"a":' * 150 + "1" + "}" * 150),
        ("a.toml", "a = " + "[" * 150 + "]" * 150 + "\n"),
        ("a.toml", "a" + ".a" * 150 + " = 1\n"),
        ("a.toml", "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n"),
    ],
)
def test_nesting_over_the_limit_is_a_clear_error(name: str, deep: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(name, deep.encode())
    assert info.value.kind == "too-deep"
    assert "max_depth" in info.value.message
    if not name.endswith(".toml"):  # TOML's nesting is only known once parsed
        assert info.value.line is not None and info.value.column is not None


def test_brackets_inside_json_strings_do_not_count_as_nesting() -> None:
    text = '{"a": "' + "[" * 500 + '", "b": ["]]]"]}'
    assert parse("a.json", text.encode())["b"] == ["]]]"]


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"a.yaml": "a: 1\n"})
    with kubereload.watch(tmp_path / "a.yaml") as config:
        big = b"a: " + b"x" * (1024 * 1024) + b"\n"
        assert not wait_for_version(config, volume.set("a.yaml", big))
        assert config.error is not None and config.error.kind == "too-large"
        assert config.get() == {"a": 1}


def test_a_volume_over_its_limit_is_refused(tmp_path: Path) -> None:
    files = {f"k{i}": "x" * 1000 for i in range(20)}
    SimulatedVolume(tmp_path, files)
    with pytest.raises(ConfigError) as info:
        kubereload.watch(tmp_path, limits=Limits(max_volume_bytes=10_000))
    assert info.value.kind == "too-large" and "max_volume_bytes" in info.value.message
    with pytest.raises(ConfigError, match="max_files"):
        kubereload.watch(tmp_path, limits=Limits(max_files=10))
    assert len(kubereload.watch(tmp_path, default=None).get()) == 20


# -- first load: clear errors, no leaks ----------------------------------------------------------


def test_call_time_mistakes_are_value_errors(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n")
    for interval in (math.inf, math.nan, 0, -1.0):
        with pytest.raises(ValueError, match="poll_interval"):
            kubereload.watch(tmp_path / "a.yaml", poll=True, poll_interval=interval)
    with pytest.raises(ValueError, match="unknown format 'nope'"):
        kubereload.watch(tmp_path / "a.yaml", format="nope", default=None)
    with pytest.raises(ValueError, match="positive integer"):
        Limits(max_depth=0)


@pytest.mark.parametrize(
    ("name", "text"),
    [("a.json", "[" * 100_000), ("a.toml", "a = " + "[" * 100_000), ("a.yaml", ALIAS_BOMB)],
)
def test_a_bad_first_load_with_a_default_serves_it(name: str, text: str, tmp_path: Path) -> None:
    (tmp_path / name).write_text(text)
    fallback = Anything(data="fallback")
    with kubereload.watch(tmp_path / name, default=fallback, model=Anything) as config:
        assert config.get() == fallback
        assert config.error is not None and config.error.file == name


def test_failed_first_loads_leak_no_descriptor_or_thread(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000)
    (tmp_path / "tag.yaml").write_text(f"a: !!int {SECRET}\n")

    def attempts() -> None:
        for name in ("deep.json", "tag.yaml", "missing.yaml"):
            with pytest.raises(ConfigError):
                kubereload.watch(tmp_path / name)
        with pytest.raises(ValueError):
            kubereload.watch(tmp_path / "tag.yaml", format="nope")
        kubereload.watch(tmp_path / "deep.json", default=None).close()
        kubereload.watch(tmp_path / "tag.yaml", default=None, poll=True).close()
        with pytest.raises(ConfigError):
            kubereload.watch(tmp_path / "tag.yaml", poll=True)

    attempts()  # imports and caches settle
    fds, threads = _fds(), threading.active_count()
    for _ in range(60):  # past the default max_user_instances of 128 / 3 per call, were it leaking
        attempts()
    assert _fds() == fds
    assert threading.active_count() == threads
    (tmp_path / "ok.yaml").write_text("a: 1\n")
    with kubereload.watch(tmp_path / "ok.yaml") as config:
        assert config.mode == "inotify"


# -- nothing outside the volume ------------------------------------------------------------------


def test_a_key_linking_out_of_a_plain_directory_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.yaml").write_text("a: 1\n")
    (tmp_path / "conf" / "inside").symlink_to("a.yaml")
    (tmp_path / "conf" / "shadow").symlink_to(outside)
    with pytest.raises(ConfigError) as info:
        kubereload.watch(tmp_path / "conf")
    assert info.value.kind == "outside-volume"
    assert "shadow" in str(info.value) and SECRET not in str(info.value)
    with pytest.raises(ConfigError, match="outside"):
        kubereload.watch(tmp_path / "conf" / "shadow")
    (tmp_path / "conf" / "shadow").unlink()
    with kubereload.watch(tmp_path / "conf") as config:
        assert config.get() == {"a.yaml": {"a": 1}, "inside": "a: 1\n"}


def _publish_with_link(volume: Path, key: str, target: Path, others: dict[str, str]) -> None:
    """A version as a hostile writer might publish it: one key a symbolic link, then the swap."""
    version = volume / "..2030_01_01_00_00_00.1"
    version.mkdir()
    for name, text in others.items():
        (version / name).write_text(text)
    (version / key).symlink_to(target)
    (volume / "..data_tmp").symlink_to(version.name)
    os.rename(volume / "..data_tmp", volume / DATA_DIR_NAME)


def test_a_link_inside_a_kubelet_volume_is_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text(SECRET)
    volume = SimulatedVolume(tmp_path / "vol", {"a.yaml": "a: 1\n", "b": "x"})
    with kubereload.watch(volume.path) as config, kubereload.watch(volume.path / "b") as one:
        _publish_with_link(volume.path, "b", outside, {"a.yaml": "a: 2\n"})
        for watched in (config, one):
            assert watched.wait_until(lambda c: c.error is not None, 10)
            assert watched.error is not None and watched.error.kind == "outside-volume"
            assert "b" in str(watched.error) and SECRET not in str(watched.error)
        assert config.get() == {"a.yaml": {"a": 1}, "b": "x"}
        assert one.get() == "x"


def test_a_kubelet_data_target_outside_the_volume_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a").write_text(SECRET)
    (tmp_path / "vol").mkdir()
    (tmp_path / "vol" / DATA_DIR_NAME).symlink_to(tmp_path / "elsewhere")
    (tmp_path / "vol" / "a").symlink_to(f"{DATA_DIR_NAME}/a")
    for path in (tmp_path / "vol", tmp_path / "vol" / "a"):
        with pytest.raises(ConfigError) as info:
            kubereload.watch(path)
        assert info.value.kind == "outside-volume"


def test_a_fifo_as_a_key_is_refused_without_blocking(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("a: 1\n")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(ConfigError) as info:
        kubereload.watch(tmp_path)
    assert info.value.kind == "not-a-file" and "pipe" in str(info.value)


def test_a_file_watch_whose_key_becomes_a_directory_keeps_the_last_good(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"app.yaml": "a: 1\n"})
    with kubereload.watch(tmp_path / "app.yaml") as config:
        volume.update({"app.yaml/inner.yaml": "a: 2\n"})
        assert config.wait_until(lambda c: c.error is not None, 5)
        assert config.error is not None and config.error.kind == "not-a-file"
        assert config.get() == {"a": 1}
        assert wait_for_version(config, volume.update({"app.yaml": "a: 3\n"}))
        assert config.get() == {"a": 3}


def test_nested_directories_of_a_kubelet_volume_are_read(tmp_path: Path) -> None:
    SimulatedVolume(tmp_path, {"a.yaml": "a: 1\n", "dir/b.yaml": "b: 2\n"})
    with kubereload.watch(tmp_path) as config:
        assert config.get() == {"a.yaml": {"a": 1}, "dir/b.yaml": {"b": 2}}


# -- callbacks -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt(), ValueError(SECRET)])
def test_a_callback_that_raises_anything_is_logged_and_the_watch_goes_on(
    tmp_path: Path, raised: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    volume = SimulatedVolume(tmp_path, {"a.yaml": "a: 1\n"})
    with kubereload.watch(tmp_path / "a.yaml") as config:

        @config.on_change
        def explode(old: Any, new: Any) -> None:
            raise raised

        assert wait_for_version(config, volume.set("a.yaml", "a: 2\n"))
        assert wait_for_version(config, volume.set("a.yaml", "a: 3\n"))
        assert config.get() == {"a": 3}
    assert f"explode raised {type(raised).__name__}" in caplog.text
    assert SECRET not in caplog.text


def test_a_file_name_cannot_forge_a_log_line(tmp_path: Path) -> None:
    (tmp_path / "a.yaml\nERROR all is lost.yaml").write_text("a: [\n")
    os.mkfifo(tmp_path / "b\rpipe")
    for limits in (Limits(), Limits(max_files=1)):
        with pytest.raises(ConfigError) as info:
            kubereload.watch(tmp_path, limits=limits)
        assert "\n" not in str(info.value) and "\r" not in str(info.value)
    os.unlink(tmp_path / "b\rpipe")
    with pytest.raises(ConfigError) as info:
        kubereload.watch(tmp_path)
    assert str(info.value).startswith("a.yaml\\nERROR all is lost.yaml:")


# -- any bytes: a value or a ConfigError, nothing else -------------------------------------------

FRAGMENTS = st.sampled_from(
    ["a: ", "- ", "[", "]", "{", "}", '"', "'", "&x ", "*x", "!!int ", "!t ", "<<: ", "\n",
     "  ", "\t", "=", "[s]\n", "\\u", "#", ",", ":", "1" * 30, "é", "\x00", "\\", "---\n"]
)  # fmt: skip
DOCUMENTS = st.one_of(
    st.binary(max_size=300),
    st.lists(FRAGMENTS, max_size=60).map(lambda parts: "".join(parts).encode()),
)


@settings(max_examples=300, deadline=None)
@given(data=DOCUMENTS, fmt=st.sampled_from(sorted(kubereload.config.FORMATS)))
def test_any_bytes_parse_to_a_value_or_a_config_error(data: bytes, fmt: str) -> None:
    try:
        parse("k", data, fmt)
    except ConfigError as exc:
        assert exc.__context__ is None and exc.file == "k"
