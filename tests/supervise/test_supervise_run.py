"""``kubereload run`` as a real process: exit codes, signal forwarding, reaping, reload, restart."""

from __future__ import annotations

import os
import re
import signal
import sys
from pathlib import Path

import pytest

from kubereload.volume import AtomicWriter
from support.process import http_get, kubereload, wait_until

PY = sys.executable

# A child that reloads its config on SIGHUP and reports every signal it gets: to the file named
# by $EVENTS, one line each, which the tests wait on.
APP = """
import os, signal, sys, threading
config = sys.argv[1] if len(sys.argv) > 1 else None
def say(line):
    with open(os.environ["EVENTS"], "a") as events:
        events.write(line + "\\n")
def load():
    text = open(config).read().strip() if config else "-"
    say(f"pid {os.getpid()} loaded {text}")
def on_signal(signum, frame):
    name = signal.Signals(signum).name
    say(f"got {name}")
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


class Events:
    """The lines a child wrote to its events file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {"EVENTS": str(path)}

    def lines(self) -> list[str]:
        return self.path.read_text().splitlines() if self.path.exists() else []

    def wait(self, pattern: str, count: int = 1) -> re.Match[str]:
        """Wait until ``count`` lines match; the last match."""
        regex = re.compile(pattern)

        def hits() -> list[re.Match[str]]:
            return [m for line in self.lines() if (m := regex.search(line))]

        wait_until(
            lambda: len(hits()) >= count,
            what=f"{count} line(s) matching {pattern!r} in {self.path}",
        )
        return hits()[count - 1]


@pytest.fixture
def events(tmp_path: Path) -> Events:
    return Events(tmp_path / "events")


def ready(port: int) -> bool:
    return http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200


def metric(port: int, line: str) -> bool:
    return line in http_get(f"http://127.0.0.1:{port}/metrics")[1].splitlines()


def test_exit_code_is_the_childs(tmp_path: Path) -> None:
    assert kubereload("run", "--", PY, "-c", "raise SystemExit(7)").wait() == 7
    killed = kubereload("run", "--", PY, "-c", "import os, signal; os.kill(os.getpid(), 9)")
    assert killed.wait() == 128 + 9
    missing = kubereload("run", "--", "/nonexistent/program")
    assert missing.wait() == 127
    assert "cannot start /nonexistent/program" in missing.output()


def test_signals_are_forwarded(app: Path, events: Events) -> None:
    proc = kubereload("run", "--", PY, str(app), env={"EXIT_ON_TERM": "3", **events.env})
    try:
        events.wait(r"loaded -")
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGQUIT):
            proc.signal(sig)
            events.wait(f"got {sig.name}")
        proc.signal(signal.SIGTERM)
        assert proc.wait() == 3
        events.wait("got SIGTERM")
    finally:
        proc.stop()


def test_orphaned_grandchildren_are_reaped(tmp_path: Path) -> None:
    # The child starts a grandchild through a parent that exits at once: an orphan, adopted by
    # kubereload (PID 1 in a container; a subreaper here), which must reap it when it exits.
    script = tmp_path / "spawner.py"
    script.write_text(
        "import os, signal, sys\n"
        "r, w = os.pipe()\n"
        "signal.signal(signal.SIGUSR1, lambda *a: os.write(w, b'x'))\n"
        "if os.fork() == 0:\n"
        "    if os.fork() == 0:\n"
        "        os.close(w)\n"
        "        os.read(r, 1)\n"  # the orphan waits for its cue, then exits
        "        os._exit(0)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "open(sys.argv[1], 'w').close()\n"  # the orphan is ready
        "while True:\n"
        "    signal.pause()\n"
    )
    ready = tmp_path / "orphan-ready"
    proc = kubereload("run", "--", PY, str(script), str(ready))
    try:
        wait_until(ready.exists, what="the orphan started")
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


