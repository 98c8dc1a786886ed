"""Hostile and unlucky cases for the sidecar's actions and for ``watch``/``run`` as processes:
commands that leave processes behind, signal targets that are not the program, signals that
used to kill kubereload, a child that will not stop. All with real processes and signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from kubereload.actions import (
    ActionError,
    Command,
    Exec,
    NullObserver,
    ReloadContext,
    ReloadPipeline,
    Signal,
    Validate,
)
from kubereload.actions.command import MAX_OUTPUT
from kubereload.server import StatusServer
from kubereload.server.telemetry import Telemetry
from kubereload.volume import AtomicWriter
from support.process import Proc, children, http_get, kubereload, wait_until

PY = sys.executable
CONTEXT = ReloadContext(("test",))


def _gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for an unrelated parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def _kill(pid_file: Path) -> None:
    """Kill the processes whose pids the file lists, one a line."""
    for line in pid_file.read_text().split() if pid_file.exists() else []:
        if not _gone(int(line)):
            os.kill(int(line), signal.SIGKILL)


def _run_in_thread(command: Command) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    thread = threading.Thread(target=lambda: out.append(command.run()), daemon=True)
    thread.start()
    return thread, out


def _metric(port: int, name: str, labels: str = "") -> float:
    _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    match = re.search(rf"^kubereload_{name}{re.escape(labels)} (\S+)$", body, re.M)
    return float(match.group(1)) if match else 0.0


# -- class 1: subprocesses -------------------------------------------------------------------


def test_validate_that_leaves_a_daemon_holding_its_output_does_not_block_reloads(
    tmp_path: Path,
) -> None:
    volume, marker, daemon = tmp_path / "config", tmp_path / "reloaded", tmp_path / "daemon.pid"
    writer = AtomicWriter(volume)
    writer.write({"app.conf": "v1"})
    validate = f"setsid sh -c 'echo $$ >> {daemon}; exec sleep 600' & echo checked; exit 0"
    proc = kubereload(
        "watch",
        "--dir",
        str(volume),
        "--exec-shell",
        "--validate",
        validate,
        "--exec",
        f"cat {volume}/app.conf >> {marker}",
        "--initial-reload",
        "--listen",
        "127.0.0.1:0",
    )
    try:
        port = proc.listening_port()
        wait_until(lambda: marker.exists() and marker.read_text() == "v1", 30, "first reload")
        writer.write({"app.conf": "v2"})
        wait_until(lambda: marker.read_text() == "v1v2", 30, "the reload after a change")
        wait_until(lambda: _metric(port, "reloads_total", '{result="success"}') == 2, 30)
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        proc.stop()
        _kill(daemon)


def test_exec_that_backgrounds_a_process_is_judged_by_its_own_exit(tmp_path: Path) -> None:
    background = tmp_path / "bg.pid"
    command = Command(f"sleep 20 & echo $! > {background}; echo started", shell=True, timeout=10)
    thread, out = _run_in_thread(command)
    thread.join(30)
    assert not thread.is_alive(), "the command exited, its background sleep must not be waited"
    result = out[0]
    assert result.code == 0 and result.output == "started\n"  # type: ignore[attr-defined]
    # what it left in its process group is killed (see actions/command.py), not leaked
    wait_until(lambda: _gone(int(background.read_text())), 10, "the leftover sleep killed")
    Exec(command).run(CONTEXT)  # and as an action it is a success


def test_a_failing_validate_keeps_its_exit_code_despite_a_detached_writer(tmp_path: Path) -> None:
    # The grandchild detaches (its own session) and writes for ever into the command's pipe.
    daemon = tmp_path / "writer.pid"
    line = f"setsid sh -c 'echo $$ > {daemon}; while :; do echo spam; done' & sleep 0.2; exit 3"
    thread, out = _run_in_thread(Command(line, shell=True, timeout=20))
    try:
        thread.join(30)
        assert not thread.is_alive(), "output capture must end a bounded time after the exit"
        result = out[0]
        assert result.code == 3  # type: ignore[attr-defined]
        assert 0 < len(result.output) <= MAX_OUTPUT  # type: ignore[attr-defined]
        with pytest.raises(ActionError, match="exit 3"):
            Validate(Command("sh -c 'exit 3'")).run(CONTEXT)
    finally:
        _kill(daemon)


def test_output_is_bounded_and_a_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    flood = Command(f"{PY} -c \"import sys; sys.stdout.write('x' * 50_000_000)\"", timeout=30)
    result = flood.run()
    assert result.code == 0 and len(result.output) == MAX_OUTPUT

    child = tmp_path / "child.pid"
    hung = Command(f"sleep 300 & echo $! > {child}; wait", shell=True, timeout=0.5)
    result = hung.run()
    assert result.code == -1 and "timed out after 0.5s" in result.output
    wait_until(lambda: _gone(int(child.read_text())), 10, "the timed-out command's child")


class _Blocked:
    """An action that hangs until released: a stand-in for a bug in a step."""

    kind = "exec"
    time_limit = 0.05

    def __init__(self) -> None:
        self.release = threading.Event()

    def describe(self) -> str:
        return "blocked"

    def run(self, context: ReloadContext) -> None:
        self.release.wait(60)


def test_a_stuck_reload_worker_shows_in_healthz() -> None:
    telemetry = Telemetry()
    blocked = _Blocked()
    pipeline = ReloadPipeline([blocked], observer=telemetry, stuck_margin=0.1)
    telemetry.health.add_probe("live", "reloader", pipeline.problem)
    server = StatusServer(("127.0.0.1", 0), telemetry.registry, telemetry.health)
    server.start()
    pipeline.start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    try:
        assert http_get(url)[0] == 200
        pipeline.submit("a")
        wait_until(lambda: http_get(url)[0] == 503, 10, "/healthz failing")
        assert "a reload has been running for" in http_get(url)[1]
        blocked.release.set()
        assert pipeline.wait_idle(10)
        assert http_get(url)[0] == 200
    finally:
        blocked.release.set()
        pipeline.close()
        server.close()


# -- class 2: signal targets -----------------------------------------------------------------


@pytest.mark.parametrize("pid", ["-1", "0", "SELF"])
def test_pids_that_mean_many_processes_or_kubereload_are_refused_at_start(
    tmp_path: Path, pid: str
) -> None:
    # a session leader, so its pid (SELF) is also its group's; -1 would reach this test too
    script = (
        "import os, sys, runpy; os.setsid()\n"
        "me = str(os.getpid())\n"
        "sys.argv = ['kubereload', *[a.replace('SELF', me) for a in sys.argv[1:]]]\n"
        "runpy.run_module('kubereload', run_name='__main__')\n"
    )
    args = ["watch", "--dir", str(tmp_path), "--signal", "HUP", f"--pid={pid}"]
    proc = Proc([PY, "-c", script, *args])
    assert proc.wait(30) == 2
    assert re.search(r"--pid\b.*(not a process|kubereload itself|process group)", proc.output())


def test_pid_one_needs_a_name(tmp_path: Path) -> None:
    proc = kubereload("watch", "--dir", str(tmp_path), "--signal", "HUP", "--pid", "1")
    assert proc.wait(30) == 2
    assert "pid 1 is the pod's pause process" in proc.output()


def _catcher() -> subprocess.Popen[str]:
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGHUP, lambda *a: print('got HUP', flush=True))\n"
        "print('ready', flush=True)\n"
        "while True: signal.pause()\n"
    )
    proc = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


@pytest.mark.parametrize("content", ["0", "000", "99999999999"])
def test_a_pid_file_holding_no_single_process_is_an_error_and_signals_nothing(
    tmp_path: Path, content: str
) -> None:
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(content + "\n")
    volume = tmp_path / "config"
    AtomicWriter(volume).write({"a": "1"})
    # in its own session: were group 0 signalled, kubereload would die of the SIGHUP
    proc = Proc(
        [
            "setsid",
            *[PY, "-m", "kubereload", "watch", "--dir", str(volume), "--signal", "HUP"],
            *["--pid-file", str(pid_file), "--initial-reload", "--listen", "127.0.0.1:0"],
        ]
    )
    try:
        port = proc.listening_port()
        wait_until(lambda: _metric(port, "reloads_total", '{result="failure"}') == 1, 30)
        assert proc.popen.poll() is None
        assert not re.search(r"sent SIGHUP", proc.output())
    finally:
        proc.stop()
    assert proc.popen.returncode == 0


def test_a_pid_file_naming_pid_one_signals_nothing(tmp_path: Path) -> None:
    """In a pid namespace of its own, as in a pod with shareProcessNamespace: pid 1 is a
    stand-in for the pause process, which records any SIGHUP it gets."""
    pid_file, got = tmp_path / "app.pid", tmp_path / "pid1-got-hup"
    pid_file.write_text("1\n")
    volume = tmp_path / "config"
    AtomicWriter(volume).write({"a": "1"})
    pause = (
        "import signal, subprocess, sys\n"
        f"signal.signal(signal.SIGHUP, lambda *a: open({str(got)!r}, 'w').close())\n"
        "child = subprocess.Popen(sys.argv[1:])\n"
        "sys.exit(child.wait())\n"
    )
    argv = [PY, "-m", "kubereload", "watch", "--dir", str(volume), "--signal", "HUP"]
    argv += ["--pid-file", str(pid_file), "--initial-reload", "--listen", "127.0.0.1:0"]
    # --kill-child: when unshare is stopped, pid 1 of the namespace (and so all in it) dies too
    unshare = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
    if subprocess.run([*unshare, "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no pid namespace here (unshare needs root or user namespaces)")
    proc = Proc([*unshare, PY, "-c", pause, *argv])
    try:
        port = proc.listening_port()
        wait_until(lambda: _metric(port, "reloads_total", '{result="failure"}') == 1, 30)
        assert not got.exists()
    finally:
        proc.stop()
    assert "pid 1 is the pod's pause process" in proc.output()


def test_a_stale_pid_file_whose_pid_was_reused_is_not_signalled(tmp_path: Path) -> None:
    pid_file = tmp_path / "app.pid"
    pid_file.write_text("placeholder")
    os.utime(pid_file, (1_000_000_000, 1_000_000_000))  # written long before the process below
    newcomer = _catcher()
    try:
        pid_file.write_text(str(newcomer.pid))
        os.utime(pid_file, (1_000_000_000, 1_000_000_000))
        with pytest.raises(ActionError, match="stale"):
            Signal(signal.SIGHUP, pid_file=pid_file).run(CONTEXT)
        os.utime(pid_file)  # the program writes its pid file after it started: accepted
        Signal(signal.SIGHUP, pid_file=pid_file).run(CONTEXT)
        assert newcomer.stdout is not None and newcomer.stdout.readline() == "got HUP\n"
    finally:
        newcomer.kill()
        newcomer.wait()


def test_process_name_beside_a_pid_must_match(tmp_path: Path) -> None:
    target = _catcher()
    try:
        with pytest.raises(ActionError, match="not 'nginx'"):
            Signal(signal.SIGHUP, pid=target.pid, process_name="nginx").run(CONTEXT)
        name = Path(PY).name
        Signal(signal.SIGHUP, pid=target.pid, process_name=name).run(CONTEXT)
        assert target.stdout is not None and target.stdout.readline() == "got HUP\n"
    finally:
        target.kill()
        target.wait()


def test_a_gone_process_is_an_error_not_a_success(tmp_path: Path) -> None:
    first = _catcher()
    action = Signal(signal.SIGHUP, pid=first.pid)
    action.run(CONTEXT)
    assert first.stdout is not None and first.stdout.readline() == "got HUP\n"
    first.kill()
    # not yet reaped: still in the process table as a zombie, and kill() would succeed
    wait_until(lambda: _gone(first.pid), 10)
    with pytest.raises(ActionError, match="does not exist"):
        action.run(CONTEXT)
    first.wait()
    with pytest.raises(ActionError, match="does not exist"):
        action.run(CONTEXT)


# -- class 9: signals to kubereload, and a child that will not stop --------------------------


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2])
def test_watch_survives_hup_and_usr_signals_and_says_so(tmp_path: Path, sig: int) -> None:
    volume, marker = tmp_path / "config", tmp_path / "reloaded"
    writer = AtomicWriter(volume)
    writer.write({"a": "1"})
    proc = kubereload(
        "watch", "--dir", str(volume), "--exec", f"touch {marker}", "--listen", "127.0.0.1:0"
    )
    try:
        port = proc.listening_port()
        proc.signal(sig)
        # that it says so is the behaviour: nothing else changes
        proc.wait_logged(rf"{signal.Signals(sig).name} received: ignored")
        assert proc.popen.poll() is None
        writer.write({"a": "2"})  # and it still reloads
        wait_until(marker.exists, 30, "a reload after the signal")
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        proc.stop()
    assert proc.popen.returncode == 0


def test_run_kills_a_child_that_ignores_the_stop_signal(tmp_path: Path) -> None:
    stubborn = tmp_path / "stubborn.py"
    stubborn.write_text(
        "import os, signal\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "open(os.environ['READY'], 'w').close()\n"
        "while True:\n"
        "    signal.pause()\n"
    )
    ready = tmp_path / "ready"
    proc = kubereload(
        "run", "--stop-timeout", "500ms", "--", PY, str(stubborn), env={"READY": str(ready)}
    )
    try:
        wait_until(ready.exists, what="the child ignoring SIGTERM")
        [child] = children(proc.pid)
        proc.signal(signal.SIGTERM)
        assert proc.wait(30) == 128 + signal.SIGKILL
        assert _gone(child)
        assert "did not stop within 0.5s: SIGKILL" in proc.output()
    finally:
        proc.stop()


@pytest.mark.parametrize("bad", [float("inf"), float("nan"), -1.0, 1e12])
def test_the_library_refuses_durations_that_would_crash_a_wait(bad: float) -> None:
    """Flags are checked at parse time; the same objects built from code check their numbers."""
    from kubereload.actions import WebhookOptions
    from kubereload.supervise import Supervisor

    with pytest.raises(ValueError, match="timeout"):
        Command("true", timeout=bad)
    with pytest.raises(ValueError, match="webhook timeout"):
        WebhookOptions("http://127.0.0.1:1/", timeout=bad).build(NullObserver())
    with pytest.raises(ValueError, match="jitter"):
        ReloadPipeline([], jitter=bad)
    with pytest.raises(ValueError, match="stop timeout"):
        Supervisor(["true"], stop_timeout=bad)
