"""The live config: bad updates are rejected whole, the last good value stays, it recovers."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field

import kubereload
from kubereload import ConfigError, changed_keys
from kubereload.testing import SimulatedVolume, wait_for_version


class Server(BaseModel):
    host: str = "0.0.0.0"
    port: int = Field(ge=1, le=65535)


class Settings(BaseModel):
    server: Server
    debug: bool = False


@pytest.mark.parametrize(
    ("name", "good", "bad", "fixed"),
    [
        ("app.yaml", "a: 1\n", "a: [1\n", "a: 2\n"),
        ("app.json", '{"a": 1}', '{"a": ', '{"a": 2}'),
        ("app.toml", "a = 1\n", "a = \n", "a = 2\n"),
    ],
)
def test_bad_update_keeps_old_value_sets_error_then_recovers(  # noqa: PLR0917
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, good: str, bad: str, fixed: str
) -> None:
    volume = SimulatedVolume(tmp_path, {name: good})
    with kubereload.watch(tmp_path / name) as config:
        good_version = config.version
        with caplog.at_level(logging.ERROR, logger="kubereload"):
            bad_version = volume.set(name, bad)
            assert not wait_for_version(config, bad_version)
        assert config.get() == {"a": 1}
        assert config.version == good_version
        assert config.error is not None
        assert config.error.file == name and config.error.line is not None
        assert config.error.version == bad_version
        assert any(name in r.getMessage() and "rejected" in r.getMessage() for r in caplog.records)
        assert wait_for_version(config, volume.set(name, fixed))
        assert config.get() == {"a": 2}
        assert config.error is None


def test_schema_invalid_update_is_rejected_with_the_line_of_the_field(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"app.yaml": "server:\n  port: 8080\n"})
    with kubereload.watch(tmp_path / "app.yaml", model=Settings) as config:
        assert config.get() == Settings(server=Server(port=8080))
        version = volume.set("app.yaml", "debug: true\nserver:\n  port: 99999\n")
        assert not wait_for_version(config, version)
        assert config.get().server.port == 8080
        error = config.error
        assert error is not None
        assert (error.file, error.line, error.column) == ("app.yaml", 3, 9)
        assert str(error) == "app.yaml:3:9: server.port: must be at most 65535"
        assert (error.kind, error.path) == ("validation", ("server", "port"))
        assert "99999" not in str(error)


def test_directory_with_model_and_aliases(tmp_path: Path) -> None:
    class Volume(BaseModel):
        app: Settings = Field(alias="app.yaml")
        level: str = Field(alias="LOG_LEVEL")

    volume = SimulatedVolume(tmp_path, {"app.yaml": "server: {port: 1}\n", "LOG_LEVEL": "info"})
    with kubereload.watch(tmp_path, model=Volume) as config:
        assert config.get().level == "info"
        version = volume.set("app.yaml", "server: {port: 0}\n")
        assert not wait_for_version(config, version)
        assert config.error is not None and config.error.file == "app.yaml"
        assert str(config.error) == "app.yaml:1:16: server.port: must be at least 1"
        fixed = volume.update({"app.yaml": "server: {port: 2}\n", "LOG_LEVEL": "debug"})
        assert wait_for_version(config, fixed)
        assert config.get().level == "debug"


def test_any_callable_validates(tmp_path: Path) -> None:
    def positive(data: Any) -> int:
        if data["n"] <= 0:
            raise ValueError("n must be positive")
        return int(data["n"])

    volume = SimulatedVolume(tmp_path, {"a.yaml": "n: 1\n"})
    with kubereload.watch(tmp_path / "a.yaml", model=positive) as config:
        assert config.get() == 1
        assert not wait_for_version(config, volume.set("a.yaml", "n: -1\n"))
        assert config.error is not None
        # The validator's own text is not shown: it may quote the value it was given.
        assert str(config.error) == "a.yaml: rejected by positive (ValueError)"
        assert config.get() == 1


def test_first_load_failure_raises_unless_a_default_is_given(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        kubereload.watch(tmp_path / "missing.yaml")
    SimulatedVolume(tmp_path / "v", {"a.yaml": "a: [\n"})
    with pytest.raises(ConfigError) as info:
        kubereload.watch(tmp_path / "v" / "a.yaml")
    assert info.value.file == "a.yaml"

    with kubereload.watch(tmp_path / "v" / "a.yaml", default={"a": 0}) as config:
        assert config.get() == {"a": 0}
        assert config.error is not None and config.version is None


def test_a_file_that_appears_later_replaces_the_default(tmp_path: Path) -> None:
    volume_dir = tmp_path / "later"
    with kubereload.watch(volume_dir / "a.yaml", default={}) as config:
        version = SimulatedVolume(volume_dir, {"a.yaml": "a: 1\n"}).version
        assert wait_for_version(config, version)
        assert config.get() == {"a": 1}


def test_callback_exception_is_logged_and_the_watch_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    volume = SimulatedVolume(tmp_path, {"a.yaml": "a: 1\n"})
    with kubereload.watch(tmp_path / "a.yaml") as config:
        calls: list[tuple[Any, Any]] = []

        @config.on_change
        def explode(old: Any, new: Any) -> None:
            raise RuntimeError("callback bug")

        config.on_change(lambda old, new: calls.append((old, new)))
        with caplog.at_level(logging.ERROR, logger="kubereload"):
            assert wait_for_version(config, volume.set("a.yaml", "a: 2\n"))
            assert wait_for_version(config, volume.set("a.yaml", "a: 3\n"))
        assert calls == [({"a": 1}, {"a": 2}), ({"a": 2}, {"a": 3})]
        assert sum("callback" in r.getMessage() for r in caplog.records) == 2


def test_async_changes_yield_each_new_value_and_end_on_close(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"a.yaml": "a: 0\n"})
    config = kubereload.watch(tmp_path / "a.yaml")

    async def consume() -> list[Any]:
        got: list[Any] = []
        ready = asyncio.Event()

        async def reader() -> None:
            iterator = config.changes()
            first = asyncio.ensure_future(iterator.__anext__())
            await asyncio.sleep(0)  # let the subscription register
            ready.set()
            got.append(await first)
            async for value in iterator:
                got.append(value)

        def change(n: int) -> None:
            wait_for_version(config, volume.set("a.yaml", f"a: {n}\n"))

        task = asyncio.create_task(reader())
        await ready.wait()
        for n in (1, 2, 3):
            await asyncio.to_thread(change, n)
        await asyncio.to_thread(config.close)
        await asyncio.wait_for(task, 5)
        return got

    assert asyncio.run(consume()) == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_get_is_consistent_under_concurrent_readers(tmp_path: Path) -> None:
    """Readers in many threads only ever see whole documents (both keys from one version)."""
    volume = SimulatedVolume(tmp_path, {"a.yaml": "x: 0\ny: 0\n"})
    # Busy readers hold the GIL for the whole switch interval; keep it short so the watcher
    # thread gets its turns quickly and the test stays fast.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)
    with kubereload.watch(tmp_path / "a.yaml") as config:
        stop = threading.Event()
        bad: list[Any] = []

        def reader() -> None:
            while not stop.is_set():
                value = config.get()
                if value["x"] != value["y"]:
                    bad.append(value)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for n in range(1, 100):
                assert wait_for_version(config, volume.set("a.yaml", f"x: {n}\ny: {n}\n"))
        finally:
            stop.set()
            for t in threads:
                t.join()
            sys.setswitchinterval(interval)
        assert bad == []


def test_ten_megabyte_file(tmp_path: Path) -> None:
    big = "".join(f"key{i}: {'v' * 90}\n" for i in range(100_000)).encode()
    assert len(big) > 10_000_000
    volume = SimulatedVolume(tmp_path, {"big.yaml": big})
    roomy = kubereload.Limits(max_file_bytes=16 * 1024 * 1024, max_volume_bytes=32 * 1024 * 1024)
    with kubereload.watch(tmp_path / "big.yaml", limits=roomy) as config:
        assert len(config.get()) == 100_000
        assert wait_for_version(config, volume.set("big.yaml", big + b"last: 1\n"), timeout=30)
        assert config.get()["last"] == 1


def test_non_utf8_content(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"a.yaml": "a: 1\n", "keystore.jks": b"\xfe\xed\xfe\xed"})
    with kubereload.watch(tmp_path) as config:
        assert config.get()["keystore.jks"] == b"\xfe\xed\xfe\xed"
        assert not wait_for_version(config, volume.set("a.yaml", b"a: \xff\n"))
        assert config.error is not None
        assert (config.error.file, config.error.line, config.error.column) == ("a.yaml", 1, 4)
        assert "UTF-8" in config.error.message


def test_changed_keys() -> None:
    assert changed_keys({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}) == {"b", "c"}
    assert changed_keys(None, {"a": 1}) == {"a"}
    old = Settings(server=Server(port=1))
    assert changed_keys(old, old.model_copy(update={"debug": True})) == {"debug"}

    @dataclass
    class D:
        x: int
        y: int

    assert changed_keys(D(1, 2), D(1, 3)) == {"y"}
    with pytest.raises(TypeError, match="compares mappings"):
        changed_keys("a", "b")


def test_a_directory_that_appears_later_is_read_as_a_directory(tmp_path: Path) -> None:
    with kubereload.watch(tmp_path / "vol", default={}) as config:
        version = SimulatedVolume(tmp_path / "vol", {"a.yaml": "a: 1\n", "B": "b"}).version
        assert wait_for_version(config, version)
        assert config.get() == {"a.yaml": {"a": 1}, "B": "b"}
