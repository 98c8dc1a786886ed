"""SyncWriter: directories per object, deletion, and writes retried after a disk error."""

from __future__ import annotations

from pathlib import Path

from kubereload.kube.data import DataKind
from kubereload.sync.objects import ObjectFiles
from kubereload.sync.writer import SyncWriter, WriterOptions
from kubereload.volume import read_snapshot


def test_a_failed_write_keeps_the_data_and_is_retried(tmp_path: Path) -> None:
    changes: list[str] = []
    writer = SyncWriter(WriterOptions(root=tmp_path, per_object=True), changes.append)
    (tmp_path / "default_app").write_text("in the way")  # a file where the directory goes
    obj = ObjectFiles({"k": b"v"})
    assert writer.write(DataKind.CONFIGMAP, ("default", "app"), obj) is False
    assert (DataKind.CONFIGMAP, ("default", "app")) in writer.failed
    assert obj.files == {"k": b"v"}  # kept for the retry
    writer.retry_failed()
    assert (DataKind.CONFIGMAP, ("default", "app")) in writer.failed
    (tmp_path / "default_app").unlink()
    writer.retry_failed()
    assert writer.failed == {}
    assert read_snapshot(tmp_path / "default_app").files == {"k": b"v"}
    assert obj.files == {}  # on disk now: only the digest is kept
    assert changes == ["configmap default/app"]


def test_equal_content_writes_nothing_and_reports_nothing(tmp_path: Path) -> None:
    changes: list[str] = []
    writer = SyncWriter(WriterOptions(root=tmp_path, per_object=False), changes.append)
    assert writer.write(DataKind.CONFIGMAP, ("ns", "a"), ObjectFiles({"k": b"1"})) is True
    assert writer.write(DataKind.CONFIGMAP, ("ns", "a"), ObjectFiles({"k": b"1"})) is False
    assert changes == ["configmap ns/a"]
    assert ObjectFiles({"k": b"1"}) == ObjectFiles({"k": b"1"}) != ObjectFiles({"k": b"2"})
    assert "hunter2" not in repr(ObjectFiles({"secret-key": b"hunter2"}))


def test_remove_on_delete_swaps_to_empty_then_removes_the_directory(tmp_path: Path) -> None:
    changes: list[str] = []
    writer = SyncWriter(
        WriterOptions(root=tmp_path, per_object=True, on_delete="remove"), changes.append
    )
    writer.write(DataKind.CONFIGMAP, ("ns", "a"), ObjectFiles({"k": b"1"}))
    writer.write(DataKind.CONFIGMAP, ("ns", "b"), ObjectFiles({"k": b"1"}))
    writer.delete(DataKind.CONFIGMAP, ("ns", "a"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ns_b"]
    single = SyncWriter(
        WriterOptions(root=tmp_path / "one", per_object=False, on_delete="remove"), changes.append
    )
    single.write(DataKind.CONFIGMAP, ("ns", "a"), ObjectFiles({"k": b"1"}))
    single.delete(DataKind.CONFIGMAP, ("ns", "a"))
    assert read_snapshot(tmp_path / "one").files == {}
    assert not (tmp_path / "one" / "k").exists()
