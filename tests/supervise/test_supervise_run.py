"""``kubereload run`` as a real process: exit codes, signal forwarding, reaping, reload, restart."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from cli.krproc import kubereload, wait_until
from kubereload.volume import AtomicWriter

PY = sys.executable

# A child that reloads its config on SIGHUP and reports every signal it gets.
APP = """
import os, signal, sys, threading
config = sys.argv[1] if len(sys.argv) > 1 else None
def load():
    text = open(config).read().strip() if config else "-"
    print(f"pid {os.getpid()} loaded {text}", flush=True)
def on_signal(signum, frame):
    name = signal.Signals(signum).name
    print(f"got {name}", flush=True)
    if signum == signal.SIGHUP:
        load()
    if signum == signal.SIGTERM:
        sys.exit(int(os.environ.get("EXIT_ON_TERM", "0")))
for s in (signal.SIGHUP, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT):
    signal.signal(s, on_signal)
load()
while True:
    signal.pause()
"""


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text(APP)
    return path


def test_exit_code_is_the_childs(tmp_path: Path) -> None:
    assert kubereload("run", "--", PY, "-c", "raise SystemExit(7)").wait() == 7
    killed = kubereload("run", "--", PY, "-c", "import os, signal; os.kill(os.getpid(), 9)")
    assert killed.wait() == 128 + 9
    missing = kubereload("run", "--", "/nonexistent/program")
    assert missing.wait() == 127
    assert "cannot start /nonexistent/program" in missing.output()


def test_signals_are_forwarded(app: Path) -> None:
    proc = kubereload("run", "--", PY, str(app), env={"EXIT_ON_TERM": "3"})
    try:
        proc.wait_for(r"loaded -")
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGQUIT):
            proc.signal(sig)
            proc.wait_for(f"got {sig.name}")
        proc.signal(signal.SIGTERM)
        proc.wait_for("got SIGTERM")
        assert proc.wait() == 3
    finally:
        proc.stop()


def test_orphaned_grandchildren_are_reaped(tmp_path: Path) -> None:
    # The child starts a grandchild through a parent that exits at once: an orphan, adopted by
    # kubereload (PID 1 in a container; a subreaper here), which must reap it when it exits.
    script = tmp_path / "spawner.py"
    script.write_text(
        "import os, signal\n"
        "r, w = os.pipe()\n"
        "signal.signal(signal.SIGUSR1, lambda *a: os.write(w, b'x'))\n"
        "if os.fork() == 0:\n"
        "    if os.fork() == 0:\n"
        "        os.close(w)\n"
        "        os.read(r, 1)\n"  # the orphan waits for its cue, then exits
        "        os._exit(0)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "print('orphan ready', flush=True)\n"
        "while True:\n"
        "    signal.pause()\n"
    )
    proc = kubereload("run", "--", PY, str(script))
    try:
        proc.wait_for("orphan ready")
        kids = _children(proc.pid)
        assert len(kids) == 2, kids  # the child, and the adopted orphan
        child, orphan = sorted(kids, key=_start_time)
        proc.signal(signal.SIGUSR1)  # forwarded to the child, which cues the orphan
        wait_until(lambda: not Path(f"/proc/{orphan}").exists(), what=f"orphan {orphan} reaped")
        assert _children(proc.pid) == [child]
    finally:
        proc.stop()


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return sorted(found)


def _start_time(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[19])


def test_a_change_sends_the_reload_signal_after_validation(app: Path, tmp_path: Path) -> None:
    volume = tmp_path / "config"
    writer = AtomicWriter(volume)
    writer.write({"app.conf": "v1"})
    proc = kubereload(
        "run",
        "--dir",
        str(volume),
        "--validate",
        f"grep -qv broken {volume}/app.conf",
        "--",
        PY,
        str(app),
        str(volume / "app.conf"),
    )
    try:
        first = proc.wait_for(r"pid (\d+) loaded v1")
        proc.wait_for("watching")
        writer.write({"app.conf": "v2"})
        proc.wait_for("got SIGHUP")
        second = proc.wait_for(r"pid (\d+) loaded v2")
        assert first.group(1) == second.group(1)  # the same process, reloaded in place
        writer.write({"app.conf": "broken"})
        proc.wait_for("not reloading after change")
        writer.write({"app.conf": "v3"})
        proc.wait_for(r"loaded v3")
        assert "loaded broken" not in proc.output()
        assert proc.output().count("got SIGHUP") == 2
    finally:
        proc.stop()
    assert proc.popen.returncode == 0


def test_restart_mode_replaces_the_child_and_kills_a_stubborn_one(tmp_path: Path) -> None:
    volume = tmp_path / "config"
    writer = AtomicWriter(volume)
    writer.write({"app.conf": "v1"})
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        "import os, signal, sys\n"
        "signal.signal(signal.SIGTERM, lambda *a: print('ignoring TERM', flush=True))\n"
        f"print('pid', os.getpid(), 'loaded', open({str(volume / 'app.conf')!r}).read(),"
        " flush=True)\n"
        "while True:\n"
        "    signal.pause()\n"
    )
    proc = kubereload(
        "run",
        "--dir",
        str(volume),
        "--restart",
        "--stop-timeout",
        "300ms",
        "--",
        PY,
        str(stubborn),
    )
    try:
        first = int(proc.wait_for(r"pid (\d+) loaded v1").group(1))
        proc.wait_for("watching")
        writer.write({"app.conf": "v2"})
        proc.wait_for("ignoring TERM")
        proc.wait_for("did not stop within 0.3s: SIGKILL")
        second = int(proc.wait_for(r"pid (\d+) loaded v2").group(1))
        assert second != first and not Path(f"/proc/{first}").exists()
        proc.wait_for(r"reloaded after change")
        # the stop signal and SIGKILL were part of a restart: kubereload keeps running, and
        # exits only when the new child dies (with its code)
        assert proc.popen.poll() is None
        os.kill(second, signal.SIGKILL)
        assert proc.wait() == 128 + signal.SIGKILL
    finally:
        proc.stop()


def test_restart_mode_stops_gracefully_when_the_child_obeys(app: Path, tmp_path: Path) -> None:
    volume = tmp_path / "config"
    writer = AtomicWriter(volume)
    writer.write({"app.conf": "v1"})
    proc = kubereload(
        "run", "--file", str(volume / "app.conf"), "--restart",
        "--", PY, str(app), str(volume / "app.conf"),
    )  # fmt: skip
    try:
        first = proc.wait_for(r"pid (\d+) loaded v1").group(1)
        proc.wait_for("watching")
        writer.write({"app.conf": "v2"})
        proc.wait_for("got SIGTERM")
        second = proc.wait_for(r"pid (\d+) loaded v2").group(1)
        assert second != first
        assert "SIGKILL" not in proc.output()
    finally:
        proc.stop()
    assert proc.popen.returncode == 0  # SIGTERM forwarded, the child exited 0
