"""Change detection with real inotify and real files, updates written as the kubelet writes them."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import kubereload
from kubereload.config import FileSource
from kubereload.testing import SimulatedVolume, wait_for_version
from kubereload.volume import AtomicWriter
from kubereload.watch import detector as detector_module
from kubereload.watch.inotify import InotifyUnavailable
from support.changes import Changes


def test_every_paced_update_arrives_exactly_once_in_order(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"app.yaml": "n: 0\n"})
    with kubereload.watch(tmp_path / "app.yaml") as config:
        seen = Changes()
        config.on_change(seen)
        for n in range(1, 1001):
            volume.set("app.yaml", f"n: {n}\n")
            assert seen.wait_for(lambda v, n=n: len(v) >= n), f"update {n} never arrived"
        assert [v["n"] for v in seen.values] == list(range(1, 1001))
        assert config.version == volume.version


def test_rapid_updates_arrive_in_order_without_duplicates_and_end_on_the_last(
    tmp_path: Path,
) -> None:
    writer = AtomicWriter(tmp_path)
    writer.write({"app.yaml": "n: 0\n", "other.txt": "x"})
    with kubereload.watch(tmp_path) as config:
        seen = Changes()
        config.on_change(seen)
        for n in range(1, 1001):
            writer.write({"app.yaml": f"n: {n}\n", "other.txt": "x"})
        assert seen.wait_for(lambda v: v and v[-1]["app.yaml"]["n"] == 1000)
        numbers = [v["app.yaml"]["n"] for v in seen.values]
        assert numbers == sorted(set(numbers)), "out of order or duplicated"
        # superseded versions may be skipped (their directory is gone), never delivered torn
        assert all(v["other.txt"] == "x" for v in seen.values)


def test_touch_and_equal_reprojection_do_not_count(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"app.yaml": "a: 1\n"})
    with kubereload.watch(tmp_path / "app.yaml") as config:
        seen = Changes()
        config.on_change(seen)
        os.utime(tmp_path / "app.yaml")
        # An equal payload re-projected into a new version directory and swapped in.
        old = os.readlink(tmp_path / "..data")
        shutil.copytree(tmp_path / old, tmp_path / "..2026_01_01_00_00_00.1")
        os.symlink("..2026_01_01_00_00_00.1", tmp_path / "..data_tmp")
        os.rename(tmp_path / "..data_tmp", tmp_path / "..data")
        volume.set("app.yaml", "a: 2\n")  # a real change, as the marker that all before is seen
        assert seen.wait_for(lambda v: len(v) > 0)
        assert seen.values == [{"a": 2}]


def test_plain_file_writes_and_rename_over_are_seen(tmp_path: Path) -> None:
    path = tmp_path / "app.json"
    path.write_text('{"v": 1}')
    with kubereload.watch(path) as config:
        seen = Changes()
        config.on_change(seen)
        path.write_text('{"v": 2}')  # close after write
        assert seen.wait_for(lambda v: v and v[-1] == {"v": 2})
        tmp = tmp_path / ".app.json.tmp"
        tmp.write_text('{"v": 3}')
        os.rename(tmp, path)  # an editor's or mv's rename-over
        assert seen.wait_for(lambda v: v and v[-1] == {"v": 3})
        assert config.version is not None and config.version.startswith("sha256:")


def test_plain_directory_files_created_and_deleted(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A")
    with kubereload.watch(tmp_path) as config:
        seen = Changes()
        config.on_change(seen)
        (tmp_path / "b.txt").write_text("B")
        assert seen.wait_for(lambda v: v and v[-1] == {"a.txt": "A", "b.txt": "B"})
        (tmp_path / "a.txt").unlink()
        assert seen.wait_for(lambda v: v and v[-1] == {"b.txt": "B"})
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "c.txt").write_text("C")
        assert seen.wait_for(lambda v: v and v[-1] == {"b.txt": "B", "sub/c.txt": "C"})


def test_directory_deleted_and_recreated_is_rearmed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vol = tmp_path / "deep" / "vol"
    AtomicWriter(vol).write({"app.yaml": "v: 1\n"})
    with kubereload.watch(vol / "app.yaml") as config:
        shutil.rmtree(tmp_path / "deep")
        assert config.wait_until(lambda c: c.error is not None)
        assert config.get() == {"v": 1}  # the last good config stays
        version = AtomicWriter(vol).write({"app.yaml": "v: 2\n"})
        assert wait_for_version(config, version)
        assert config.get() == {"v": 2}
        assert config.error is None
        assert config.mode == "inotify"


def test_forced_polling_detects_changes(tmp_path: Path) -> None:
    volume = SimulatedVolume(tmp_path, {"app.yaml": "v: 1\n"})
    with kubereload.watch(tmp_path / "app.yaml", poll=True, poll_interval=0.02) as config:
        assert config.mode == "poll"
        version = volume.set("app.yaml", "v: 2\n")
        assert wait_for_version(config, version)
        assert config.get() == {"v": 2}


def test_falls_back_to_polling_with_one_warning_when_inotify_is_unavailable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_inotify() -> None:
        raise InotifyUnavailable(28, "inotify_add_watch: No space left on device")

    monkeypatch.setattr(detector_module, "Inotify", no_inotify)
    volume = SimulatedVolume(tmp_path, {"app.yaml": "v: 1\n"})
    with caplog.at_level(logging.WARNING, logger="kubereload"):
        config = kubereload.watch(tmp_path / "app.yaml", poll_interval=0.02)
    with config:
        assert config.mode == "poll"
        version = volume.set("app.yaml", "v: 2\n")
        assert wait_for_version(config, version)
    warnings = [r for r in caplog.records if "polling" in r.getMessage()]
    assert len(warnings) == 1
    assert "No space left" in warnings[0].getMessage()


def test_network_file_systems_are_recognised_for_polling(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n"
        "40 22 0:50 / /mnt/nfs\\040share rw - nfs4 server:/export rw,vers=4.2\n"
    )
    from kubereload.volume.layout import filesystem_type, is_remote

    assert filesystem_type(Path("/mnt/nfs share/config"), mountinfo) == "nfs4"
    assert is_remote(Path("/mnt/nfs share/config"), mountinfo)
    assert not is_remote(Path("/etc"), mountinfo)


def _can_bind_mount(tmp_path: Path) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    src, dst = tmp_path / "probe-src", tmp_path / "probe-dst"
    src.write_text("x")
    dst.write_text("")
    command = ["mount", "--bind", str(src), str(dst)]
    probe = subprocess.run(command, capture_output=True, check=False)
    ok = probe.returncode == 0
    if ok:
        subprocess.run(["umount", str(dst)], check=True)
    return ok


def test_subpath_mount_is_detected_and_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not _can_bind_mount(tmp_path):
        pytest.skip("needs root and bind mounts to make a real subPath-style mount")
    volume = SimulatedVolume(tmp_path / "vol", {"app.yaml": "v: 1\n"})
    target = tmp_path / "pod" / "app.yaml"
    target.parent.mkdir()
    target.write_text("")
    # What the kubelet does for subPath: bind-mount the one file from the volume.
    source = tmp_path / "vol" / os.readlink(volume.path / "..data") / "app.yaml"
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
    try:
        with caplog.at_level(logging.WARNING, logger="kubereload"):
            config = kubereload.watch(target)
            config.close()
            kubereload.watch(target).close()
        assert config.get() == {"v": 1}
        warnings = [r.getMessage() for r in caplog.records if "subPath" in r.getMessage()]
        assert len(warnings) == 1
        assert "never updates it in place" in warnings[0]
    finally:
        subprocess.run(["umount", str(target)], check=True)


def test_an_idle_watch_has_no_timer_wakeups(tmp_path: Path) -> None:
    """The watcher thread blocks in poll() with no timeout: an idle watch costs nothing."""
    SimulatedVolume(tmp_path, {"app.yaml": "v: 1\n"})
    with kubereload.watch(tmp_path / "app.yaml") as config:
        assert isinstance(config.source, FileSource)
        detector = config.source._detector
        assert detector.mode == "inotify"
        thread = detector._thread
        assert thread is not None
        native = thread.native_id
        status = Path(f"/proc/self/task/{native}/status")
        wchan = Path(f"/proc/self/task/{native}/wchan")

        def switches() -> int:
            fields = dict(
                line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
            )
            return int(fields["voluntary_ctxt_switches"]) + int(
                fields["nonvoluntary_ctxt_switches"]
            )

        deadline = time.monotonic() + 5
        while "poll" not in wchan.read_text():  # the thread's start-up read is still running
            assert time.monotonic() < deadline, f"watcher not blocked: {wchan.read_text()!r}"
            time.sleep(0.001)
        before = switches()
        # Wait on a real event that takes a while, not a sleep: a subprocess that idles 0.5 s.
        subprocess.run(["python3", "-c", "import time; time.sleep(0.5)"], check=True)
        assert switches() == before
