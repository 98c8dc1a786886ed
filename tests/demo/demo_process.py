"""Running the real ``kubereload demo`` command and reading what it prints, line by line."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

BIN = Path(sys.executable).parent / "kubereload"
COMMAND = [str(BIN)] if BIN.exists() else [sys.executable, "-m", "kubereload"]
TIMEOUT = 10.0
URL = re.compile(r"serving (http://127\.0\.0\.1:(\d+)/)")


def demo_env(tmp_path: Path) -> dict[str, str]:
    """TMPDIR points into the test's own directory, so the shared demo volume is never touched."""
    return {**os.environ, "TMPDIR": str(tmp_path)}


def run(args: list[str], env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


class Response:
    def __init__(self, status: int, body: str, version: str | None) -> None:
        self.status = status
        self.body = body
        self.version = version


class Demo:
    """A ``kubereload demo`` process; stdout and stderr merged, collected by a reader thread."""

    def __init__(self, args: list[str], env: Mapping[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*COMMAND, "demo", "--port", "0", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            line = self.wait_for("serving http://")
        except BaseException:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
            raise
        match = URL.search(line)
        assert match, line
        self.url = match.group(1)
        self.port = int(match.group(2))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<EOF>")
            self._cond.notify_all()

    def mark(self) -> int:
        """A position in the output: ``wait_for`` after it ignores earlier lines."""
        with self._cond:
            return len(self.lines)

    def wait_for(self, text: str, after: int = 0) -> str:
        """The first line after ``after`` that contains ``text``; fails at end of output."""

        def found() -> str | None:
            for line in self.lines[after:]:
                if text in line:
                    return line
            return "<EOF>" if "<EOF>" in self.lines[after:] else None

        with self._cond:
            line = self._cond.wait_for(found, TIMEOUT)
        assert line and line != "<EOF>", f"{text!r} never printed; output:\n" + self.output()
        return line

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def get(self, path: str = "/") -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return Response(resp.status, resp.read().decode(), resp.getheader("X-Config-Version"))
        finally:
            conn.close()

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the process to exit; returns its exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        return code
