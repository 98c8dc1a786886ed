"""Programs run as real processes, and waits on the states they reach.

A test waits on the state it needs: a listening socket, an inotify watch on a directory, a file's
content, an HTTP answer, an API object, the process's exit. A log line is no such state: it can be
printed before what it announces is done (or read by us after), and a busy machine widens every
such gap. The output is collected all the same, to assert on the words a user reads: completely
once the process has stopped (``stop``, ``wait``), or with ``wait_logged`` when the message itself
is the behaviour under test and nothing else shows it.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from signal import SIGTERM
from typing import TypeVar

T = TypeVar("T")

KUBERELOAD = [sys.executable, "-m", "kubereload"]
TIMEOUT = 30.0  # generous: CI is a busy 2-core machine; only a failing test waits this long


def wait_until(predicate: Callable[[], T], timeout: float = TIMEOUT, what: str = "") -> T:
    """Check a state until it holds; return the (true) value it had then."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        pause.wait(0.01)


class Proc:
    """A running process; stdout and stderr are merged and collected line by line as they come.

    ``env`` is laid over this process's environment; a ``None`` value removes a variable.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str | None] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        merged = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name, value in (env or {}).items():
            if value is None:
                merged.pop(name, None)
            else:
                merged[name] = value
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=merged,
            cwd=cwd,
            text=True,
            errors="replace",
        )
        self._lines: list[str] = []
        self._times: list[float] = []  # perf_counter() when each line was read
        self._ended = False
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._cond:
                self._lines.append(line.rstrip("\n"))
                self._times.append(time.perf_counter())
                self._cond.notify_all()
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    # -- output ---------------------------------------------------------------------------------
    @property
    def lines(self) -> list[str]:
        with self._cond:
            return list(self._lines)

    def output(self, after: int = 0) -> str:
        """What it printed so far (everything, once it has stopped), from line ``after`` on."""
        with self._cond:
            return "\n".join(self._lines[after:])

    def mark(self) -> int:
        """A position in the output, for ``output(after=...)`` and ``wait_logged(after=...)``."""
        with self._cond:
            return len(self._lines)

    def wait_logged(
        self, pattern: str, *, count: int = 1, after: int = 0, timeout: float = TIMEOUT
    ) -> re.Match[str]:
        """Wait until ``count`` lines after ``after`` match ``pattern``; the last match.

        Only for a message that is itself the behaviour under test (what a user reads, where no
        other state shows it); to know that something happened, wait on that state instead.
        """
        regex = re.compile(pattern)

        def matches() -> list[re.Match[str]]:
            return [m for line in self._lines[after:] if (m := regex.search(line))]

        with self._cond:
            self._cond.wait_for(lambda: len(matches()) >= count or self._ended, timeout)
            found = matches()
            if len(found) < count:
                raise AssertionError(
                    f"{len(found)} of {count} line(s) matching {pattern!r} "
                    f"{'before the output ended' if self._ended else f'within {timeout}s'}; "
                    "output:\n" + "\n".join(self._lines)
                )
            return found[count - 1]

    def logged_at(self, pattern: str) -> float:
        """perf_counter() when the first line matching ``pattern`` was read (for benchmarks)."""
        regex = re.compile(pattern)
        with self._cond:
            return next(t for t, x in zip(self._times, self._lines, strict=True) if regex.search(x))

    # -- states ---------------------------------------------------------------------------------
    def listening_port(self, timeout: float = TIMEOUT) -> int:
        """The TCP port this process (or a process it started) listens on (``--listen
        127.0.0.1:0`` and the like), read from the kernel's socket table once it exists."""

        def ports_now() -> set[int]:
            self._alive()
            return {
                port for pid in [self.pid, *descendants(self.pid)] for port in listening_ports(pid)
            }

        ports = wait_until(ports_now, timeout, f"{self.argv[:4]} to listen on a TCP port")
        assert len(ports) == 1, f"listening on several ports: {sorted(ports)}"
        return next(iter(ports))

    def wait_watching(self, *paths: Path, timeout: float = TIMEOUT) -> None:
        """Wait until this process holds an inotify watch on each of ``paths``: from then on, a
        change there reaches it. A watch may be armed before the first read, so a change made
        at once can be taken as the initial content: where it must count as a change, also
        wait for the first read (``/readyz`` answering 200)."""
        wanted = {_inode(path) for path in paths}
        wait_until(
            lambda: self._alive() and wanted <= inotify_watches(self.pid),
            timeout,
            f"{self.argv[:4]} to watch {', '.join(map(str, paths))}",
        )

    def _alive(self) -> bool:
        """True while it runs; it failing is a test failure, with what it printed."""
        if self.popen.poll() is not None:
            raise AssertionError(
                f"{self.argv[:4]} exited with {self.popen.returncode}; output:\n{self.output()}"
            )
        return True

    # -- ending ---------------------------------------------------------------------------------
    def signal(self, sig: int) -> None:
        os.kill(self.popen.pid, sig)

    def wait(self, timeout: float = TIMEOUT) -> int:
        """Wait for the process to exit by itself; its code. The output is complete after."""
        code = self.popen.wait(timeout)
        self._reader.join(timeout)
        return code

    def stop(self, sig: int = SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` (if still running) and wait for the exit, killing it after ``timeout``;
        its code. The output is complete after."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._reader.join(timeout)
        return self.popen.returncode


def kubereload(
    *args: str, env: Mapping[str, str | None] | None = None, cwd: Path | None = None
) -> Proc:
    return Proc([*KUBERELOAD, *args], env=env, cwd=cwd)


def children(pid: int) -> list[int]:
    """The processes ``pid`` started (of any of its threads), oldest pid first."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(p) for p in (task / "children").read_text().split()]
    except OSError:  # it exited meanwhile
        return []
    return sorted(found)


def descendants(pid: int) -> list[int]:
    """Its children, their children, and so on."""
    out: list[int] = []
    for child in children(pid):
        out += [child, *descendants(child)]
    return out


def listening_ports(pid: int) -> set[int]:
    """TCP ports in LISTEN state on sockets that process ``pid`` holds open."""
    inodes = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # it exited meanwhile
        return set()
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: TCP_LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def inotify_watches(pid: int) -> set[tuple[int, int]]:
    """(device, inode) of everything process ``pid`` watches with inotify."""
    watches = set()
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            text = info.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("inotify wd:"):
                fields = dict(f.split(":", 1) for f in line.split()[1:])
                watches.add((int(fields["sdev"], 16), int(fields["ino"], 16)))
    return watches


def _inode(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    # the kernel prints a device as major << 20 | minor
    return (os.major(st.st_dev) << 20 | os.minor(st.st_dev), st.st_ino)


def free_port() -> int:
    """A port free now, for programs that must be told one (nginx); prefer port 0."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """Status and body; an error status is an answer too (``OSError`` when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` in a /metrics page whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, value = line.rsplit(" ", 1)
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            total += float(value)
    return total


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds process ``pid`` has used so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of process ``pid`` now (VmRSS), or its peak so far (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise ValueError(f"no {field} in /proc/{pid}/status")