def test_a_change_sends_the_reload_signal_after_validation(
    app: Path, tmp_path: Path, events: Events
) -> None:
    volume = tmp_path / "config"
    writer = AtomicWriter(volume)
    writer.write({"app.conf": "v1"})
    proc = kubereload(
        "run",
        "--dir",
        str(volume),
        "--validate",
        f"grep -qv broken {volume}/app.conf",
        "--listen",
        "127.0.0.1:0",
        "--",
        PY,
        str(app),
        str(volume / "app.conf"),
        env=events.env,
    )
    try:
        first = events.wait(r"pid (\d+) loaded v1")
        port = proc.listening_port()
        proc.wait_watching(volume)
        wait_until(lambda: ready(port), what="the first read")
        writer.write({"app.conf": "v2"})
        events.wait("got SIGHUP")
        second = events.wait(r"pid (\d+) loaded v2")
        assert first.group(1) == second.group(1)  # the same process, reloaded in place
        writer.write({"app.conf": "broken"})
        wait_until(lambda: metric(port, 'kubereload_reloads_total{result="invalid"} 1'))
        writer.write({"app.conf": "v3"})
        events.wait(r"loaded v3")
        assert not [x for x in events.lines() if "loaded broken" in x]
        assert events.lines().count("got SIGHUP") == 2
    finally:
        proc.stop()
    assert proc.popen.returncode == 0
    assert "not reloading after change" in proc.output()


def test_restart_mode_replaces_the_child_and_kills_a_stubborn_one(
    tmp_path: Path, events: Events
) -> None:
    volume = tmp_path / "config"
    writer = AtomicWriter(volume)
    writer.write({"app.conf": "v1"})
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        "import os, signal, sys\n"
        "def say(line):\n"
        "    with open(os.environ['EVENTS'], 'a') as events:\n"
        "        events.write(line + '\\n')\n"
        "signal.signal(signal.SIGTERM, lambda *a: say('ignoring TERM'))\n"
        f"config = {str(volume / 'app.conf')!r}\n"
        "say('pid %d loaded %s' % (os.getpid(), open(config).read()))\n"
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
        "--listen",
        "127.0.0.1:0",
        "--",
        PY,
        str(stubborn),
        env=events.env,
    )
    try:
        first = int(events.wait(r"pid (\d+) loaded v1").group(1))
        port = proc.listening_port()
        proc.wait_watching(volume)
        wait_until(lambda: ready(port), what="the first read")
        writer.write({"app.conf": "v2"})
        events.wait("ignoring TERM")
        second = int(events.wait(r"pid (\d+) loaded v2").group(1))
        assert second != first and not Path(f"/proc/{first}").exists()
        wait_until(lambda: metric(port, 'kubereload_reloads_total{result="success"} 1'))
        # the stop signal and SIGKILL were part of a restart: kubereload keeps running, and
        # exits only when the new child dies (with its code)
        assert proc.popen.poll() is None
        os.kill(second, signal.SIGKILL)
        assert proc.wait() == 128 + signal.SIGKILL
    finally:
        proc.stop()
    said = proc.output()
    assert "did not stop within 0.3s: SIGKILL" in said
    assert "reloaded after change" in said


def test_restart_mode_stops_gracefully_when_the_child_obeys(
    app: Path, tmp_path: Path, events: Events
) -> None:
    volume = tmp_path / "config"
    writer = AtomicWriter(volume)
    writer.write({"app.conf": "v1"})
    proc = kubereload(
        "run", "--file", str(volume / "app.conf"), "--restart", "--listen", "127.0.0.1:0",
        "--", PY, str(app), str(volume / "app.conf"), env=events.env,
    )  # fmt: skip
    try:
        first = events.wait(r"pid (\d+) loaded v1").group(1)
        proc.wait_watching(volume)  # a file is watched through its folder
        wait_until(lambda: ready(proc.listening_port()), what="the first read")
        writer.write({"app.conf": "v2"})
        events.wait("got SIGTERM")
        second = events.wait(r"pid (\d+) loaded v2").group(1)
        assert second != first
    finally:
        proc.stop()
    assert "SIGKILL" not in proc.output()
    assert proc.popen.returncode == 0  # SIGTERM forwarded, the child exited 0
