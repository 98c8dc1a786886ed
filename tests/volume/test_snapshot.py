"""Reading one consistent version: never keys from two versions, whatever the writer is doing."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kubereload.volume import AtomicWriter, Layout, read_snapshot
from kubereload.volume.layout import detect_layout


def test_layouts_are_recognised(tmp_path: Path) -> None:
    AtomicWriter(tmp_path / "vol").write({"app.yaml": "a: 1"})
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "f.txt").write_text("x")
    assert detect_layout(tmp_path / "vol") is Layout.KUBELET
    assert detect_layout(tmp_path / "vol" / "app.yaml") is Layout.KUBELET
    assert detect_layout(tmp_path / "plain") is Layout.DIRECTORY
    assert detect_layout(tmp_path / "plain" / "f.txt") is Layout.FILE


def test_kubelet_snapshot_version_is_the_timestamped_dir(tmp_path: Path) -> None:
    version = AtomicWriter(tmp_path).write({"a": "1", "n/b": "2"})
    snap = read_snapshot(tmp_path)
    assert snap.version == version
    assert dict(snap.files) == {"a": b"1", "n/b": b"2"}
    one = read_snapshot(tmp_path / "a")
    assert one.version == version and dict(one.files) == {"a": b"1"}


def test_plain_directory_version_is_a_content_hash_and_skips_editor_leftovers(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yaml").write_text("x: 1")
    (tmp_path / ".a.yaml.swp").write_text("junk")
    (tmp_path / "a.yaml~").write_text("old")
    first = read_snapshot(tmp_path)
    assert dict(first.files) == {"a.yaml": b"x: 1"}
    assert first.version.startswith("sha256:")
    (tmp_path / "a.yaml").write_text("x: 2")
    assert read_snapshot(tmp_path).version != first.version


def _payload(n: int, keys: int) -> dict[str, str]:
    return {f"key{k}": f"{n}" for k in range(keys)}


@settings(max_examples=15, deadline=None)
@given(keys=st.integers(min_value=2, max_value=12), updates=st.integers(min_value=20, max_value=80))
def test_a_concurrent_reader_never_sees_a_torn_snapshot(keys: int, updates: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _write_while_reading(Path(tmp), keys, updates)


def _write_while_reading(root: Path, keys: int, updates: int) -> None:
    writer = AtomicWriter(root)
    writer.write(_payload(0, keys))
    done = threading.Event()
    torn: list[dict[str, bytes]] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not done.is_set():
            files = dict(read_snapshot(root).files)
            reads += 1
            if len(files) != keys or len(set(files.values())) != 1:
                torn.append(files)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for n in range(1, updates + 1):
            writer.write(_payload(n, keys))
    finally:
        done.set()
        thread.join()
    assert reads > 0
    assert torn == []
