"""The reload pipeline: validate first, actions in order, changes coalesced; commands and signals
run for real."""

from __future__ import annotations

import os
import shutil
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
    ReloadContext,
    ReloadPipeline,
    ReloadResult,
    Signal,
    Validate,
    find_processes,
    parse_signal,
)
from kubereload.server import Telemetry


class Collect(Telemetry):
    """Telemetry that also lets a test wait for reload results."""

    def __init__(self) -> None:
        super().__init__(unready_on_failure=True)
        self.results: list[ReloadResult] = []
        self.cond = threading.Condition()

    def reload_finished(self, result: ReloadResult) -> None:
        super().reload_finished(result)
        with self.cond:
            self.results.append(result)
            self.cond.notify_all()

    def wait_results(self, n: int) -> list[ReloadResult]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.results) >= n, 10), self.results
            return list(self.results)


def test_validate_gates_the_actions_and_the_next_good_change_reloads(tmp_path: Path) -> None:
    config = tmp_path / "app.conf"
    log = tmp_path / "reloads"
    check = Validate(Command(f"grep -q '^ok' {config}"))
    record = Exec(Command(f"sh -c 'cat {config} >> {log}'"))
    telemetry = Collect()
    pipeline = ReloadPipeline([record], validate=check, observer=telemetry)

    config.write_text("broken\n")
    bad = pipeline.reload_now(["app"])
    assert (bad.ok, bad.stage) == (False, "validate")
    assert "exit 1" in (bad.error or "")
    assert not log.exists()
    assert telemetry.validation_failures.value() == 1
    assert not telemetry.health.healthy("ready")  # --unready-on-failure

    config.write_text("ok v2\n")
    good = pipeline.reload_now(["app"])
    assert good.ok and log.read_text() == "ok v2\n"
    assert telemetry.reloads.value(result="success") == 1
    assert telemetry.reloads.value(result="invalid") == 1
    assert telemetry.last_success.value() == 1
    assert telemetry.health.healthy("ready")


def test_changes_on_several_sources_at_once_reload_once(tmp_path: Path) -> None:
    telemetry = Collect()
    marker = tmp_path / "count"
    pipeline = ReloadPipeline(
        [Exec(Command(f"sh -c 'echo x >> {marker}'"))],
        observer=telemetry,
        sources=["a", "b", "c"],
        coalesce=5.0,  # ended early: every source changed
    )
    pipeline.start()
    try:
        for name in ("a", "b", "c"):
            pipeline.submit(name)
        (result,) = telemetry.wait_results(1)
        assert pipeline.wait_idle(10)
    finally:
        pipeline.close()
    assert result.sources == ("a", "b", "c") and result.ok
    assert marker.read_text() == "x\n"
    assert len(telemetry.results) == 1


def test_actions_run_in_order_and_a_failure_does_not_skip_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = Exec(Command(f"sh -c 'echo one >> {out}'"))
    failing = Exec(Command("sh -c 'echo broken >&2; exit 4'"))
    last = Exec(Command(f"sh -c 'echo two >> {out}'"))
    result = ReloadPipeline([first, failing, last]).reload_now(["x"])
    assert out.read_text() == "one\ntwo\n"
    assert not result.ok and result.stage == "action"
    assert "exited 4: broken" in (result.error or "")


def test_exec_uses_no_shell_unless_asked(tmp_path: Path) -> None:
    plain = Command("echo $HOME 'two words'").run()
    assert plain.output == "$HOME two words\n"
    shell = Command("echo $KUBERELOAD_CHANGED | tr a-z A-Z", shell=True).run(
        {"KUBERELOAD_CHANGED": "conf"}
    )
    assert shell.output == "CONF\n"
    missing = Command("/nonexistent/tool --x").run()
    assert missing.code == 127 and "cannot run" in missing.output
    slow = Command(f"{sys.executable} -c 'import time; time.sleep(30)'", timeout=0.2).run()
    assert slow.code == -1 and "timed out" in slow.output


_CATCHER = """
import signal, sys, threading
got = threading.Event()
signal.signal(signal.SIGHUP, lambda *a: got.set())
print("ready", flush=True)
got.wait(20)
print("got HUP", flush=True)
"""


def _catcher(argv0: str | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [argv0 or sys.executable, "-c", _CATCHER], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def test_signal_by_pid_file(tmp_path: Path) -> None:
    proc = _catcher()
    pid_file = tmp_path / "app.pid"
    pid_file.write_text(f"{proc.pid}\n")
    Signal(signal.SIGHUP, pid_file=pid_file).run(ReloadContext(("c",)))
    assert proc.stdout is not None and proc.stdout.readline() == "got HUP\n"
    assert proc.wait(5) == 0
    with pytest.raises(ActionError, match="does not exist"):
        Signal(signal.SIGHUP, pid_file=pid_file).run(ReloadContext(("c",)))
    pid_file.write_text("garbage")
    with pytest.raises(ActionError, match="does not hold a pid"):
        Signal(signal.SIGHUP, pid_file=pid_file).run(ReloadContext(("c",)))


def test_signal_by_process_name_hits_only_the_top_of_the_tree(tmp_path: Path) -> None:
    # A uniquely named interpreter whose child has the same name: like nginx's master + workers.
    name = f"krtest{os.getpid() % 100000}"
    binary = tmp_path / name
    shutil.copy(sys.executable, binary)
    code = (
        "import signal, subprocess, sys, threading\n"
        "got = threading.Event()\n"
        "signal.signal(signal.SIGHUP, lambda *a: got.set())\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        "print(child.pid, flush=True)\n"
        "got.wait(20)\n"
        "child.kill()\n"
        "print('got HUP', flush=True)\n"
    )
    env = {**os.environ, "PYTHONHOME": sys.base_prefix, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([str(binary), "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        worker = int(proc.stdout.readline())
        assert find_processes(name) == [proc.pid]
        assert worker not in find_processes(name)
        Signal(signal.SIGHUP, process_name=name).run(ReloadContext(("c",)))
        assert proc.stdout.readline() == "got HUP\n"
    finally:
        proc.kill()
        proc.wait()
    with pytest.raises(ActionError, match="shareProcessNamespace"):
        Signal(signal.SIGHUP, process_name=name + "-none").run(ReloadContext(("c",)))


def test_signal_names() -> None:
    assert parse_signal("hup") is signal.SIGHUP
    assert parse_signal("SIGUSR1") is signal.SIGUSR1
    assert parse_signal("15") is signal.SIGTERM
    with pytest.raises(ValueError, match="unknown signal"):
        parse_signal("RELOAD")
