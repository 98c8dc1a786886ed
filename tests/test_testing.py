"""kubereload.testing is public API: users drive their own tests with it."""

from __future__ import annotations

import os
from pathlib import Path

import kubereload
from kubereload.testing import SimulatedVolume, wait_for_version


def test_simulated_volume_lifecycle() -> None:
    with SimulatedVolume(files={"a.yaml": "a: 1\n", "b": "x"}) as volume:
        path = volume.path
        assert os.readlink(path / "..data") == volume.version
        assert volume.files() == {"a.yaml": b"a: 1\n", "b": b"x"}
        assert volume.update({"a.yaml": "a: 1\n", "b": "x"}) is None  # equal: nothing written
        assert volume.remove("b") is not None
        assert not (path / "b").exists()
        assert volume.files() == {"a.yaml": b"a: 1\n"}
    assert not path.exists()  # a volume it made itself is removed


def test_a_given_path_is_kept(tmp_path: Path) -> None:
    with SimulatedVolume(tmp_path / "v", {"a": "1"}):
        pass
    assert (tmp_path / "v" / "a").read_text() == "1"


def test_wait_for_version_reports_taken_and_rejected(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"a.json": "{}"})
    with kubereload.watch(tmp_path / "a.json") as config:
        assert wait_for_version(config, volume.set("a.json", '{"x": 1}'))
        assert not wait_for_version(config, volume.set("a.json", "{"), timeout=5)
        assert config.error is not None
