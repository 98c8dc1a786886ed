"""``--signal SIG`` to a process: by ``--pid``, ``--pid-file`` (read at every reload, since the
program may have restarted) or ``--process-name`` (looked up in ``/proc``; in Kubernetes the
pod needs ``shareProcessNamespace: true`` for the sidecar to see the app's processes).

By name, only the top of each matching process tree is signalled: nginx's master gets the HUP,
not its workers (whose parent is the master, also named ``nginx``).

A pid is only a number, and a dangerous one: ``kill(-1)`` reaches every process we may signal,
``kill(0)`` our own process group, and a pid whose process is gone is soon another process's.
So: pids below 1, kubereload's own pid and its process group are refused; pid 1 (the pod's
pause process, or an init) only when ``--process-name`` names it; with ``--process-name`` beside
``--pid``/``--pid-file`` the process must have that name; a pid file's process must have
started before the file was written (else the pid was reused); a ``--pid`` must stay the process
it was when first signalled. The signal goes through a pidfd opened before these checks, so it
reaches the process that was checked or none. A process that is gone is an error.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from signal import Signals

from kubereload.actions import procfs
from kubereload.actions.base import ActionError, Observer, ReloadContext
from kubereload.actions.spec import FILE, REQUIRED, Value, option

log = logging.getLogger(__name__)

PROC = procfs.PROC
PID_MAX = 4194304  # the kernel's largest pid_max (2**22)
PID_FILE_MAX = 64  # bytes read from a pid file
CLOCK_SLACK = 1.0  # seconds between a process starting and a pid file's mtime we tolerate


def parse_signal(value: str) -> signal.Signals:
    """``HUP``, ``SIGHUP``, ``hup`` or ``1`` -> ``signal.SIGHUP``."""
    text = value.strip().upper()
    try:
        if text.isdigit():
            return signal.Signals(int(text))
        return signal.Signals[text if text.startswith("SIG") else "SIG" + text]
    except (KeyError, ValueError):
        raise ValueError(f"unknown signal {value!r} (e.g. HUP, SIGUSR1, 15)") from None


def refuse_pid(pid: int, *, named: bool = False) -> str | None:
    """Why ``pid`` may not be a signal target, or None. ``named``: a process name is checked."""
    if pid <= 0:
        return f"pid {pid} is not a process (0 and below mean process groups or every process)"
    if pid > PID_MAX:
        return f"pid {pid} is larger than any pid"
    if pid == os.getpid():
        return f"pid {pid} is kubereload itself"
    if pid == os.getpgrp():
        return f"pid {pid} leads kubereload's own process group"
    if pid == 1 and not named:
        return (
            "pid 1 is the pod's pause process or the container's init: "
            "to signal it, name it with --process-name"
        )
    return None


def parse_pid(text: str) -> int:
    """A ``--pid`` value: a single process that is not kubereload (pid 1 is judged later, when
    it is known whether ``--process-name`` names it)."""
    value = text.strip()
    if not value.lstrip("-").isdigit():
        raise ValueError(f"{value[:20]!r} is not a pid (a whole number)")
    pid = int(value)
    why = refuse_pid(pid, named=True)
    if why:
        raise ValueError(why)
    return pid


def find_processes(name: str, proc: Path = PROC) -> list[int]:
    """Pids whose name (``comm`` or argv[0]'s base name) is ``name`` and whose parent's is not."""
    me = os.getpid()
    matches = {
        info.pid: info.ppid
        for info in procfs.all_processes(proc)
        if info.pid != me and not info.exited and procfs.has_name(info, name, proc)
    }
    return sorted(pid for pid, ppid in matches.items() if ppid not in matches)


def _boot_time() -> float:
    """Wall-clock time of boot, to 10 ms (``/proc/stat``'s ``btime`` is whole seconds)."""
    uptime = float((PROC / "uptime").read_text().split()[0])
    return time.time() - uptime


@contextlib.contextmanager
def _pidfd(pid: int) -> Iterator[int | None]:
    """A handle on the process now called ``pid`` (None where the kernel has no pidfd)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise ActionError(f"process {pid} does not exist", reason="target") from None
    except (OSError, AttributeError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


@dataclass(frozen=True)
class SignalOptions:
    """``--signal SIG`` and the one process it goes to."""

    signal: Signals = option(
        REQUIRED,
        "--signal",
        "send SIG (HUP, USR1, ...) to the process given by one of:",
        Value("SIG", parse_signal),
    )
    pid: int | None = option(
        None, "--pid", "  ... this pid", Value("PID", parse_pid), needs_primary=True
    )
    pid_file: Path | None = option(
        None, "--pid-file", "  ... the pid in FILE (read at each reload)", FILE, needs_primary=True
    )
    process_name: str | None = option(
        None,
        "--process-name",
        "  ... the process called NAME (shareProcessNamespace: true)",
        Value("NAME"),
        needs_primary=True,
    )

    def build(self, observer: Observer) -> Signal:
        return Signal(
            self.signal, pid=self.pid, pid_file=self.pid_file, process_name=self.process_name
        )


class Signal:
    """Send one signal to the target process(es)."""

    kind = "signal"

    def __init__(
        self,
        sig: signal.Signals,
        *,
        pid: int | None = None,
        pid_file: Path | None = None,
        process_name: str | None = None,
    ) -> None:
        if pid is not None and pid_file is not None:
            raise ValueError("--signal takes one of --pid and --pid-file, not both")
        if pid is None and pid_file is None and process_name is None:
            raise ValueError("--signal needs --pid, --pid-file or --process-name")
        if pid is not None and (why := refuse_pid(pid, named=process_name is not None)):
            raise ValueError(f"--pid: {why}")
        self.signal = sig
        self.pid = pid
        self.pid_file = pid_file
        self.process_name = process_name
        self._first_start: int | None = None  # start time of --pid when first signalled

    def describe(self) -> str:
        if self.pid is not None:
            target = f"pid {self.pid}"
        elif self.pid_file is not None:
            target = f"pid file {self.pid_file}"
        else:
            return f"signal: {self.signal.name} to process {self.process_name!r}"
        named = f" (named {self.process_name!r})" if self.process_name else ""
        return f"signal: {self.signal.name} to {target}{named}"

    def _read_pid_file(self) -> tuple[int, float]:
        """The pid in the file, and the file's mtime."""
        assert self.pid_file is not None
        try:
            with self.pid_file.open("rb") as f:
                raw = f.read(PID_FILE_MAX + 1)
                mtime = os.fstat(f.fileno()).st_mtime
        except OSError as exc:
            raise ActionError(
                f"cannot read pid file {self.pid_file}: {exc.strerror or 'error'}",
                reason="target",
            ) from None
        text = raw.strip()
        if len(raw) > PID_FILE_MAX or not text.isdigit():
            raise ActionError(
                f"pid file {self.pid_file} does not hold a pid (a decimal number)",
                reason="target",
            )
        pid = int(text)
        if why := refuse_pid(pid, named=self.process_name is not None):
            raise ActionError(f"pid file {self.pid_file}: {why}", reason="target")
        return pid, mtime

    def _check(self, pid: int, pid_file_mtime: float | None) -> procfs.ProcessInfo:
        """The process ``pid`` if it is still the one meant; else ActionError."""
        info = procfs.stat(pid)
        if info is None or info.exited:
            raise ActionError(f"process {pid} does not exist (it has exited)", reason="target")
        if self.process_name is not None and not procfs.has_name(info, self.process_name):
            raise ActionError(
                f"process {pid} is {info.name!r}, not {self.process_name!r}", reason="target"
            )
        if pid_file_mtime is not None:
            started = _boot_time() + info.start_ticks / os.sysconf("SC_CLK_TCK")
            if started > pid_file_mtime + CLOCK_SLACK:
                raise ActionError(
                    f"process {pid} started after pid file {self.pid_file} was written: "
                    "the pid is stale (the program is gone, another process has its pid)",
                    reason="target",
                )
        elif self.pid is not None:
            if self._first_start is None:
                self._first_start = info.start_ticks
            elif info.start_ticks != self._first_start:
                raise ActionError(
                    f"process {pid} is no longer the one first signalled (the pid was reused)",
                    reason="target",
                )
        return info

    def _targets(self) -> list[tuple[int, float | None]]:
        if self.pid is not None:
            return [(self.pid, None)]
        if self.pid_file is not None:
            pid, mtime = self._read_pid_file()
            return [(pid, mtime)]
        assert self.process_name is not None
        pids = [p for p in find_processes(self.process_name) if not refuse_pid(p, named=True)]
        if not pids:
            raise ActionError(
                f"no process named {self.process_name!r} is visible (in Kubernetes, set "
                "shareProcessNamespace: true on the pod)",
                reason="target",
            )
        return [(pid, None) for pid in pids]

    def run(self, context: ReloadContext) -> None:
        try:
            self._send()
        except ActionError as exc:
            raise ActionError(f"{self.describe()}: {exc}", reason=exc.reason) from None

    def _send(self) -> None:
        for pid, mtime in self._targets():
            with _pidfd(pid) as fd:
                info = self._check(pid, mtime)
                try:
                    if fd is None:
                        os.kill(pid, self.signal)
                    else:
                        signal.pidfd_send_signal(fd, self.signal)
                except ProcessLookupError:
                    raise ActionError(
                        f"process {pid} does not exist (it has exited)", reason="target"
                    ) from None
                except PermissionError:
                    raise ActionError(
                        f"not allowed to signal process {pid} (run as the same user, or grant "
                        "CAP_KILL)",
                        reason="permission",
                    ) from None
            log.info("sent %s to process %d (%s)", self.signal.name, pid, info.name)
