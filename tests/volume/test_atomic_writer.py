"""The AtomicWriter must lay out a volume exactly as the kubelet does, step for step."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from kubereload.volume import AtomicWriter, FileProjection, UnsafePathError

TS_DIR = re.compile(r"^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$")


def entries(root: Path) -> set[str]:
    return set(os.listdir(root))


def test_first_write_creates_timestamped_dir_data_link_and_user_visible_links(
    tmp_path: Path,
) -> None:
    writer = AtomicWriter(tmp_path)
    version = writer.write({"app.yaml": "a: 1\n", "conf/nested.txt": b"n"})
    assert version is not None and TS_DIR.match(version)
    assert os.readlink(tmp_path / "..data") == version
    assert os.readlink(tmp_path / "app.yaml") == "..data/app.yaml"
    assert os.readlink(tmp_path / "conf") == "..data/conf"  # a nested path links its top folder
    assert (tmp_path / "conf" / "nested.txt").read_bytes() == b"n"
    assert entries(tmp_path) == {version, "..data", "app.yaml", "conf"}
    assert not (tmp_path / "..data_tmp").exists()


def test_update_swaps_data_and_removes_the_old_version_dir(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    first = writer.write({"a": "1", "b": "2"})
    second = writer.write({"a": "1", "c": "3"})
    assert second is not None and second != first
    assert entries(tmp_path) == {second, "..data", "a", "c"}  # b's link gone, old dir gone
    assert (tmp_path / "c").read_text() == "3"
    assert writer.read_payload() == {"a": b"1", "c": b"3"}


def test_equal_payload_writes_nothing(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    first = writer.write({"a": "1"})
    before = entries(tmp_path)
    assert writer.write({"a": "1"}) is None
    assert entries(tmp_path) == before
    assert writer.current_version() == first


def test_equal_payload_with_missing_user_link_restores_it(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({"a": "1"})
    (tmp_path / "a").unlink()
    writer.write({"a": "1"})
    assert (tmp_path / "a").read_text() == "1"


def test_removing_a_nested_key_keeps_its_sibling(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({"d/x": "1", "d/y": "2"})
    writer.write({"d/x": "1"})
    assert sorted(os.listdir(tmp_path / "d")) == ["x"]


def test_file_modes_are_applied_regardless_of_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        AtomicWriter(tmp_path).write({"secret": FileProjection(b"s", mode=0o440)})
    finally:
        os.umask(old)
    version_dir = tmp_path / os.readlink(tmp_path / "..data")
    assert (version_dir / "secret").stat().st_mode & 0o777 == 0o440
    assert version_dir.stat().st_mode & 0o777 == 0o755


@pytest.mark.parametrize(
    "path",
    ["/etc/passwd", "../escape", "a/../../b", "..hidden", "a/..", "", "x" * 256, "a/" * 2049 + "b"],
)
def test_unsafe_paths_are_refused_before_anything_is_written(tmp_path: Path, path: str) -> None:
    writer = AtomicWriter(tmp_path / "vol")
    with pytest.raises(UnsafePathError):
        writer.write({"good": "1", path: "evil"})
    assert not (tmp_path / "vol" / "..data").exists()
    assert not (tmp_path / "escape").exists()


def test_paths_the_kubelet_allows_are_allowed(tmp_path: Path) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({".env": "A=1", "a..b": "2", "./c": "3"})
    assert writer.read_payload() == {".env": b"A=1", "a..b": b"2", "c": b"3"}
