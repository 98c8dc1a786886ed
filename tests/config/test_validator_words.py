"""A validator that raises ConfigError with a field path gets the line and column found for it,
as pydantic errors do: the app's own words, placed in the file, for one file or a volume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import kubereload
from kubereload.config import ConfigError
from kubereload.testing import SimulatedVolume


def needs_port(data: Any) -> Any:
    app = data.get("app.yaml", data)
    if not isinstance(app["server"]["port"], int):
        path = ("server", "port") if data is app else ("app.yaml", "server", "port")
        raise ConfigError("must be a port number", kind="validation", path=path)
    return data


BAD = "name: web\nserver:\n  host: a\n  port: eighty\n"


def test_one_file(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(BAD)
    with pytest.raises(ConfigError) as caught:
        kubereload.watch(tmp_path / "app.yaml", model=needs_port)
    error = caught.value
    assert (error.file, error.line, error.column) == ("app.yaml", 4, 9)
    assert str(error) == "app.yaml:4:9: server.port: must be a port number"


def test_a_volume(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path / "v", {"app.yaml": BAD, "other.txt": "x"})
    config = kubereload.watch(volume.path, model=needs_port, default=None)
    try:
        error = config.error
        assert error is not None
        assert (error.file, error.line, error.column) == ("app.yaml", 4, 9)
        assert error.path == ("server", "port")
    finally:
        config.close()


def test_an_error_already_placed_is_kept(tmp_path: Path) -> None:
    def placed(data: Any) -> Any:
        raise ConfigError("no", kind="validation", file="app.yaml", line=1, column=1)

    (tmp_path / "app.yaml").write_text(BAD)
    with pytest.raises(ConfigError) as caught:
        kubereload.watch(tmp_path / "app.yaml", model=placed)
    assert (caught.value.line, caught.value.column) == (1, 1)
